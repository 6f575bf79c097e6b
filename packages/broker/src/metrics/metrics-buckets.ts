import { cappedBuyerWeights } from "@mercato/protocol";
import type { BuyerTotals } from "./buyer-weights.js";
import type { AgentWindowMetrics, CallOutcome, HealthCheckOutcome, MetricsWindow } from "./port.js";

// The metric buckets both stores keep the same way: time and window arithmetic, the response-time
// histogram, what a flush adds to a bucket and to the window totals, and a window's figures.

/**
 * Upper bounds (inclusive, ms) of the response-time histogram's buckets: 24 bounds on a rough
 * log scale from 1 ms to 60 s, each at most twice the one before; a 25th bucket holds slower calls.
 * They are part of the stored format (columns `rt0`…`rt24`): never change them without a migration.
 */
export const RESPONSE_TIME_BOUNDS_MS: readonly number[] = Object.freeze([
  1, 2, 3, 5, 8, 13, 20, 30, 50, 80, 130, 200, 300, 500, 800, 1_300, 2_000, 3_000, 5_000, 8_000, 13_000,
  20_000, 35_000, 60_000,
]);

/** Histogram columns: `rtN` counts calls that took at most bound N and more than bound N − 1. */
const HISTOGRAM = Array.from({ length: RESPONSE_TIME_BOUNDS_MS.length + 1 }, (_, i) => `rt${i}`);

/**
 * The summed columns of a bucket as migration 5 (SQLite) and version 1 (PostgreSQL) created them:
 * frozen, as shipped migrations are.
 */
export const SUMS_V5: readonly string[] = Object.freeze([
  "calls",
  "successes",
  "response_us",
  "health_checks",
  "healthy_checks",
  ...HISTOGRAM,
]);

/**
 * Every summed column of a bucket, in the order buckets are read and written: migration 10
 * (PostgreSQL 4) added `client_errors`, calls that failed by the buyer's fault (not in `calls`).
 */
export const SUMS: readonly string[] = Object.freeze([
  "calls",
  "successes",
  "response_us",
  "health_checks",
  "healthy_checks",
  "client_errors",
  ...HISTOGRAM,
]);

/** The columns of an agent's window totals (`agent_metric_windows`), in this order. */
export const WINDOW_TOTALS: readonly (keyof WindowTotals)[] = Object.freeze([
  "calls_30d",
  "successes_30d",
  "response_us_30d",
  "health_checks_24h",
  "healthy_checks_24h",
]);

/** An agent's window totals: calls over every bucket (30 days), health checks over the minutes (24 h). */
export interface WindowTotals {
  calls_30d: number;
  successes_30d: number;
  response_us_30d: number;
  health_checks_24h: number;
  healthy_checks_24h: number;
}

/** The totals of an agent with no totals row. */
export const ZERO_TOTALS: Readonly<WindowTotals> = Object.freeze({
  calls_30d: 0,
  successes_30d: 0,
  response_us_30d: 0,
  health_checks_24h: 0,
  healthy_checks_24h: 0,
});

/** Buckets and windows count time in whole minutes since the Unix epoch. */
export const MINUTE_MS = 60_000;
const DAY_MINUTES = 24 * 60;
const WINDOW_MINUTES: Record<MetricsWindow, number> = {
  "24h": DAY_MINUTES,
  "7d": 7 * DAY_MINUTES,
  "30d": 30 * DAY_MINUTES,
};
/** Agents rescored per transaction by a refresh. */
export const RESCORE_CHUNK = 1_000;
/** A response time above this (a day) is a broken clock, not a measurement. */
const MAX_RESPONSE_MS = 24 * 60 * 60 * 1000;

/** Unix time in whole minutes of an ISO 8601 time. */
export function minuteOf(iso: string): number {
  return Math.floor(Date.parse(iso) / MINUTE_MS);
}

/**
 * The first minute (Unix time in minutes) of `window` ending in minute `nowMinute`. A window sums
 * every bucket that starts from there up to `nowMinute`, so it is exact at minute granularity:
 *
 * - 24h: the 1,440 minutes ending with the current one. A minute belongs to it or not, whole; a
 *   call 24 h + 1 min ago is out. The rollup never touches these minutes, so they are all minute
 *   buckets.
 * - 7d and 30d: data older than 24 hours is kept per hour, and an hour cannot be split, so the
 *   window starts at the first whole hour inside the span (it covers 7 d or 30 d less up to 59
 *   minutes). Every minute from that hour on is in exactly one bucket starting at or after it, so
 *   the sum is exact for [start, now], which the answer reports as `from`.
 */
export function windowStart(window: MetricsWindow, nowMinute: number): number {
  const first = nowMinute - WINDOW_MINUTES[window] + 1;
  return window === "24h" ? first : Math.ceil(first / 60) * 60;
}

/** The histogram bucket of a response time. */
export function histogramBucket(responseTimeMs: number): number {
  const index = RESPONSE_TIME_BOUNDS_MS.findIndex((bound) => responseTimeMs <= bound);
  return index === -1 ? RESPONSE_TIME_BOUNDS_MS.length : index;
}

