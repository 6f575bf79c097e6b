import type { HealthChecker, HealthTracker } from "../metrics/health-checker.js";
import type { Leadership } from "../platform/db/leader-lock.js";

/** Work that runs on one broker of those sharing a database: started when it leads, stopped when it no longer does. */
export interface BackgroundJob {
  /** For the logs. */
  name: string;
  /** Starts the job; called again after a `stop()` when this broker leads again. */
  start(): void | Promise<void>;
  /** Stops the job and waits for its work in flight. */
  stop(): Promise<void>;
}

/** What {@link createBackgroundWork} logs. */
export interface BackgroundLog {
  error(object: object, message: string): void;
}

/** Options of {@link createBackgroundWork}. */
export interface BackgroundWorkOptions {
  leadership: Leadership;
  jobs: readonly BackgroundJob[];
  log: BackgroundLog;
  /** Told of every change of leadership (the metrics' gauge). */
  onLeading?: (leading: boolean) => void;
}

/** The background jobs and the leadership they follow. */
export interface BackgroundWork {
  /**
   * Starts trying to lead; the jobs start once this broker leads. Resolves when the jobs are
   * started if it leads at once (a sole broker), else at once.
   */
  start(): Promise<void>;
  /** Stops the jobs, then gives the lead up (the lock is held until the last job is stopped). */
  stop(): Promise<void>;
}

/**
 * Runs `jobs` while `leadership` says this broker leads. Changes are applied one at a time in the
 * order they happen: a lead lost while the jobs are starting stops them once started, and jobs
 * are never started twice nor stopped before they started.
 */
export function createBackgroundWork(options: BackgroundWorkOptions): BackgroundWork {
  const { leadership, jobs, log } = options;
  let running = false;
  let closed = false;
  let queue: Promise<void> = Promise.resolve();

  const apply = async (): Promise<void> => {
    const want = leadership.isLeader() && !closed;
    if (want === running) return;
    running = want;
    await Promise.all(
      jobs.map(async (job) => {
        try {
          await (want ? job.start() : job.stop());
        } catch (error) {
          log.error(
            { err: error, job: job.name },
            want ? "background job failed to start" : "background job failed to stop",
          );
        }
      }),
    );
  };
  const enqueue = (): Promise<void> => {
    queue = queue.then(apply);
    return queue;
  };

  const unsubscribe = leadership.onChange((leading) => {
    options.onLeading?.(leading);
    void enqueue();
  });
  options.onLeading?.(leadership.isLeader());

  return {
    start() {
      leadership.start();
      return enqueue();
    },
    async stop() {
      closed = true;
      await enqueue();
      unsubscribe();
      await leadership.stop();
      options.onLeading?.(false);
    },
  };
}

/**
 * The sellers' health checks as a background job: a fresh checker each time this broker comes to
 * lead (one stopped is done), loading every listing to check from the store. As a tracker, it
 * passes registrations and status changes to the running checker; a follower passes them to the
 * leader through `leadership` (best effort: the leader's checker also reloads its listings from
 * the store every 5 minutes).
 */
export function healthCheckJob(
  create: () => HealthChecker,
  leadership: Pick<Leadership, "tell" | "onMessage">,
): BackgroundJob & HealthTracker {
  let current: HealthChecker | undefined;
  const TRACK = "health.track:";
  const UNTRACK = "health.untrack:";
  leadership.onMessage((message) => {
    if (message.startsWith(TRACK)) current?.track(message.slice(TRACK.length));
    else if (message.startsWith(UNTRACK)) current?.untrack(message.slice(UNTRACK.length));
  });
  return {
    name: "health checks",
    async start() {
      current = create();
      await current.start();
    },
    async stop() {
      const stopping = current;
      current = undefined;
      await stopping?.stop();
    },
    track(agentId) {
      if (current) current.track(agentId);
      else leadership.tell(`${TRACK}${agentId}`);
    },
    untrack(agentId) {
      if (current) current.untrack(agentId);
      else leadership.tell(`${UNTRACK}${agentId}`);
    },
  };
}
