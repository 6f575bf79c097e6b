import type { FastifyBaseLogger } from "fastify";
import type { AlertChannelsStore } from "../alerts/port.js";
import type { AlertNotifier } from "../alerts/types.js";
import type { Clock } from "../platform/clock.js";
import { SUCCESS_RATE_MIN_CALLS } from "../platform/settings.js";
import type { CallOutcome } from "./port.js";

const MINUTE_MS = 60_000;
/** The window is one hour of one-minute buckets. */
const BUCKETS = 60;

/** Watches each agent's success rate over the last hour and alerts below its owner's threshold. */
export interface SuccessRateMonitor {
  /** Counts one call (the outcome recorder's listener): O(1), no I/O; client errors are not the seller's. */
  record(outcome: CallOutcome): void;
  /** Compares each agent's last hour with its threshold and alerts on a crossing (once a minute). */
  evaluate(): Promise<void>;
  /** The agent's last hour as counted here. */
  lastHour(agentId: string): { calls: number; successes: number };
}

/** Options of {@link createSuccessRateMonitor}. */
export interface SuccessRateMonitorOptions {
  store: AlertChannelsStore;
  clock: Clock;
  alerts: AlertNotifier;
  log: Pick<FastifyBaseLogger, "info">;
  /** Fewer calls in the hour than this never alert (default 20). */
  minCalls?: number;
}

interface Window {
  /** The minute (since the epoch) each bucket counts; a bucket of an older minute is stale. */
  minutes: Float64Array;
  calls: Uint32Array;
  successes: Uint32Array;
}

/**
 * The low-success-rate alert. The store keeps figures per hour bucket over 24 h and more; the
 * alert wants a sliding hour, so calls are counted here as well, in memory, in a ring of 60
 * one-minute buckets per agent fed by the outcome recorder (about 1 KiB per agent called in the
 * last hour). `evaluate` alerts once when an agent's rate over at least `minCalls` calls drops
 * below its threshold, and re-arms once the rate is back at or above it (or the hour had no
 * calls). Agents with every call successful are never looked up in the store. The counts live in
 * this process: a restart starts the hour afresh, and each broker process watches its own calls.
 */
export function createSuccessRateMonitor(options: SuccessRateMonitorOptions): SuccessRateMonitor {
  const { store, clock, alerts } = options;
  const minCalls = options.minCalls ?? SUCCESS_RATE_MIN_CALLS;
  const windows = new Map<string, Window>();
  /** Agents alerted and not yet recovered: not alerted again. */
  const alerted = new Set<string>();

  const sum = (window: Window, minute: number): { calls: number; successes: number } => {
    let calls = 0;
    let successes = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if ((window.minutes[i] as number) > minute - BUCKETS) {
        calls += window.calls[i] as number;
        successes += window.successes[i] as number;
      }
    }
    return { calls, successes };
  };

  return {
    record(outcome) {
      // The buyer's own mistakes say nothing of the seller.
      if (outcome.outcome === "client_error") return;
      const minute = Math.floor(clock.now().getTime() / MINUTE_MS);
      let window = windows.get(outcome.agentId);
      if (!window) {
        window = {
          minutes: new Float64Array(BUCKETS).fill(Number.NEGATIVE_INFINITY),
          calls: new Uint32Array(BUCKETS),
          successes: new Uint32Array(BUCKETS),
        };
        windows.set(outcome.agentId, window);
      }
      const i = minute % BUCKETS;
      if (window.minutes[i] !== minute) {
        window.minutes[i] = minute;
        window.calls[i] = 0;
        window.successes[i] = 0;
      }
      (window.calls[i] as number)++;
      if (outcome.outcome === "success") (window.successes[i] as number)++;
    },

    async evaluate() {
      const now = clock.now();
      const minute = Math.floor(now.getTime() / MINUTE_MS);
      const candidates: Array<{ agentId: string; calls: number; rate: number }> = [];
      for (const [agentId, window] of windows) {
        const { calls, successes } = sum(window, minute);
        if (calls === 0) {
          windows.delete(agentId);
          alerted.delete(agentId);
          continue;
        }
        const rate = successes / calls;
        // A rate of 1 is below no threshold: only failing agents (and alerted ones, to re-arm) are looked up.
        if (alerted.has(agentId) || (calls >= minCalls && rate < 1))
          candidates.push({ agentId, calls, rate });
      }
      for (const { agentId, calls, rate } of candidates) {
        const threshold = (await store.getAlertChannels(agentId))?.successRateThreshold ?? null;
        if (threshold === null) {
          alerted.delete(agentId);
        } else if (alerted.has(agentId)) {
          if (rate >= threshold) alerted.delete(agentId);
        } else if (calls >= minCalls && rate < threshold) {
          alerted.add(agentId);
          options.log.info({ agentId, successRate: rate, threshold, calls }, "agent's success rate is low");
          alerts.notify({
            kind: "low_success_rate",
            agentId,
            at: now.toISOString(),
            successRate: rate,
            threshold,
            calls,
          });
        }
      }
    },

    lastHour(agentId) {
      const window = windows.get(agentId);
      const minute = Math.floor(clock.now().getTime() / MINUTE_MS);
      return window ? sum(window, minute) : { calls: 0, successes: 0 };
    },
  };
}

/** Options of {@link runSuccessRateChecks}. */
export interface SuccessRateChecksOptions {
  monitor: SuccessRateMonitor;
  /** The health checker's kind of timers (`SYSTEM_TIMERS`, or a test's). */
  timers: { setTimeout(callback: () => void, ms: number): unknown; clearTimeout(handle: unknown): void };
  log: Pick<FastifyBaseLogger, "error">;
}

/**
 * Evaluates `monitor` once a minute until stopped, a run still going when the next is due skipping
 * that turn. Every broker runs its own (each watches the calls it proxied), leader or not.
 */
export function runSuccessRateChecks(options: SuccessRateChecksOptions): { stop(): Promise<void> } {
  const { monitor, timers, log } = options;
  let timer: unknown;
  let stopped = false;
  let running: Promise<void> | undefined;
  const tick = (): void => {
    if (stopped) return;
    timer = timers.setTimeout(tick, MINUTE_MS);
    running ??= monitor
      .evaluate()
      .catch((error: unknown) => log.error({ err: error }, "success-rate check failed"))
      .finally(() => {
        running = undefined;
      });
  };
  timer = timers.setTimeout(tick, MINUTE_MS);
  return {
    async stop() {
      stopped = true;
      timers.clearTimeout(timer);
      await running;
    },
  };
}