/**
 * The `q` quantile (0–1) of the response times counted in `histogram`, interpolated linearly
 * within its bucket; null when it counts nothing. The true value lies in the same bucket, so the
 * error is at most that bucket's width (at most the bucket's lower bound, as a bound is at most
 * twice the one before). Past the last bound (60 s) the answer is the last bound.
 */
export function histogramQuantile(histogram: readonly number[], q: number): number | null {
  const total = histogram.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (const [i, count] of histogram.entries()) {
    if (count > 0 && below + count >= rank) {
      const last = RESPONSE_TIME_BOUNDS_MS.length - 1;
      const lower = i === 0 ? 0 : (RESPONSE_TIME_BOUNDS_MS[Math.min(i - 1, last)] as number);
      const upper = RESPONSE_TIME_BOUNDS_MS[Math.min(i, last)] as number;
      return lower + ((upper - lower) * Math.max(0, rank - below)) / count;
    }
    below += count;
  }
  return RESPONSE_TIME_BOUNDS_MS.at(-1) as number;
}

/** What one flush adds to one agent's current minute. */
export interface BucketDelta {
  calls: number;
  successes: number;
  clientErrors: number;
  /** Summed response times in ms, for the agent's lifetime counter. */
  responseMs: number;
  /** The same in whole µs, for the buckets. */
  responseUs: number;
  healthChecks: number;
  healthyChecks: number;
  histogram: number[];
}

const emptyDelta = (): BucketDelta => ({
  calls: 0,
  successes: 0,
  clientErrors: 0,
  responseMs: 0,
  responseUs: 0,
  healthChecks: 0,
  healthyChecks: 0,
  histogram: HISTOGRAM.map(() => 0),
});

/** What a flush of call outcomes adds to each agent's bucket, by agent id. */
export function callDeltas(outcomes: readonly CallOutcome[]): Map<string, BucketDelta> {
  const deltas = new Map<string, BucketDelta>();
  for (const outcome of outcomes) {
    const delta = deltas.get(outcome.agentId) ?? emptyDelta();
    deltas.set(outcome.agentId, delta);
    // The buyer's mistake: counted apart, never a call of the success rate or its times.
    if (outcome.outcome === "client_error") {
      delta.clientErrors++;
      continue;
    }
    // A clock jump can make a time negative or absurd: keep it in range rather than poison the sums.
    const ms = outcome.responseTimeMs > 0 ? Math.min(outcome.responseTimeMs, MAX_RESPONSE_MS) : 0;
    delta.calls++;
    if (outcome.outcome === "success") delta.successes++;
    delta.responseMs += ms;
    delta.responseUs += Math.round(ms * 1000);
    (delta.histogram[histogramBucket(ms)] as number)++;
  }
  return deltas;
}

/** What a flush of health checks adds to each agent's bucket, by agent id. */
export function checkDeltas(outcomes: readonly HealthCheckOutcome[]): Map<string, BucketDelta> {
  const deltas = new Map<string, BucketDelta>();
  for (const outcome of outcomes) {
    const delta = deltas.get(outcome.agentId) ?? emptyDelta();
    deltas.set(outcome.agentId, delta);
    delta.healthChecks++;
    if (outcome.healthy) delta.healthyChecks++;
  }
  return deltas;
}

/** A delta's values in {@link SUMS} order. */
export function bucketSums(delta: BucketDelta): number[] {
  return [
    delta.calls,
    delta.successes,
    delta.responseUs,
    delta.healthChecks,
    delta.healthyChecks,
    delta.clientErrors,
    ...delta.histogram,
  ];
}

/** A delta's values in {@link WINDOW_TOTALS} order: what it adds to the window totals. */
export function totalsSums(delta: BucketDelta): number[] {
  return bucketSums(delta).slice(0, WINDOW_TOTALS.length);
}

/**
 * An agent's figures over `window` ending at `now`, from the sums (in {@link SUMS} order) of its
 * buckets from minute `from` on.
 */
export function windowMetrics(
  agentId: string,
  window: MetricsWindow,
  now: string,
  from: number,
  sums: readonly number[],
  /** The agent's buyers over the ranking window, for `30d`. */
  buyers?: BuyerTotals,
): AgentWindowMetrics {
  const [calls = 0, successes = 0, responseUs = 0, healthChecks = 0, healthyChecks = 0, clientErrors = 0] =
    sums;
  const histogram = sums.slice(6);
  return {
    agentId,
    window,
    from: new Date(from * MINUTE_MS).toISOString(),
    to: now,
    calls,
    successes,
    clientErrors,
    meanResponseTimeMs: calls === 0 ? null : responseUs / 1000 / calls,
    p50ResponseTimeMs: histogramQuantile(histogram, 0.5),
    p95ResponseTimeMs: histogramQuantile(histogram, 0.95),
    healthChecks,
    healthyChecks,
    ranked: buyers ? cappedBuyerWeights(buyers.units, buyers.successUnits, buyers.top) : null,
  };
}
