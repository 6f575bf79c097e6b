import { isIP } from "node:net";
import type { FastifyBaseLogger } from "fastify";
import { Agent } from "undici";
import type { AlertNotifier } from "../alerts/types.js";
import type { Clock } from "../clock.js";
import type { MonitoringSettings } from "../config/config.js";
import { isPublicAddress, publicOnlyLookup, type ResolveHost } from "../registry/endpoint-policy.js";
import type { HealthCheckOutcome, HealthCheckTarget, Store } from "../store/types.js";
import type { SuccessRateMonitor } from "./success-rate.js";

/** The timer the checker's loop sleeps on; injected so that a test moves time by hand. */
export interface CheckerTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers, unref'd: the checker never keeps a process alive. */
export const SYSTEM_TIMERS: CheckerTimers = {
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** What the registry tells the checker: an agent was registered, re-activated, moved or deactivated. */
export interface HealthTracker {
  /** Checks the agent right away (re-reading its endpoint and status), then on its schedule. */
  track(agentId: string): void;
  /** Stops checking the agent. */
  untrack(agentId: string): void;
}

/** Figures of the checker, for logs and benchmarks. */
export interface HealthCheckerStats {
  /** Agents on the schedule. */
  agents: number;
  inFlight: number;
  /** Most checks ever in flight at once. */
  maxInFlight: number;
  /** Checks finished since the start. */
  checks: number;
  /** Checks past their due time still waiting for a free slot. */
  waiting: number;
}

/** The broker's health checker of sellers. */
export interface HealthChecker extends HealthTracker {
  /** Loads every agent to check and schedules them, the first round spread over one interval. */
  start(): Promise<void>;
  /** Stops the loop, abandons the checks in flight, writes the outcomes gathered, frees the connections. */
  stop(): Promise<void>;
  /**
   * Checks one agent (or every agent on the schedule) now, within the concurrency limit, and
   * resolves with the outcomes once they are recorded and any change of status is made.
   */
  checkNow(agentId?: string): Promise<HealthCheckOutcome[]>;
  /** Resolves once nothing is due or in flight and every outcome is written (tests). */
  idle(): Promise<void>;
  stats(): HealthCheckerStats;
}

/** Options of {@link createHealthChecker}. */
export interface HealthCheckerOptions {
  store: Store;
  clock: Clock;
  log: Pick<FastifyBaseLogger, "debug" | "info" | "warn" | "error">;
  settings: MonitoringSettings;
  /** Dev mode: sellers on loopback and private addresses are checked too. */
  dev: boolean;
  /** Resolves seller hosts; outside dev mode every address must be public. */
  resolveHost: ResolveHost;
  alerts: AlertNotifier;
  /** Default: Node's timers. Tests pass manual ones driven by the same clock. */
  timers?: CheckerTimers;
  /** Default `Math.random`: spreads the checks (jitter). */
  random?: () => number;
  /** Evaluated once a minute on the same loop: the low-success-rate alerts. */
  successRates?: SuccessRateMonitor;
  /** How often the schedule is reconciled with the store (agents added or removed elsewhere), ms. Default 5 min. */
  reloadIntervalMs?: number;
  /** Outcomes are written at least this often, ms (default 1 s), or per 1,000. */
  flushIntervalMs?: number;
  /** Sees every check's result (the broker counts them in Prometheus). */
  onCheck?: (healthy: boolean) => void;
}

interface HealthRequestUrl {
  origin: string;
  /** Path and query. */
  path: string;
  /** Host name, IPv6 brackets removed. */
  host: string;
}

interface Target {
  id: string;
  /** The agent's `api_endpoint`, and the health URL made from it (strings: lighter than `URL`s). */
  endpoint: string;
  url: HealthRequestUrl;
  status: "active" | "down";
  /** Failed checks in a row. */
  failures: number;
  /** When the next check is due (ms since the epoch, by the injected clock). */
  due: number;
  /** When (in `seq` order) the target was created, and its status last changed here. */
  born: number;
  changed: number;
  /** Position in the heap; -1 while running or removed. */
  index: number;
  running: boolean;
  removed: boolean;
  /** Checked again as soon as the check in flight ends (its endpoint changed meanwhile). */
  recheck: boolean;
  controller: AbortController | undefined;
  waiters: Array<(outcome: HealthCheckOutcome | undefined) => void>;
}

const MINUTE_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
const FLUSH_BATCH = 1_000;
/** Targets loaded between two yields to the event loop. */
const LOAD_SLICE = 1_000;
const USER_AGENT = "mercato-health-check/1";

/**
 * Checks every listed agent's `GET {api_endpoint}/health` every `healthIntervalMs` (±10% jitter),
 * at most `healthConcurrency` at once: a 2xx answer within `healthTimeoutMs` is healthy; anything
 * else, a timeout or a refused connection is not. `failuresBeforeDown` failures in a row mark the
 * agent `down` and alert its owner once; the next healthy check marks it `active` again and says
 * so once. Outcomes are written in batches for the uptime figures.
 *
 * One loop serves all agents: a min-heap of due times and a single timer set for the earliest,
 * so 10,000 agents cost 10,000 heap entries, not 10,000 timers. Due checks wait in the heap (oldest
 * first) while every slot is busy: a slow fleet delays checks rather than bursting them. Checks are
 * I/O on one keep-alive undici agent; outside dev mode its DNS lookup refuses non-public addresses
 * at connect time, as the invoke path's does.
 *
 * @example
 * const checker = createHealthChecker({ store, clock, log, settings: config.monitoring, dev, resolveHost, alerts });
 * await checker.start();
 * // …
 * await checker.stop();
 */
export function createHealthChecker(options: HealthCheckerOptions): HealthChecker {
  const { store, clock, log, settings, alerts } = options;
  const timers = options.timers ?? SYSTEM_TIMERS;
  const random = options.random ?? Math.random;
  const reloadInterval = options.reloadIntervalMs ?? 5 * MINUTE_MS;
  const flushInterval = options.flushIntervalMs ?? 1_000;
  const concurrency = Math.max(1, settings.healthConcurrency);
  const interval = settings.healthIntervalMs;

  const agent = new Agent({
    connections: concurrency,
    keepAliveTimeout: Math.min(Math.max(interval * 2, 4_000), 120_000),
    keepAliveMaxTimeout: 120_000,
    connectTimeout: settings.healthTimeoutMs,
    pipelining: 1,
    ...(!options.dev && { connect: { lookup: publicOnlyLookup(options.resolveHost) } }),
  });

  const targets = new Map<string, Target>();
  const heap: Target[] = [];
  /** Promises of work the loop started (checks, status changes, loads): `stop` and `idle` wait for them. */
  const pending = new Set<Promise<unknown>>();
  let buffer: HealthCheckOutcome[] = [];
  let flushing: Promise<void> = Promise.resolve();
  let running = false;
  /** Set by `stop`: the checks it abandons are not outcomes. */
  let stopped = false;
  /**
   * Orders creations and changes of status, so that a reload never drops a target added, nor
   * undoes a status changed, after it read the store.
   */
  let seq = 0;
  let warnedLagAt = Number.NEGATIVE_INFINITY;
  let timer: unknown;
  let armedFor = Number.POSITIVE_INFINITY;
  let inFlight = 0;
  let maxInFlight = 0;
  let checks = 0;
  let flushAt = Number.POSITIVE_INFINITY;
  let rateAt = Number.POSITIVE_INFINITY;
  let reloadAt = Number.POSITIVE_INFINITY;
  let rateRunning = false;
  let reloading = false;

  const now = (): number => clock.now().getTime();
  // Whole milliseconds, as clocks tell them: a due time between two ticks of the clock would spin.
  const nextDue = (from: number): number => from + Math.round(interval * (0.9 + 0.2 * random()));

  const keep = <T>(promise: Promise<T>): Promise<T> => {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise)).catch(() => {});
    return promise;
  };

  // --- the schedule -------------------------------------------------------------------------

  const swap = (i: number, j: number): void => {
    const a = heap[i] as Target;
    const b = heap[j] as Target;
    heap[i] = b;
    heap[j] = a;
    b.index = i;
    a.index = j;
  };
  const siftUp = (start: number): void => {
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as Target).due <= (heap[i] as Target).due) return;
      swap(i, parent);
      i = parent;
    }
  };
  const siftDown = (start: number): void => {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && (heap[left] as Target).due < (heap[least] as Target).due) least = left;
      if (right < heap.length && (heap[right] as Target).due < (heap[least] as Target).due) least = right;
      if (least === i) return;
      swap(i, least);
      i = least;
    }
  };
  const push = (target: Target): void => {
    target.index = heap.length;
    heap.push(target);
    siftUp(target.index);
  };
  const removeFromHeap = (target: Target): void => {
    const i = target.index;
    if (i < 0) return;
    const last = heap.pop() as Target;
    target.index = -1;
    if (last === target) return;
    heap[i] = last;
    last.index = i;
    siftDown(i);
    siftUp(last.index);
  };
  const reschedule = (target: Target, due: number): void => {
    target.due = due;
    if (target.index >= 0) {
      siftDown(target.index);
      siftUp(target.index);
    } else if (!target.running && !target.removed) {
      push(target);
    }
  };

  /** Sets the one timer for the earliest thing the loop has to do. */
  const arm = (): void => {
    if (!running) return;
    let wake = Math.min(flushAt, rateAt, reloadAt);
    const first = heap[0];
    if (first && inFlight < concurrency) wake = Math.min(wake, first.due);
    if (wake === Number.POSITIVE_INFINITY || wake >= armedFor) return;
    if (timer !== undefined) timers.clearTimeout(timer);
    armedFor = wake;
    timer = timers.setTimeout(tick, Math.min(Math.max(0, Math.ceil(wake - now())), MAX_TIMER_MS));
  };

  const tick = (): void => {
    timer = undefined;
    armedFor = Number.POSITIVE_INFINITY;
    if (!running) return;
    const at = now();
    pump(at);
    warnIfBehind(at);
    if (flushAt <= at) void flush();
    // A job still running when its time comes again skips that turn (it never overlaps itself).
    const rateDue = rateAt <= at;
    if (rateDue) rateAt = at + MINUTE_MS;
    if (rateDue && !rateRunning && options.successRates) {
      rateRunning = true;
      void keep(
        options.successRates
          .evaluate()
          .catch((error: unknown) => log.error({ err: error }, "success-rate check failed"))
          .finally(() => {
            rateRunning = false;
          }),
      );
    }
    const reloadDue = reloadAt <= at;
    if (reloadDue) reloadAt = at + reloadInterval;
    if (reloadDue && !reloading) {
      reloading = true;
      void keep(
        load(false)
          .catch((error: unknown) => log.error({ err: error }, "could not reload the health-check targets"))
          .finally(() => {
            reloading = false;
          }),
      );
    }
    arm();
  };

  /** Says (at most every 10 minutes) when checks wait longer than an interval for a free slot. */
  const warnIfBehind = (at: number): void => {
    const first = heap[0];
    if (!first || !Number.isFinite(first.due) || at - first.due < interval) return;
    if (at - warnedLagAt < 10 * MINUTE_MS) return;
    warnedLagAt = at;
    let waiting = 0;
    for (const target of heap) if (target.due <= at) waiting++;
    log.warn(
      { waiting, lagMs: at - first.due, concurrency, agents: targets.size },
      "health checks are falling behind: sellers answer too slowly for healthConcurrency; raise it or the interval",
    );
  };

  /** Starts the due checks while there are free slots. */
  const pump = (at: number): void => {
    if (stopped) return;
    for (;;) {
      const first = heap[0];
      if (!first || first.due > at || inFlight >= concurrency) return;
      removeFromHeap(first);
      run(first);
    }
  };

  // --- one check ------------------------------------------------------------------------------

  const run = (target: Target): void => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    target.running = true;
    let outcome: HealthCheckOutcome | undefined;
    const work = (async () => {
      const result = await probe(target);
      checks++;
      if (target.removed || stopped) return;
      outcome = { agentId: target.id, healthy: result.healthy };
      options.onCheck?.(result.healthy);
      buffer.push(outcome);
      if (buffer.length >= FLUSH_BATCH) void flush();
      else if (flushAt === Number.POSITIVE_INFINITY) flushAt = now() + flushInterval;
      if (!result.healthy) log.debug({ agentId: target.id, reason: result.reason }, "health check failed");
      await changeStatus(target, result);
    })()
      .catch((error: unknown) => log.error({ err: error, agentId: target.id }, "health check failed to run"))
      .finally(() => {
        inFlight--;
        target.running = false;
        target.controller = undefined;
        const waiters = target.waiters;
        target.waiters = [];
        for (const resolve of waiters) resolve(outcome);
        if (!target.removed) {
          const at = now();
          reschedule(target, target.recheck ? at : nextDue(at));
          target.recheck = false;
        }
        pump(now());
        arm();
      });
    keep(work);
  };

  const probe = async (target: Target): Promise<{ healthy: boolean; reason?: string }> => {
    const { host } = target.url;
    // The lookup below is not asked about IP literals: refuse a non-public one here.
    if (!options.dev && isIP(host) !== 0 && !isPublicAddress(host)) {
      return { healthy: false, reason: `non-public address ${host}` };
    }
    const controller = new AbortController();
    target.controller = controller;
    const timeout = timers.setTimeout(() => controller.abort(), settings.healthTimeoutMs);
    try {
      const response = await agent.request({
        origin: target.url.origin,
        path: target.url.path,
        method: "GET",
        headers: { "user-agent": USER_AGENT, accept: "application/json" },
        signal: controller.signal,
        headersTimeout: settings.healthTimeoutMs,
        bodyTimeout: settings.healthTimeoutMs,
      });
      // Read (at most 64 KiB of) the body so the connection can be reused.
      await response.body.dump({ limit: 64 * 1024 }).catch(() => {});
      const healthy = response.statusCode >= 200 && response.statusCode < 300;
      return healthy ? { healthy } : { healthy, reason: `HTTP ${response.statusCode}` };
    } catch (error) {
      if (controller.signal.aborted) return { healthy: false, reason: "timed out" };
      const code = (error as { code?: unknown }).code;
      return { healthy: false, reason: typeof code === "string" ? code : String(error) };
    } finally {
      timers.clearTimeout(timeout);
    }
  };

  /**
   * Marks the agent down after enough failures in a row, or up at the first success, and alerts
   * once per change. The store says whether this process made the change: it alone alerts.
   */
  const changeStatus = async (
    target: Target,
    result: { healthy: boolean; reason?: string },
  ): Promise<void> => {
    const at = clock.now().toISOString();
    if (result.healthy) {
      target.failures = 0;
      if (target.status !== "down") return;
      target.status = "active";
      target.changed = ++seq;
      try {
        if (await store.setAgentHealthStatus(target.id, "active", at)) {
          log.info({ agentId: target.id }, "agent recovered");
          alerts.notify({ kind: "agent_recovered", agentId: target.id, at });
        }
      } catch (error) {
        target.status = "down";
        throw error;
      }
      return;
    }
    target.failures++;
    if (target.status !== "active" || target.failures < settings.failuresBeforeDown) return;
    target.status = "down";
    target.changed = ++seq;
    try {
      if (await store.setAgentHealthStatus(target.id, "down", at)) {
        log.warn({ agentId: target.id, failures: target.failures, reason: result.reason }, "agent is down");
        alerts.notify({ kind: "agent_down", agentId: target.id, at, consecutiveFailures: target.failures });
      }
    } catch (error) {
      target.status = "active";
      throw error;
    }
  };

  const flush = (): Promise<void> => {
    flushAt = Number.POSITIVE_INFINITY;
    if (buffer.length === 0) return flushing;
    const batch = buffer;
    buffer = [];
    flushing = flushing
      .then(() => store.recordHealthChecks(batch, clock.now().toISOString()))
      .catch((error: unknown) => {
        // Uptime figures are not money: a failed write loses these checks, nothing else.
        log.error({ err: error, outcomes: batch.length }, "could not record health checks");
      });
    return keep(flushing);
  };

  // --- the agents -----------------------------------------------------------------------------

  /**
   * Adds a target or refreshes one from the store's view, read when `seq` was `readAt`: the stored
   * status wins unless the status changed here since.
   */
  const upsert = (record: HealthCheckTarget, due: number, readAt: number): Target | undefined => {
    const existing = targets.get(record.id);
    // A stored `down` agent starts at the threshold: it is not alerted as down again.
    const failures = record.status === "down" ? settings.failuresBeforeDown : 0;
    if (existing && existing.endpoint === record.apiEndpoint) {
      adopt(existing, record.status, failures, readAt);
      return existing;
    }
    let url: HealthRequestUrl;
    try {
      const parsed = new URL(healthUrl(record.apiEndpoint));
      url = {
        origin: parsed.origin,
        path: `${parsed.pathname}${parsed.search}`,
        host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
      };
    } catch {
      log.warn({ agentId: record.id }, "agent endpoint is not a URL; not health-checked");
      return undefined;
    }
    if (existing) {
      existing.endpoint = record.apiEndpoint;
      existing.url = url;
      adopt(existing, record.status, failures, readAt);
      return existing;
    }
    const born = ++seq;
    const target: Target = {
      id: record.id,
      endpoint: record.apiEndpoint,
      url,
      status: record.status,
      failures,
      born,
      changed: born,
      due,
      index: -1,
      running: false,
      removed: false,
      recheck: false,
      controller: undefined,
      waiters: [],
    };
    targets.set(target.id, target);
    push(target);
    return target;
  };

  const adopt = (target: Target, status: "active" | "down", failures: number, readAt: number): void => {
    if (target.running || target.changed > readAt || target.status === status) return;
    target.status = status;
    target.failures = failures;
    target.changed = ++seq;
  };

  const remove = (agentId: string): void => {
    const target = targets.get(agentId);
    if (!target) return;
    targets.delete(agentId);
    target.removed = true;
    removeFromHeap(target);
    target.controller?.abort();
  };

  /**
   * Reconciles the schedule with the store; new agents are spread over one interval. Works in
   * slices, yielding between them, so a reload of many agents never holds the event loop long.
   */
  const load = async (first: boolean): Promise<void> => {
    const readAt = seq;
    const list = await store.listHealthCheckTargets();
    const seen = new Set<string>();
    for (let i = 0; i < list.length; i += LOAD_SLICE) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      if (stopped) return;
      const at = now();
      for (const record of list.slice(i, i + LOAD_SLICE)) {
        seen.add(record.id);
        upsert(record, at + Math.floor(random() * interval), readAt);
      }
      arm();
    }
    for (const [id, target] of [...targets]) if (!seen.has(id) && target.born <= readAt) remove(id);
    if (first) log.info({ agents: list.length, intervalMs: interval, concurrency }, "health checks started");
    arm();
  };

  const trackAgent = async (agentId: string): Promise<Target | undefined> => {
    const readAt = seq;
    const record = await store.getAgent(agentId);
    if (!record || record.status === "inactive") {
      remove(agentId);
      return undefined;
    }
    const target = upsert(
      { id: record.id, apiEndpoint: record.apiEndpoint, status: record.status },
      now(),
      readAt,
    );
    if (!target) return undefined;
    if (target.running) target.recheck = true;
    else reschedule(target, now());
    pump(now());
    arm();
    return target;
  };

  const waitFor = (target: Target): Promise<HealthCheckOutcome | undefined> =>
    new Promise((resolve) => {
      target.waiters.push(resolve);
    });

  return {
    async start() {
      if (running) return;
      running = true;
      const at = now();
      reloadAt = at + reloadInterval;
      if (options.successRates) rateAt = at + MINUTE_MS;
      await keep(load(true));
    },

    async stop() {
      if (stopped) return;
      running = false;
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      armedFor = Number.POSITIVE_INFINITY;
      for (const target of targets.values()) target.controller?.abort();
      while (pending.size > 0) await Promise.allSettled([...pending]);
      await flush();
      await agent.close();
    },

    track(agentId) {
      void keep(
        trackAgent(agentId).catch((error: unknown) =>
          log.error({ err: error, agentId }, "could not schedule the agent's health checks"),
        ),
      );
    },

    untrack(agentId) {
      remove(agentId);
    },

    async checkNow(agentId) {
      let chosen: Target[];
      if (agentId === undefined) {
        if (targets.size === 0) await load(false);
        chosen = [...targets.values()];
      } else {
        const target = targets.get(agentId) ?? (await trackAgent(agentId));
        chosen = target ? [target] : [];
      }
      const waits = chosen.map((target) => {
        const wait = waitFor(target);
        if (!target.running) reschedule(target, Number.NEGATIVE_INFINITY);
        return wait;
      });
      pump(now());
      const outcomes = await Promise.all(waits);
      await flush();
      return outcomes.filter((outcome): outcome is HealthCheckOutcome => outcome !== undefined);
    },

    async idle() {
      for (;;) {
        while (pending.size > 0) await Promise.allSettled([...pending]);
        await flush();
        const first = heap[0];
        if (pending.size === 0 && !(first && first.due <= now() && running)) return;
        pump(now());
      }
    },

    stats() {
      const at = now();
      let waiting = 0;
      for (const target of heap) if (target.due <= at) waiting++;
      return { agents: targets.size, inFlight, maxInFlight, checks, waiting };
    },
  };
}

/** `GET {api_endpoint}/health`: the path gets `/health`, the query is kept. */
export function healthUrl(apiEndpoint: string): string {
  const url = new URL(apiEndpoint);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/health`;
  url.hash = "";
  return url.href;
}
