import type { FastifyBaseLogger } from "fastify";
import type { AlertNotifier } from "../alerts/types.js";
import type { Clock } from "../platform/clock.js";
import type { ResolveHost } from "../platform/endpoint-policy.js";
import type { MonitoringSettings } from "../platform/settings.js";
import type { RegistryStore } from "../registry/port.js";
import type { HealthCheckOutcome, MetricsStore } from "./port.js";
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
  store: MetricsStore & Pick<RegistryStore, "getAgent">;
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
