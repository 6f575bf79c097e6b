import { RANKING, successLowerBound } from "./ranking.js";

/**
 * The smoothing prior of every rate Mercato ranks by. Each measured figure is blended with a
 * prior worth a fixed number of observations (a Beta prior for rates, a pseudo-mean for time):
 *
 *   success_rate = (successes + 0.95 × 20) / (calls + 20)
 *   avg_response_time_ms = (Σ response times + 500 × 20) / (calls + 20)
 *   uptime = (healthy checks + 0.95 × 20) / (checks + 20)
 *
 * So a new agent starts at the prior (95% success, 500 ms, 95% up), one lucky call (1 of 1 →
 * 95.2%) cannot outrank a long record (9,980 of 10,000 → 99.79%), and the prior's weight fades as
 * calls accumulate.
 */
export const TRUST_PRIOR = {
  /** Pseudo-observations the prior is worth. */
  weight: 20,
  successRate: 0.95,
  responseTimeMs: 500,
  uptime: 0.95,
} as const;

/** Raw counters of one agent, as measured. */
export interface AgentCounters {
  /** Calls measured (excluding calls between accounts of one owner). */
  calls: number;
  /** Of those, the successful ones. */
  successes: number;
  /** Sum of the response times of the measured calls, in ms. */
  totalResponseTimeMs: number;
  /** Health checks made. */
  healthChecks: number;
  /** Of those, the healthy ones. */
  healthyChecks: number;
}

/**
 * The figures as measured, with no prior: null when there is nothing to measure (no calls, no
 * health checks). What a person reads; never what ranking sorts by.
 */
export interface MeasuredFigures {
  /** Successes / calls; null without calls. */
  successRate: number | null;
  /** Mean response time of the calls, ms; null without calls. */
  avgResponseTimeMs: number | null;
  /** Healthy checks / checks; null without checks. */
  uptime: number | null;
}

/**
 * An agent's stored figures: the smoothed ones search and ranking use, the conservative cost per
 * success (see `successLowerBound` in ranking.ts) and what it was computed from, and the measured
 * figures shown beside them.
 */
export interface AgentScores {
  /** Smoothed (and, when ranked, per-buyer capped) success rate. */
  successRate: number;
  avgResponseTimeMs: number;
  uptime: number;
  /** `success_rate*0.5 + clamp(1 − avg_response_time_ms/1000, 0, 1)*0.2 + uptime*0.3`, in [0, 1]. */
  trustScore: number;
  /** Micro-USD per successful call: price / {@link AgentScores}.successLowerBound (a ranking figure, not money). */
  costPerSuccessMicros: number;
  /** `successLowerBound(rankedSuccesses, rankedCalls, categoryPrior)`. */
  successLowerBound: number;
  /** The prior of the agent's category when it was scored (see `categoryPrior` in ranking.ts). */
  categoryPrior: number;
  /** The calls the ranking counts (per-buyer capped when ranked), and their successes. */
  rankedCalls: number;
  rankedSuccesses: number;
  /** The raw figures, for people. */
  measured: MeasuredFigures;
}

/** No calls, no checks: what a new agent is measured at. */
export const EMPTY_COUNTERS: AgentCounters = Object.freeze({
  calls: 0,
  successes: 0,
  totalResponseTimeMs: 0,
  healthChecks: 0,
  healthyChecks: 0,
});

/** Smoothed success rate of `successes` out of `calls`. */
export function smoothedRate(hits: number, total: number, prior: number): number {
  return (hits + prior * TRUST_PRIOR.weight) / (total + TRUST_PRIOR.weight);
}

/**
 * The trust formula, `success_rate × 0.5 + clamp(1 − avg_response_time_ms / 1000, 0, 1) × 0.2 +
 * uptime × 0.3`, on smoothed inputs, clamped to [0, 1].
 */
export function trustScore(successRate: number, avgResponseTimeMs: number, uptime: number): number {
  const speed = clamp(1 - avgResponseTimeMs / 1000, 0, 1);
  return clamp(successRate * 0.5 + speed * 0.2 + uptime * 0.3, 0, 1);
}

/**
 * Computes an agent's figures from its counters and price (micro-USD): the smoothed ones, the
 * conservative cost per success on the category's prior (default {@link RANKING}.fallbackPrior),
 * and the measured ones.
 *
 * @example
 * scoreAgent(20000, EMPTY_COUNTERS).costPerSuccessMicros; // 40249.97… (0.02 / 0.4969…)
 * scoreAgent(20000, EMPTY_COUNTERS).measured.successRate; // null
 */
