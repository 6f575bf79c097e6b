import {
  type AgentScores,
  BUYER_WEIGHT,
  type BuyerWindow,
  cappedBuyerWeights,
  categoryPrior,
  type ListingRecord,
  RANKING,
  scoreFromWindows,
  successLowerBound,
} from "@mercato/protocol";
import type { AgentWindowMetrics, CallOutcome, HealthCheckOutcome, MetricsWindow } from "./port.js";

// What both stores compute the same way around their metric buckets: time and window arithmetic,
// the response-time histogram, what a flush adds to a bucket, and the scores of window totals.

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

/** What one flush adds to one buyer's weight on one agent (see `BUYER_WEIGHT`). */
export interface BuyerDelta {
  agentId: string;
  buyerId: string;
  calls: number;
  units: number;
  successUnits: number;
}

/**
 * Whether a buyer's calls weigh a whole call at `at`: its account is at least a day old and has a
 * completed top-up. Decided when a call is recorded, from the account as it is then.
 */
export function isEstablished(createdAt: string, hasCompletedTopup: boolean, at: string): boolean {
  return hasCompletedTopup && Date.parse(at) - Date.parse(createdAt) >= BUYER_WEIGHT.establishedAfterMs;
}

/** A buying account as {@link createEstablishedBuyers} reads it. */
export interface BuyerAccountRow {
  id: string;
  created_at: string;
  topped_up: boolean | number;
}

/**
 * Which buyers weigh a whole call (see {@link isEstablished}), remembering the established ones (an
 * account, once established, stays so): `lookup` reads only the accounts not known yet, once per
 * flush. Both stores use it with their own query.
 */
export function createEstablishedBuyers(
  lookup: (accountIds: string[]) => BuyerAccountRow[] | Promise<BuyerAccountRow[]>,
): (buyerIds: Iterable<string>, at: string) => Promise<(buyerId: string) => boolean> {
  const established = new Set<string>();
  return async (buyerIds, at) => {
    const unknown = [...new Set(buyerIds)].filter((id) => !established.has(id));
    if (unknown.length > 0) {
      for (const row of await lookup(unknown)) {
        if (isEstablished(row.created_at, Boolean(row.topped_up), at)) established.add(row.id);
      }
    }
    return (buyerId) => established.has(buyerId);
  };
}

/**
 * What a flush of call outcomes adds to each (agent, buyer) weight, weighing each call by whether
 * its buyer is `established` (see {@link isEstablished}). Client errors weigh nothing.
 */
export function buyerDeltas(
  outcomes: readonly CallOutcome[],
  established: (buyerId: string) => boolean,
): BuyerDelta[] {
  const deltas = new Map<string, BuyerDelta>();
  for (const outcome of outcomes) {
    if (outcome.outcome === "client_error") continue;
    const key = `${outcome.agentId}\n${outcome.buyerId}`;
    let delta = deltas.get(key);
    if (!delta) {
      delta = { agentId: outcome.agentId, buyerId: outcome.buyerId, calls: 0, units: 0, successUnits: 0 };
      deltas.set(key, delta);
    }
    const units = established(outcome.buyerId)
      ? BUYER_WEIGHT.establishedUnits
      : BUYER_WEIGHT.provisionalUnits;
    delta.calls++;
    delta.units += units;
    if (outcome.outcome === "success") delta.successUnits += units;
  }
  return [...deltas.values()];
}

/**
 * What ranking reads of an agent's buyers over the 30-day window: its total weight and the weight
 * of its successes (units), and its top buyers by calls (`BUYER_CAP.topBuyers` of them).
 */
export interface BuyerTotals {
  units: number;
  successUnits: number;
  top: BuyerWindow[];
}

/** An agent with no weighed calls. */
export const NO_BUYERS: Readonly<BuyerTotals> = Object.freeze({ units: 0, successUnits: 0, top: [] });

/** A delta's values in {@link WINDOW_TOTALS} order: what it adds to the window totals. */
export function totalsSums(delta: BucketDelta): number[] {
  return bucketSums(delta).slice(0, WINDOW_TOTALS.length);
}

/**
 * The figures of an agent priced `priceMicros` from its window totals and buyers: success rate
 * over 30 days with each buyer's weight capped (`cappedBuyerWeights`) and its lower bound on the
 * category's prior, mean time over 30 days, uptime over 24 hours, and the measured figures.
 */
export function scoresOf(
  priceMicros: number,
  totals: WindowTotals,
  buyers: BuyerTotals,
  prior: number,
): AgentScores {
  return scoreFromWindows(
    priceMicros,
    {
      calls: totals.calls_30d,
      successes: totals.successes_30d,
      totalResponseTimeMs: totals.response_us_30d / 1000,
    },
    { healthChecks: totals.health_checks_24h, healthyChecks: totals.healthy_checks_24h },
    cappedBuyerWeights(buyers.units, buyers.successUnits, buyers.top),
    prior,
  );
}

/** The stored figures of an agent, as columns (measured ones null without data). */
export interface ScoreColumns {
  success_rate: number;
  avg_response_time_ms: number;
  uptime_24h: number;
  trust_score: number;
  cost_per_success: number;
  success_lower_bound: number;
  category_prior: number;
  ranked_calls: number;
  ranked_successes: number;
  measured_success_rate: number | null;
  measured_response_time_ms: number | null;
  measured_uptime: number | null;
}

