import { isIP } from "node:net";
import type { FastifyBaseLogger } from "fastify";
import { Agent } from "undici";
import type { AlertNotifier } from "../alerts/types.js";
import type { Store } from "../app/store.js";
import type { Clock } from "../platform/clock.js";
import { isPublicAddress, publicOnlyLookup, type ResolveHost } from "../platform/endpoint-policy.js";
import { healthUrl } from "../platform/health-url.js";
import type { MonitoringSettings } from "../platform/settings.js";
import type { EndpointHealth, HealthCheckOutcome, HealthCheckTarget, HealthClaimResult } from "./port.js";
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
  /** Distinct endpoints they are listed at: what is checked. */
  endpoints: number;
  inFlight: number;
  /** Most checks ever in flight at once. */
  maxInFlight: number;
  /** Checks finished since the start (requests sent to sellers). */
  checks: number;
  /** Endpoints past their due time still waiting for a free slot or their host's turn. */
  waiting: number;
  /** Checks not made because another broker had made them in the interval, since the start. */
  shared: number;
  /** Checks put off because their host had had its checks of the interval, since the start. */
  deferred: number;
}

/** The broker's health checker of sellers. */
export interface HealthChecker extends HealthTracker {
  /** Loads every agent to check and schedules them, the first round spread over one interval. */
  start(): Promise<void>;
  /** Stops the loop, abandons the checks in flight, writes the outcomes gathered, frees the connections. */
  stop(): Promise<void>;
  /**
   * Checks one agent's endpoint (or every endpoint on the schedule) now, within the concurrency
   * limit but outside the per-interval claims (an operator's or a test's explicit check), and
   * resolves with the outcomes (the agent's, or every agent's) once they are recorded and any
   * change of status is made.
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
  /** Default `Math.random`: spreads the first round of checks over one interval. */
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

/** One listed agent: it takes the result of its endpoint's checks. */
interface Listing {
  id: string;
  endpoint: Endpoint;
  status: "active" | "down";
  /** When (in `seq` order) the listing was created, and its status last changed here. */
  born: number;
  changed: number;
}

/** One distinct endpoint (its health URL), checked once for every listing at it. */
interface Endpoint {
  /** The health URL, the key shared with other brokers. */
  key: string;
  url: HealthRequestUrl;
  /** Lower-case host name without a trailing dot: what the per-host bound counts. */
  host: string;
  listings: Map<string, Listing>;
  /** When the next check is due (ms since the epoch, by the injected clock). */
  due: number;
  /** Order among endpoints waiting for their host's turn (oldest first); +∞ when not waiting. */
  waitingSince: number;
  /** Position in the heap; -1 while running or removed. */
  index: number;
  running: boolean;
  removed: boolean;
  /** The next run is an explicit check (`checkNow`): no claim. */
  forced: boolean;
  controller: AbortController | undefined;
  waiters: Array<(outcomes: HealthCheckOutcome[] | undefined) => void>;
}

const MINUTE_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
const FLUSH_BATCH = 1_000;
/** Targets loaded between two yields to the event loop. */
const LOAD_SLICE = 1_000;
const USER_AGENT = "mercato-health-check/1";

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
  const reloadInterval = options.reloadIntervalMs ?? 5 * MINUTE_MS;
  const flushInterval = options.flushIntervalMs ?? 1_000;
  const concurrency = Math.max(1, settings.healthConcurrency);
  const interval = Math.max(1, settings.healthIntervalMs);
  const perHost = Math.max(1, settings.healthChecksPerHost);

  const agent = new Agent({
    connections: concurrency,
    keepAliveTimeout: Math.min(Math.max(interval * 2, 4_000), 120_000),
    keepAliveMaxTimeout: 120_000,
    connectTimeout: settings.healthTimeoutMs,
    pipelining: 1,
    ...(!options.dev && { connect: { lookup: publicOnlyLookup(options.resolveHost) } }),
  });