export function scoreAgent(
  priceMicros: number,
  counters: AgentCounters,
  categoryPrior: number = RANKING.fallbackPrior,
): AgentScores {
  const successRate = smoothedRate(counters.successes, counters.calls, TRUST_PRIOR.successRate);
  const avgResponseTimeMs =
    (counters.totalResponseTimeMs + TRUST_PRIOR.responseTimeMs * TRUST_PRIOR.weight) /
    (counters.calls + TRUST_PRIOR.weight);
  const uptime = smoothedRate(counters.healthyChecks, counters.healthChecks, TRUST_PRIOR.uptime);
  const bound = successLowerBound(counters.successes, counters.calls, categoryPrior);
  return {
    successRate,
    avgResponseTimeMs,
    uptime,
    trustScore: trustScore(successRate, avgResponseTimeMs, uptime),
    costPerSuccessMicros: priceMicros / bound,
    successLowerBound: bound,
    categoryPrior,
    rankedCalls: counters.calls,
    rankedSuccesses: counters.successes,
    measured: measuredFigures(counters),
  };
}

/** The measured figures of counters: plain ratios, null where the denominator is 0. */
export function measuredFigures(counters: AgentCounters): MeasuredFigures {
  return {
    successRate: counters.calls > 0 ? counters.successes / counters.calls : null,
    avgResponseTimeMs: counters.calls > 0 ? counters.totalResponseTimeMs / counters.calls : null,
    uptime: counters.healthChecks > 0 ? counters.healthyChecks / counters.healthChecks : null,
  };
}

/**
 * An agent's figures with its category's prior changed to `categoryPrior`: the lower bound and
 * the cost per success recomputed from the ranked calls already scored, the rest kept. Equal to
 * scoring again from the same windows with that prior.
 */
export function withCategoryPrior(
  priceMicros: number,
  scores: AgentScores,
  categoryPrior: number,
): AgentScores {
  const bound = successLowerBound(scores.rankedSuccesses, scores.rankedCalls, categoryPrior);
  return { ...scores, categoryPrior, successLowerBound: bound, costPerSuccessMicros: priceMicros / bound };
}

/**
 * The windows the ranking figures are measured over: success rate and mean response time over the
 * last 30 days, uptime over the last 24 hours. Older figures fall out as the windows slide.
 */
export const SCORE_WINDOWS = { calls: "30d", uptime: "24h" } as const;

/** Calls measured over {@link SCORE_WINDOWS}' `calls` window (30 days). */
export type CallWindowCounters = Pick<AgentCounters, "calls" | "successes" | "totalResponseTimeMs">;

/** Health checks over {@link SCORE_WINDOWS}' `uptime` window (24 hours). */
export type UptimeWindowCounters = Pick<AgentCounters, "healthChecks" | "healthyChecks">;

/**
 * Computes an agent's figures from its windows (see {@link SCORE_WINDOWS}), with
 * {@link scoreAgent}'s formulas and prior: the calls of the last 30 days give the success rate and
 * mean response time, the health checks of the last 24 hours the uptime. Ranking passes `ranked`:
 * the success rate and its lower bound then count each buyer's calls by its weight, capped (see
 * {@link BUYER_WEIGHT}), and `categoryPrior`, the prior of the agent's category.
 *
 * @example
 * scoreFromWindows(20000, { calls: 1, successes: 1, totalResponseTimeMs: 200 }, { healthChecks: 0, healthyChecks: 0 })
 *   .successRate; // 0.952… (20 / 21)
 */
export function scoreFromWindows(
  priceMicros: number,
  calls: CallWindowCounters,
  uptime: UptimeWindowCounters,
  /**
   * The window's calls weighted and capped per buyer ({@link cappedBuyerWeights}): the success
   * rate and its lower bound are computed from these instead of the raw `calls`. The mean
   * response time and the measured figures stay raw.
   */
  ranked?: RankedCalls,
  /** The prior of the agent's category (see `categoryPrior`); default {@link RANKING}.fallbackPrior. */
  categoryPrior: number = RANKING.fallbackPrior,
): AgentScores {
  const scores = scoreAgent(
    priceMicros,
    {
      calls: calls.calls,
      successes: calls.successes,
      totalResponseTimeMs: calls.totalResponseTimeMs,
      healthChecks: uptime.healthChecks,
      healthyChecks: uptime.healthyChecks,
    },
    categoryPrior,
  );
  if (ranked === undefined) return scores;
  const successRate = smoothedRate(ranked.successes, ranked.calls, TRUST_PRIOR.successRate);
  return withCategoryPrior(
    priceMicros,
    {
      ...scores,
      successRate,
      trustScore: trustScore(successRate, scores.avgResponseTimeMs, scores.uptime),
      rankedCalls: ranked.calls,
      rankedSuccesses: ranked.successes,
    },
    categoryPrior,
  );
}

