import { type HealthChecker, type HealthCheckerOptions, SYSTEM_TIMERS } from "./health-checker-types.js";
import { createClaimQueue, windowOf } from "./health-claim-queue.js";
import { HealthListings } from "./health-listings.js";
import { HealthOutcomeWriter } from "./health-outcomes.js";
import { createHealthProbe, type ProbeResult } from "./health-probe.js";
import { type Endpoint, EndpointSchedule, type Listing } from "./health-schedule.js";
import { applyStatusChanges, createStatusChanger } from "./health-status.js";
import { PeriodicJob } from "./periodic-job.js";
import type { HealthCheckOutcome, HealthClaimResult } from "./port.js";

export type {
  CheckerTimers,
  HealthChecker,
  HealthCheckerOptions,
  HealthCheckerStats,
  HealthTracker,
} from "./health-checker-types.js";
export { SYSTEM_TIMERS } from "./health-checker-types.js";
export { healthUrl } from "./health-url.js";

const MINUTE_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Targets loaded between two yields to the event loop. */
const LOAD_SLICE = 1_000;

/**
 * Checks every listed agent's `GET {api_endpoint}/health` every `healthIntervalMs`, at most
 * `healthConcurrency` at once: a
 * 2xx answer within `healthTimeoutMs` is healthy; anything else, a timeout or a refused connection
 * is not. `failuresBeforeDown` failures in a row mark the agent `down` and alert its owner once; the
 * next healthy check marks it `active` again and says so once. Outcomes are written in batches for
 * the uptime figures.
 *
 * Health checks must never become a way to aim traffic at someone (issue 16, item 7):
 * - Listings that share an endpoint (the same health URL) share its checks: one request per
 *   interval, whose result every listing records.
 * - Brokers sharing a store share the checks: each check is claimed in the store first
 *   (`claimHealthCheck`), granted once per endpoint per interval to whichever broker asks first.
 *   Failures in a row are counted in the store too, so checks made by different brokers add up.
 * - One host name receives at most `healthChecksPerHost` checks per interval window (windows
 *   aligned on multiples of the interval) from all brokers, however many endpoints are listed on
 *   it; the others wait for the next window, oldest waiting first, so every endpoint is still
 *   checked about every ⌈endpoints / bound⌉ intervals.
 *
 * One loop serves all endpoints: a min-heap of due times and a single timer set for the earliest,
 * so 10,000 endpoints cost 10,000 heap entries, not 10,000 timers. The first round is spread over
 * one interval; each endpoint is then due one interval after its last turn. Due checks wait in the heap (oldest first)
 * while every slot is busy: a slow fleet delays checks rather than bursting them. Checks are I/O on
 * one keep-alive undici agent; outside dev mode its DNS lookup refuses non-public addresses at
 * connect time, as the invoke path's does.
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
  const concurrency = Math.max(1, settings.healthConcurrency);
  const interval = Math.max(1, settings.healthIntervalMs);
  const perHost = Math.max(1, settings.healthChecksPerHost);
  const now = (): number => clock.now().getTime();

  /** Promises of work the loop started (checks, status changes, loads): `stop` and `idle` wait for them. */
  const pending = new Set<Promise<unknown>>();
  const keep = <T>(promise: Promise<T>): Promise<T> => {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise)).catch(() => {});
    return promise;
  };

  // The parts: the schedule of endpoints, the listings at them, the requests, the store's claims,
  // the changes of status with their alerts, the outcomes' writes, and the loop's periodic jobs.
  const schedule = new EndpointSchedule();
  const known = new HealthListings(schedule, (agentId) =>
    log.warn({ agentId }, "agent endpoint is not a URL; not health-checked"),
  );
  const prober = createHealthProbe({ ...options, concurrency, interval, timers });
  const claim = createClaimQueue({ store, interval, perHost });
  const touch = (listing: Listing): void => known.touch(listing);
  const changeStatus = createStatusChanger({ store, clock, log, alerts, touch });
  const flushInterval = options.flushIntervalMs ?? 1_000;
  const writer = new HealthOutcomeWriter({ store, clock, log, flushInterval, keep });
  const successRates = options.successRates;
  const rateJob = new PeriodicJob(
    MINUTE_MS,
    async () => {
      await successRates
        ?.evaluate()
        .catch((error: unknown) => log.error({ err: error }, "success-rate check failed"));
    },
    keep,
  );
  const reloadJob = new PeriodicJob(
    options.reloadIntervalMs ?? 5 * MINUTE_MS,
    () =>
      load(false).catch((error: unknown) =>
        log.error({ err: error }, "could not reload the health-check targets"),
      ),
    keep,
  );

  const counts = { inFlight: 0, maxInFlight: 0, checks: 0, shared: 0, deferred: 0 };
  let running = false;
  /** Set by `stop`: the checks it abandons are not outcomes. */
  let stopped = false;
  let waitSeq = 0;
  let warnedLagAt = Number.NEGATIVE_INFINITY;
  let timer: unknown;
  let armedFor = Number.POSITIVE_INFINITY;

  // --- the loop -------------------------------------------------------------------------------

  /** Sets the one timer for the earliest thing the loop has to do. */
  const arm = (): void => {
    if (!running) return;
    let wake = Math.min(writer.flushAt, rateJob.dueAt, reloadJob.dueAt);
    const first = schedule.first();
    if (first && counts.inFlight < concurrency) wake = Math.min(wake, first.due);
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
    if (writer.flushAt <= at) void writer.flush();
    rateJob.runIfDue(at);
    reloadJob.runIfDue(at);
    arm();
  };

  /** Says (at most every 10 minutes) when checks wait longer than an interval for a free slot. */
  const warnIfBehind = (at: number): void => {
    const first = schedule.first();
    if (!first || !Number.isFinite(first.due) || at - first.due < interval) return;
    if (at - warnedLagAt < 10 * MINUTE_MS) return;
    warnedLagAt = at;
    log.warn(
      { waiting: schedule.dueCount(at), lagMs: at - first.due, concurrency, agents: known.listings.size },
      "health checks are falling behind: sellers answer too slowly for healthConcurrency; raise it or the interval",
    );
  };

  /** Starts the due checks while there are free slots. */
  const pump = (at: number): void => {
    if (stopped) return;
    for (;;) {
      const first = schedule.first();
      if (!first || first.due > at || counts.inFlight >= concurrency) return;
      schedule.remove(first);
      run(first);
    }
  };

  // --- one check ------------------------------------------------------------------------------

  /**
   * Asks the store for the endpoint's scheduled check. Not granted: another broker made it in the
   * interval (`checked`), or its host has had its checks of the window (`host_busy`): the endpoint
   * then waits for the next window, before the endpoints that came to wait after it.
   */
  const claimTurn = async (endpoint: Endpoint, at: number): Promise<HealthClaimResult> => {
    const granted = await claim(endpoint, at);
    if (granted === "host_busy") {
      counts.deferred++;
      if (endpoint.waitingSince === Number.POSITIVE_INFINITY) endpoint.waitingSince = ++waitSeq;
      return granted;
    }
    endpoint.waitingSince = Number.POSITIVE_INFINITY;
    if (granted === "checked") counts.shared++;
    return granted;
  };

  /** Every listing at the endpoint takes the check's result: its outcomes go to the writer. */
  const recordOutcomes = (
    endpoint: Endpoint,
    checked: Listing[],
    result: ProbeResult,
  ): HealthCheckOutcome[] => {
    const outcomes = checked.map((listing) => ({ agentId: listing.id, healthy: result.healthy }));
    options.onCheck?.(result.healthy);
    writer.add(outcomes);
    if (!result.healthy) {
      log.debug(
        { endpoint: endpoint.key, agents: checked.length, reason: result.reason },
        "health check failed",
      );
    }
    return outcomes;
  };

  /** Counts the endpoint's failures in a row in the store, then marks its listings down or up. */
  const recordHealth = async (endpoint: Endpoint, checked: Listing[], result: ProbeResult): Promise<void> => {
    const health = await store.recordEndpointHealth(
      endpoint.key,
      endpoint.host,
      result.healthy,
      clock.now().toISOString(),
    );
    const stillListed = (listing: Listing): boolean => endpoint.listings.get(listing.id) === listing;
    await applyStatusChanges(changeStatus, checked, stillListed, result, health, settings.failuresBeforeDown);
  };

  /** Frees the slot, answers the endpoint's waiters and schedules its next turn. */
  const finish = (endpoint: Endpoint, outcomes: HealthCheckOutcome[] | undefined, next: number): void => {
    counts.inFlight--;
    endpoint.running = false;
    endpoint.controller = undefined;
    const waiters = endpoint.waiters;
    endpoint.waiters = [];
    for (const resolve of waiters) resolve(outcomes);
    if (!endpoint.removed) schedule.reschedule(endpoint, Math.max(next, now()));
    pump(now());
    arm();
  };

  /** One turn of an endpoint: claim (unless forced), probe, record; then its next turn. */
  const run = (endpoint: Endpoint): void => {
    counts.inFlight++;
    counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight);
    endpoint.running = true;
    const forced = endpoint.forced;
    endpoint.forced = false;
    let outcomes: HealthCheckOutcome[] | undefined;
    // Its next turn: one interval after this one (the store refuses a claim any sooner), or, when
    // its host has had its checks of this window, the next window's start.
    const at = now();
    let next = at + interval;
    const work = (async () => {
      if (!forced) {
        const granted = await claimTurn(endpoint, at);
        if (granted === "host_busy") next = windowOf(at, interval) + interval;
        if (granted !== "granted") return;
      }
      const result = await prober.probe(endpoint);
      counts.checks++;
      if (endpoint.removed || stopped) return;
      const checked = [...endpoint.listings.values()];
      outcomes = recordOutcomes(endpoint, checked, result);
      await recordHealth(endpoint, checked, result);
    })()
      .catch((error: unknown) =>
        log.error({ err: error, endpoint: endpoint.key }, "health check failed to run"),
      )
      .finally(() => finish(endpoint, outcomes, next));
    keep(work);
  };

  // --- the listings ---------------------------------------------------------------------------

  /**
   * Reconciles the schedule with the store; new endpoints are spread over one interval. Works in
   * slices, yielding between them, so a reload of many agents never holds the event loop long.
   */
  const load = async (first: boolean): Promise<void> => {
    const readAt = known.mark();
    const list = await store.listHealthCheckTargets();
    const seen = new Set<string>();
    for (let i = 0; i < list.length; i += LOAD_SLICE) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      if (stopped) return;
      const at = now();
      for (const record of list.slice(i, i + LOAD_SLICE)) {
        seen.add(record.id);
        known.upsert(record, at + Math.floor(random() * interval), readAt);
      }
      arm();
    }
    known.removeUnseen(seen, readAt);
    if (first) {
      log.info(
        { agents: list.length, endpoints: known.endpoints.size, intervalMs: interval, concurrency, perHost },
        "health checks started",
      );
    }
    arm();
  };

  const trackAgent = async (agentId: string): Promise<Listing | undefined> => {
    const readAt = known.mark();
    const record = await store.getAgent(agentId);
    // Only listings that are up or down are checked (not deactivated ones, nor any other status).
    if (!record || (record.status !== "active" && record.status !== "down")) {
      known.remove(agentId);
      return undefined;
    }
    const listing = known.upsert(
      { id: record.id, apiEndpoint: record.apiEndpoint, status: record.status },
      now(),
      readAt,
    );
    if (!listing) return undefined;
    // Checked at once, unless its endpoint was already checked in this window (by any broker).
    if (!listing.endpoint.running)
      schedule.reschedule(listing.endpoint, Math.min(listing.endpoint.due, now()));
    pump(now());
    arm();
    return listing;
  };

  const waitFor = (endpoint: Endpoint): Promise<HealthCheckOutcome[] | undefined> =>
    new Promise((resolve) => {
      endpoint.waiters.push(resolve);
    });

  return {
    async start() {
      if (running) return;
      running = true;
      const at = now();
      reloadJob.start(at);
      if (successRates) rateJob.start(at);
      await keep(load(true));
    },

    async stop() {
      if (stopped) return;
      running = false;
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      armedFor = Number.POSITIVE_INFINITY;
      for (const endpoint of known.endpoints.values()) endpoint.controller?.abort();
      while (pending.size > 0) await Promise.allSettled([...pending]);
      await writer.flush();
      await prober.close();
    },

    track(agentId) {
      void keep(
        trackAgent(agentId).catch((error: unknown) =>
          log.error({ err: error, agentId }, "could not schedule the agent's health checks"),
        ),
      );
    },

    untrack(agentId) {
      known.remove(agentId);
    },

    async checkNow(agentId) {
      let chosen: Endpoint[];
      if (agentId === undefined) {
        if (known.endpoints.size === 0) await load(false);
        chosen = [...known.endpoints.values()];
      } else {
        const listing = known.listings.get(agentId) ?? (await trackAgent(agentId));
        chosen = listing ? [listing.endpoint] : [];
      }
      const waits = chosen.map((endpoint) => {
        const wait = waitFor(endpoint);
        if (!endpoint.running) {
          endpoint.forced = true;
          schedule.reschedule(endpoint, Number.NEGATIVE_INFINITY);
        }
        return wait;
      });
      pump(now());
      const outcomes = (await Promise.all(waits)).flatMap((list) => list ?? []);
      await writer.flush();
      return agentId === undefined ? outcomes : outcomes.filter((outcome) => outcome.agentId === agentId);
    },

    async idle() {
      for (;;) {
        while (pending.size > 0) await Promise.allSettled([...pending]);
        await writer.flush();
        const first = schedule.first();
        if (pending.size === 0 && !(first && first.due <= now() && running)) return;
        pump(now());
      }
    },

    stats() {
      const { inFlight, maxInFlight, checks, shared, deferred } = counts;
      return {
        agents: known.listings.size,
        endpoints: known.endpoints.size,
        inFlight,
        maxInFlight,
        checks,
        waiting: schedule.dueCount(now()),
        shared,
        deferred,
      };
    },
  };
}