  const listings = new Map<string, Listing>();
  const endpoints = new Map<string, Endpoint>();
  const heap: Endpoint[] = [];
  /** Hosts known to have had their checks of a window (host → the window's start): no need to ask. */
  const busyHosts = new Map<string, number>();
  /** Claims of one host are asked one after another, in the order the endpoints came due. */
  const hostClaims = new Map<string, Promise<unknown>>();
  /** Promises of work the loop started (checks, status changes, loads): `stop` and `idle` wait for them. */
  const pending = new Set<Promise<unknown>>();
  let buffer: HealthCheckOutcome[] = [];
  let flushing: Promise<void> = Promise.resolve();
  let running = false;
  /** Set by `stop`: the checks it abandons are not outcomes. */
  let stopped = false;
  /**
   * Orders creations and changes of status, so that a reload never drops a listing added, nor
   * undoes a status changed, after it read the store.
   */
  let seq = 0;
  let waitSeq = 0;
  let warnedLagAt = Number.NEGATIVE_INFINITY;
  let timer: unknown;
  let armedFor = Number.POSITIVE_INFINITY;
  let inFlight = 0;
  let maxInFlight = 0;
  let checks = 0;
  let shared = 0;
  let deferred = 0;
  let flushAt = Number.POSITIVE_INFINITY;
  let rateAt = Number.POSITIVE_INFINITY;
  let reloadAt = Number.POSITIVE_INFINITY;
  let rateRunning = false;
  let reloading = false;

  const now = (): number => clock.now().getTime();
  const windowOf = (at: number): number => Math.floor(at / interval) * interval;