/**
 * How much one buyer's calls weigh in an agent's ranked success rate, and how far one buyer's
 * weight is capped. Weights are integer units, so the stored sums stay exact:
 *
 * - A call weighs {@link BUYER_WEIGHT}.establishedUnits (4 units, one call) when the buying account
 *   is at least a day old and has a completed top-up when the call is recorded, and
 *   `provisionalUnits` (1 unit, a quarter call) otherwise.
 * - A buyer's weight in the window (see {@link SCORE_WINDOWS}) is capped at `L × w_b`, where `w_b`
 *   is the buyer's mean weight per call (1 for an established account, 1/4 for a provisional one)
 *   and the level `L = max(C, r)`: `C` = {@link BUYER_CAP}.minUnits (40 units, ten calls) and `r`
 *   the level at which every buyer at the cap holds exactly 1/50 of the capped total
 *   (`r = E(r) / 50`, E the sum of every buyer's capped weight). Within its capped weight, a
 *   buyer's successes count in proportion (`s_b × e_b / u_b`).
 *
 * See {@link cappedBuyerWeights} for the bound this gives and its proof.
 */
export const BUYER_WEIGHT = Object.freeze({
  /** Units of one call of an established account: a whole call. */
  establishedUnits: 4,
  /** Units of one call of a provisional account (younger than a day, or no completed top-up). */
  provisionalUnits: 1,
  /** An account is established this long (ms) after its creation, once it has a completed top-up. */
  establishedAfterMs: 24 * 60 * 60 * 1000,
});

/** The per-buyer cap of the ranked success rate (see {@link BUYER_WEIGHT}). */
export const BUYER_CAP = Object.freeze({
  /** A buyer at the cap holds at most 1/share of the capped total (1/50: 2%). */
  share: 50,
  /** The lowest level, units (ten established calls): the cap while few buyers have called. */
  minUnits: 40,
  /**
   * At most this many buyers can be at the cap (each holds at least a quarter of the level, and
   * the capped total is at most 50 levels): scoring reads an agent's top buyers by calls only.
   */
  topBuyers: 200,
});

/** One buyer's calls to one agent over the ranking window. */
export interface BuyerWindow {
  /** Calls recorded. */
  calls: number;
  /** Their weight, units (see {@link BUYER_WEIGHT}). */
  units: number;
  /** The weight of the successful ones, units. */
  successUnits: number;
}

/** An agent's calls over the ranking window, weighted and capped, in calls (units / 4). */
export interface RankedCalls {
  calls: number;
  successes: number;
}

