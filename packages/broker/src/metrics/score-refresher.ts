import type { FastifyBaseLogger } from "fastify";
import type { Clock } from "../platform/clock.js";
import type { MetricsStore } from "./port.js";

/** Options of {@link createScoreRefresher}. */
export interface ScoreRefresherOptions {
  store: MetricsStore;
  clock: Clock;
  log: Pick<FastifyBaseLogger, "debug" | "error">;
  /** How often the windows slide and the scores are refreshed, in ms (default 60,000: a minute bucket). */
  intervalMs?: number;
}

/** The background job that keeps ranking figures fresh as the metrics windows slide. */
export interface ScoreRefresher {
  /** Runs a refresh every interval, the first one interval from now. */
  start(): void;
  /** Stops the timer and waits for a refresh in flight, so the store can be closed after it. */
  stop(): Promise<void>;
  /** Refreshes now; resolves with how many agents' figures changed. */
  refresh(): Promise<number>;
}

/**
 * Keeps trust scores and costs per success fresh as time passes. Writes already rescore the agents
 * they touch; this job covers the agents nothing touched: every interval it calls
 * `store.refreshScores(now)`, which rolls minute buckets older than 24 h into hours, drops hours
 * older than 30 days, and rescores the agents whose windows lost figures. A refresh never overlaps
 * the previous one (the next is scheduled when it ends); failures are logged and the job goes on.
 * Its timer is unref'd: it never keeps a process alive.
 *
 * @example
 * const refresher = createScoreRefresher({ store, clock: systemClock, log: app.log });
 * refresher.start();
 * app.addHook("onClose", () => refresher.stop());
 */
export function createScoreRefresher(options: ScoreRefresherOptions): ScoreRefresher {
  const { store, clock, log } = options;
  const intervalMs = options.intervalMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<unknown> = Promise.resolve();
  let running = false;

  const refresh = (): Promise<number> => {
    const work = inFlight.then(async () => {
      const changed = await store.refreshScores(clock.now().toISOString());
      if (changed > 0) log.debug({ changed }, "refreshed agents' scores");
      return changed;
    });
    inFlight = work.catch(() => {});
    return work;
  };

  const schedule = (): void => {
    timer = setTimeout(() => {
      timer = undefined;
      if (!running) return;
      refresh()
        .catch((error: unknown) => log.error({ err: error }, "score refresh failed; the next one retries"))
        .finally(() => {
          if (running) schedule();
        });
    }, intervalMs);
    timer.unref();
  };

  return {
    start() {
      if (running) return;
      running = true;
      schedule();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await inFlight;
    },
    refresh,
  };
}