  const keep = <T>(promise: Promise<T>): Promise<T> => {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise)).catch(() => {});
    return promise;
  };

  // --- the schedule -------------------------------------------------------------------------

  /** Earlier due first; at the same time, the endpoint waiting longest for its host's turn. */
  const before = (a: Endpoint, b: Endpoint): boolean =>
    a.due < b.due || (a.due === b.due && a.waitingSince < b.waitingSince);
  const swap = (i: number, j: number): void => {
    const a = heap[i] as Endpoint;
    const b = heap[j] as Endpoint;
    heap[i] = b;
    heap[j] = a;
    b.index = i;
    a.index = j;
  };
  const siftUp = (start: number): void => {
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Endpoint, heap[parent] as Endpoint)) return;
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
      if (left < heap.length && before(heap[left] as Endpoint, heap[least] as Endpoint)) least = left;
      if (right < heap.length && before(heap[right] as Endpoint, heap[least] as Endpoint)) least = right;
      if (least === i) return;
      swap(i, least);
      i = least;
    }
  };
  const push = (endpoint: Endpoint): void => {
    endpoint.index = heap.length;
    heap.push(endpoint);
    siftUp(endpoint.index);
  };
  const removeFromHeap = (endpoint: Endpoint): void => {
    const i = endpoint.index;
    if (i < 0) return;
    const last = heap.pop() as Endpoint;
    endpoint.index = -1;
    if (last === endpoint) return;
    heap[i] = last;
    last.index = i;
    siftDown(i);
    siftUp(last.index);
  };
  const reschedule = (endpoint: Endpoint, due: number): void => {
    endpoint.due = due;
    if (endpoint.index >= 0) {
      siftDown(endpoint.index);
      siftUp(endpoint.index);
    } else if (!endpoint.running && !endpoint.removed) {
      push(endpoint);
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
    for (const endpoint of heap) if (endpoint.due <= at) waiting++;
    log.warn(
      { waiting, lagMs: at - first.due, concurrency, agents: listings.size },
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

  /**
   * Asks the store for the endpoint's check; a host known to have had its checks of the window is
   * not asked again. One host's claims go one after another, so that the endpoints waiting longest
   * for its turn are the ones it serves.
   */
  const claim = (endpoint: Endpoint, at: number): Promise<HealthClaimResult> => {
    const windowStart = windowOf(at);
    const previous = hostClaims.get(endpoint.host) ?? Promise.resolve();
    const asked = previous.then(async () => {
      if (busyHosts.get(endpoint.host) === windowStart) return "host_busy" as const;
      const result = await store.claimHealthCheck({
        endpoint: endpoint.key,
        host: endpoint.host,
        at,
        intervalMs: interval,
        perHost,
      });
      if (result === "host_busy") busyHosts.set(endpoint.host, windowStart);
      return result;
    });
    const settled = asked.catch(() => {});
    hostClaims.set(endpoint.host, settled);
    void settled.then(() => {
      if (hostClaims.get(endpoint.host) === settled) hostClaims.delete(endpoint.host);
    });
    return asked;
  };

  const run = (endpoint: Endpoint): void => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
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
        const granted = await claim(endpoint, at);
        if (granted === "host_busy") {
          deferred++;
          if (endpoint.waitingSince === Number.POSITIVE_INFINITY) endpoint.waitingSince = ++waitSeq;
          next = windowOf(at) + interval;
          return;
        }
        endpoint.waitingSince = Number.POSITIVE_INFINITY;
        if (granted === "checked") {
          shared++;
          return;
        }
      }
      const result = await probe(endpoint);
      checks++;
      if (endpoint.removed || stopped) return;
      const checked = [...endpoint.listings.values()];
      outcomes = checked.map((listing) => ({ agentId: listing.id, healthy: result.healthy }));
      options.onCheck?.(result.healthy);
      buffer.push(...outcomes);
      if (buffer.length >= FLUSH_BATCH) void flush();
      else if (flushAt === Number.POSITIVE_INFINITY) flushAt = now() + flushInterval;
      if (!result.healthy) {
        log.debug(
          { endpoint: endpoint.key, agents: checked.length, reason: result.reason },
          "health check failed",
        );
      }
      const health = await store.recordEndpointHealth(
        endpoint.key,
        endpoint.host,
        result.healthy,
        clock.now().toISOString(),
      );
      await changeStatuses(endpoint, checked, result, health);
    })()
      .catch((error: unknown) =>
        log.error({ err: error, endpoint: endpoint.key }, "health check failed to run"),
      )
      .finally(() => {
        inFlight--;
        endpoint.running = false;
        endpoint.controller = undefined;
        const waiters = endpoint.waiters;
        endpoint.waiters = [];
        for (const resolve of waiters) resolve(outcomes);
        if (!endpoint.removed) reschedule(endpoint, Math.max(next, now()));
        pump(now());
        arm();
      });
    keep(work);
  };

  const probe = async (endpoint: Endpoint): Promise<{ healthy: boolean; reason?: string }> => {
    const { host } = endpoint.url;
    // The lookup below is not asked about IP literals: refuse a non-public one here.
    if (!options.dev && isIP(host) !== 0 && !isPublicAddress(host)) {
      return { healthy: false, reason: `non-public address ${host}` };
    }
    const controller = new AbortController();
    endpoint.controller = controller;
    const timeout = timers.setTimeout(() => controller.abort(), settings.healthTimeoutMs);
    try {
      const response = await agent.request({
        origin: endpoint.url.origin,
        path: endpoint.url.path,
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
   * Marks the endpoint's listings down once its failures in a row (counted in the store, by every
   * broker) reach `failuresBeforeDown`, or up at its first success, and alerts once per change.
   * The store says whether this process made the change: it alone alerts. At the crossing itself
   * the change is asked for even when this process already believes it made: another broker may
   * have changed the listing back since this one last read it.
   */
  const changeStatuses = async (
    endpoint: Endpoint,
    checked: Listing[],
    result: { healthy: boolean; reason?: string },
    health: EndpointHealth,
  ): Promise<void> => {
    const threshold = settings.failuresBeforeDown;
    for (const listing of checked) {
      if (endpoint.listings.get(listing.id) !== listing) continue;
      if (result.healthy) {
        if (listing.status === "down" || health.previousFailures >= threshold) {
          await changeStatus(listing, "active", health.failures, result.reason);
        }
      } else if (
        health.failures >= threshold &&
        (listing.status === "active" || health.failures === threshold)
      ) {
        await changeStatus(listing, "down", health.failures, result.reason);
      }
    }
  };

  const changeStatus = async (
    listing: Listing,
    status: "active" | "down",
    failures: number,
    reason: string | undefined,
  ): Promise<void> => {
    const at = clock.now().toISOString();
    const was = listing.status;
    listing.status = status;
    listing.changed = ++seq;
    let changed: boolean;
    try {
      changed = await store.setAgentHealthStatus(listing.id, status, at);
    } catch (error) {
      listing.status = was;
      throw error;
    }
    if (!changed) return;
    if (status === "active") {
      log.info({ agentId: listing.id }, "agent recovered");
      alerts.notify({ kind: "agent_recovered", agentId: listing.id, at });
    } else {
      log.warn({ agentId: listing.id, failures, reason }, "agent is down");
      alerts.notify({ kind: "agent_down", agentId: listing.id, at, consecutiveFailures: failures });
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

  // --- the listings ---------------------------------------------------------------------------

  /** The endpoint of `apiEndpoint`, created (and scheduled at `at`) if it is new; undefined when not a URL. */
  const endpointFor = (apiEndpoint: string, at: number): Endpoint | undefined => {
    let parsed: URL;
    try {
      parsed = new URL(healthUrl(apiEndpoint));
    } catch {
      return undefined;
    }
    const existing = endpoints.get(parsed.href);
    if (existing) return existing;
    const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    const endpoint: Endpoint = {
      key: parsed.href,
      url: { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}`, host },
      host: host.toLowerCase().replace(/\.+$/, ""),
      listings: new Map(),
      due: at,
      waitingSince: Number.POSITIVE_INFINITY,
      index: -1,
      running: false,
      removed: false,
      forced: false,
      controller: undefined,
      waiters: [],
    };
    endpoints.set(endpoint.key, endpoint);
    push(endpoint);
    return endpoint;
  };

  /** Takes a listing off its endpoint; an endpoint left without listings is no longer checked. */
  const detach = (listing: Listing): void => {
    const endpoint = listing.endpoint;
    endpoint.listings.delete(listing.id);
    if (endpoint.listings.size > 0) return;
    endpoints.delete(endpoint.key);
    endpoint.removed = true;
    removeFromHeap(endpoint);
    endpoint.controller?.abort();
  };

  /**
   * Adds a listing or refreshes one from the store's view, read when `seq` was `readAt`: the
   * stored status wins unless the status changed here since.
   */
  const upsert = (record: HealthCheckTarget, at: number, readAt: number): Listing | undefined => {
    const existing = listings.get(record.id);
    let endpoint = existing?.endpoint;
    if (!existing || healthUrlOf(record.apiEndpoint) !== existing.endpoint.key) {
      endpoint = endpointFor(record.apiEndpoint, at);
      if (!endpoint) {
        log.warn({ agentId: record.id }, "agent endpoint is not a URL; not health-checked");
        if (existing) remove(record.id);
        return undefined;
      }
    }
    if (existing) {
      if (existing.endpoint !== endpoint) {
        detach(existing);
        existing.endpoint = endpoint as Endpoint;
        (endpoint as Endpoint).listings.set(existing.id, existing);
      }
      if (!(existing.changed > readAt) && existing.status !== record.status) {
        existing.status = record.status;
        existing.changed = ++seq;
      }
      return existing;
    }
    const born = ++seq;
    const listing: Listing = {
      id: record.id,
      endpoint: endpoint as Endpoint,
      status: record.status,
      born,
      changed: born,
    };
    listings.set(listing.id, listing);
    listing.endpoint.listings.set(listing.id, listing);
    return listing;
  };

  const remove = (agentId: string): void => {
    const listing = listings.get(agentId);
    if (!listing) return;
    listings.delete(agentId);
    detach(listing);
  };

  /**
   * Reconciles the schedule with the store; new endpoints are spread over one interval. Works in
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
    for (const [id, listing] of [...listings]) if (!seen.has(id) && listing.born <= readAt) remove(id);
    if (first) {
      log.info(
        { agents: list.length, endpoints: endpoints.size, intervalMs: interval, concurrency, perHost },
        "health checks started",
      );
    }
    arm();
  };

  const trackAgent = async (agentId: string): Promise<Listing | undefined> => {
    const readAt = seq;
    const record = await store.getAgent(agentId);
    // Only listings that are up or down are checked (not deactivated ones, nor any other status).
    if (!record || (record.status !== "active" && record.status !== "down")) {
      remove(agentId);
      return undefined;
    }
    const listing = upsert(
      { id: record.id, apiEndpoint: record.apiEndpoint, status: record.status },
      now(),
      readAt,
    );
    if (!listing) return undefined;
    // Checked at once, unless its endpoint was already checked in this window (by any broker).
    if (!listing.endpoint.running) reschedule(listing.endpoint, Math.min(listing.endpoint.due, now()));
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
      for (const endpoint of endpoints.values()) endpoint.controller?.abort();
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
      let chosen: Endpoint[];
      if (agentId === undefined) {
        if (endpoints.size === 0) await load(false);
        chosen = [...endpoints.values()];
      } else {
        const listing = listings.get(agentId) ?? (await trackAgent(agentId));
        chosen = listing ? [listing.endpoint] : [];
      }
      const waits = chosen.map((endpoint) => {
        const wait = waitFor(endpoint);
        if (!endpoint.running) {
          endpoint.forced = true;
          reschedule(endpoint, Number.NEGATIVE_INFINITY);
        }
        return wait;
      });
      pump(now());
      const outcomes = (await Promise.all(waits)).flatMap((list) => list ?? []);
      await flush();
      return agentId === undefined ? outcomes : outcomes.filter((outcome) => outcome.agentId === agentId);
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
      for (const endpoint of heap) if (endpoint.due <= at) waiting++;
      return {
        agents: listings.size,
        endpoints: endpoints.size,
        inFlight,
        maxInFlight,
        checks,
        waiting,
        shared,
        deferred,
      };
    },
  };
}

/** The health URL of an endpoint, or undefined when it is not a URL. */
function healthUrlOf(apiEndpoint: string): string | undefined {
  try {
    return healthUrl(apiEndpoint);
  } catch {
    return undefined;
  }
}

/** Kept here too: the metrics index and the tests import it from the health checker. */
export { healthUrl };