/** The columns of {@link ScoreColumns}, in the order of {@link scoreValues}. */
export const SCORE_COLUMNS: readonly (keyof ScoreColumns)[] = Object.freeze([
  "success_rate",
  "avg_response_time_ms",
  "uptime_24h",
  "trust_score",
  "cost_per_success",
  "success_lower_bound",
  "category_prior",
  "ranked_calls",
  "ranked_successes",
  "measured_success_rate",
  "measured_response_time_ms",
  "measured_uptime",
]);

/** Stored figures as the values of {@link SCORE_COLUMNS}. */
export function scoreValues(scores: AgentScores): Array<number | null> {
  return [
    scores.successRate,
    scores.avgResponseTimeMs,
    scores.uptime,
    scores.trustScore,
    scores.costPerSuccessMicros,
    scores.successLowerBound,
    scores.categoryPrior,
    scores.rankedCalls,
    scores.rankedSuccesses,
    scores.measured.successRate,
    scores.measured.avgResponseTimeMs,
    scores.measured.uptime,
  ];
}

/** The figures stored in a row. */
export function scoresOfRow(row: ScoreColumns): AgentScores {
  return {
    successRate: row.success_rate,
    avgResponseTimeMs: row.avg_response_time_ms,
    uptime: row.uptime_24h,
    trustScore: row.trust_score,
    costPerSuccessMicros: row.cost_per_success,
    successLowerBound: row.success_lower_bound,
    categoryPrior: row.category_prior,
    rankedCalls: row.ranked_calls,
    rankedSuccesses: row.ranked_successes,
    measured: {
      successRate: row.measured_success_rate,
      avgResponseTimeMs: row.measured_response_time_ms,
      uptime: row.measured_uptime,
    },
  };
}

/** Whether `scores` differ from the figures stored in `row`. */
export function scoresDiffer(row: ScoreColumns, scores: AgentScores): boolean {
  const stored = scoreValues(scoresOfRow(row));
  return scoreValues(scores).some((value, i) => value !== stored[i]);
}

/** The lower bound of a listing with no record in a category at the fallback prior. */
export const FALLBACK_LOWER_BOUND = successLowerBound(0, 0, RANKING.fallbackPrior);

/**
 * What migration 15 (SQLite) and 9 (PostgreSQL) do to the agents rows, in both dialects (`real`:
 * the engine's double type, so that the figures are the ones JavaScript computes): the measured
 * figures from the window totals; the ranking figures of a listing with no record, which every
 * listing keeps until the score refresher (within its first interval) rescores the ones with a
 * record and sets the category priors.
 */
export function figuresBackfill(real: "REAL" | "DOUBLE PRECISION"): string {
  const double = (value: string | number) => `CAST(${value} AS ${real})`;
  return `
  UPDATE agents SET success_lower_bound = ${double(FALLBACK_LOWER_BOUND)},
    category_prior = ${double(RANKING.fallbackPrior)},
    cost_per_success = ${double("price_micros")} / ${double(FALLBACK_LOWER_BOUND)};
  UPDATE agents AS a SET
    measured_success_rate = CASE WHEN w.calls_30d > 0 THEN ${double("w.successes_30d")} / w.calls_30d END,
    measured_response_time_ms = CASE WHEN w.calls_30d > 0 THEN ${double("w.response_us_30d")} / 1000 / w.calls_30d END,
    measured_uptime = CASE WHEN w.health_checks_24h > 0 THEN ${double("w.healthy_checks_24h")} / w.health_checks_24h END
  FROM agent_metric_windows AS w WHERE w.agent_seq = a.seq;
`;
}

/** One listed agent's ranked 30-day record, as the category priors read it. */
export interface PriorRow {
  category: string;
  owner_id: string;
  ranked_calls: number;
  ranked_successes: number;
}

/**
 * The listed agents with enough ranked calls to count in their category's prior (see
 * `categoryPrior`): the select list and condition both stores read them with.
 */
export const ESTABLISHED_LISTINGS = `SELECT category, owner_id, ranked_calls, ranked_successes FROM agents
  WHERE status <> 'inactive' AND ranked_calls >= ${RANKING.establishedCalls}`;

/**
 * Each category's prior (`categoryPrior` in protocol) from its established listings, one record
 * per owner: an owner's established listings in a category are pooled into one record before the
 * median is taken, so that an owner who registers many listings in a category (a competitor
 * registering junk listings and failing them on purpose, or a busy seller) counts once. Categories
 * absent from the map have the fallback prior.
 */
export function categoryPriors(rows: readonly PriorRow[]): Map<string, number> {
  const byCategory = new Map<string, Map<string, ListingRecord>>();
  for (const row of rows) {
    if (row.ranked_calls < RANKING.establishedCalls) continue;
    const owners = byCategory.get(row.category) ?? new Map<string, ListingRecord>();
    byCategory.set(row.category, owners);
    const pooled = owners.get(row.owner_id) ?? { calls: 0, successes: 0 };
    owners.set(row.owner_id, {
      calls: pooled.calls + row.ranked_calls,
      successes: pooled.successes + row.ranked_successes,
    });
  }
  const priors = new Map<string, number>();
  for (const [category, owners] of byCategory) {
    const prior = categoryPrior([...owners.values()]);
    if (prior !== RANKING.fallbackPrior) priors.set(category, prior);
  }
  return priors;
}

/** The prior of `category` in `priors` (from the `category_priors` table), or the fallback. */
export function priorOf(priors: ReadonlyMap<string, number>, category: string): number {
  return priors.get(category) ?? RANKING.fallbackPrior;
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