/**
 * An agent's ranked calls and successes (in calls: units / 4) from its buyers' weights over the
 * window: `totalUnits` and `totalSuccessUnits` over every buyer (and any weight of no known
 * buyer, which is never capped), and `top`, at least the {@link BUYER_CAP}.topBuyers buyers with
 * the most calls (any order; fewer when the agent has fewer buyers).
 *
 * The rule (see {@link BUYER_WEIGHT}): `e_b = min(u_b, L × w_b)` with `w_b = u_b / (4 × n_b)`, so a
 * buyer is at the cap when `4 × n_b > L`; the level `L = max(C, r)`, where `r` is the largest
 * solution of `50 × r = E(r) = Σ_b min(u_b, r × w_b)` (0 when there is none). E(L) is concave and
 * piecewise linear in L, so `r` is found by trying k = 0, 1, … buyers at the cap, most calls
 * first: `r = (T − Σ_{capped} u_b) / (50 − Σ_{capped} w_b)`, valid when it lies between the
 * k-th and (k+1)-th buyer's `4 × n_b`.
 *
 * Why the top buyers suffice: at the level L, the buyers at the cap each hold at least L / 4 and
 * together at most E(L) ≤ 50 × L (when L = r, E = 50 r; when L = C > r, E(C) < 50 C), so at most
 * 200 buyers are at the cap, and they are the ones with the most calls.
 *
 * The bound. Write E for the capped total and E₋b for everyone's but b's.
 *
 * 1. Every buyer's weight is `e_b ≤ L = max(C, E / 50)`.
 * 2. The ranked rate is `Σ e_b ρ_b / E` with `ρ_b = s_b / u_b`, and the weights depend on volumes
 *    only, never on outcomes. So whatever b's calls' outcomes, they move the rate by at most
 *    `e_b / E`. Once `E₋b ≥ 49 × C` (1,960 units: e.g. 49 other established buyers with at least
 *    ten calls each, 490 calls), `e_b / E ≤ 1/50`: if L = C, `e_b ≤ C ≤ E₋b / 49`; if L = r,
 *    `e_b ≤ r = E / 50`. So one buyer moves the rate by at most 2 percentage points.
 * 3. Adding b's calls to a window where no other buyer is at the cap changes no other weight (the
 *    level only rises as weight is added, and an uncapped buyer keeps `e_i = u_i`): the rate
 *    moves by at most `e_b / (E₋b + e_b) ≤ 1/50`, with or without b, outcomes as they may be.
 *    Where other buyers are at the cap, b's volume lifts the level a little and gives those honest
 *    buyers somewhat more of their own weight; their outcomes are not b's to choose.
 * 4. The smoothing prior is a pseudo-buyer of 20 calls at 95% that is never capped: it only adds
 *    to E₋b, so the bounds hold for the smoothed rate too.
 *
 * With fewer than 50 buyers nobody can be held to 2% of the rest (among ten buyers of equal
 * volume, an eleventh of that volume is an eleventh of the evidence, whatever the rule, as long as
 * it treats buyers alike): the level C then keeps any one buyer to ten calls' weight.
 *
 * @example
 * // 60 established buyers of 10 calls each, all successful, and one of 1,000 failed calls:
 * const honest = Array.from({ length: 60 }, () => ({ calls: 10, units: 40, successUnits: 40 }));
 * const ranked = cappedBuyerWeights(2400 + 4000, 2400, [...honest, { calls: 1000, units: 4000, successUnits: 0 }]);
 * ranked.successes / ranked.calls; // 0.98…: the failing buyer weighs 1/50 of the total
 */
export function cappedBuyerWeights(
  totalUnits: number,
  totalSuccessUnits: number,
  top: readonly BuyerWindow[],
): RankedCalls {
  const buyers = top
    .filter((buyer) => buyer.calls > 0 && buyer.units > 0)
    .map((buyer) => ({ ...buyer, reach: BUYER_WEIGHT.establishedUnits * buyer.calls }))
    .sort((a, b) => b.reach - a.reach);
  const level = Math.max(BUYER_CAP.minUnits, capLevel(totalUnits, buyers));
  let units = totalUnits;
  let successUnits = totalSuccessUnits;
  for (const buyer of buyers) {
    if (buyer.reach <= level) break;
    // e_b = L × w_b = L × u_b / reach_b; its successes scale with it.
    units += (buyer.units * level) / buyer.reach - buyer.units;
    successUnits += (buyer.successUnits * level) / buyer.reach - buyer.successUnits;
  }
  const perCall = BUYER_WEIGHT.establishedUnits;
  return { calls: Math.max(0, units) / perCall, successes: Math.max(0, successUnits) / perCall };
}

/** The largest r with `share × r = Σ min(u_b, r × w_b)` over `buyers` (most calls first), or 0. */
function capLevel(totalUnits: number, buyers: ReadonlyArray<{ units: number; reach: number }>): number {
  let cappedUnits = 0;
  let cappedWeight = 0;
  for (let k = 0; k <= buyers.length; k++) {
    if (k > 0) {
      const buyer = buyers[k - 1] as { units: number; reach: number };
      cappedUnits += buyer.units;
      cappedWeight += buyer.units / buyer.reach;
    }
    const room = BUYER_CAP.share - cappedWeight;
    if (room <= 0) return 0;
    const level = (totalUnits - cappedUnits) / room;
    const above = k === 0 ? Number.POSITIVE_INFINITY : (buyers[k - 1] as { reach: number }).reach;
    const below = k < buyers.length ? (buyers[k] as { reach: number }).reach : 0;
    if (level >= below && level <= above) return level;
  }
  return 0;
}

/** Rounds a display figure to `digits` decimals (rates to 4, times to 1, USD to 6). */
export function roundTo(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
