import {
  type AgentScores,
  cappedBuyerWeights,
  categoryPrior,
  type ListingRecord,
  RANKING,
  scoreFromWindows,
  successLowerBound,
} from "@mercato/protocol";
import { type ScoreColumns, scoresOfRow, scoreValues } from "../registry/score-columns.js";
import type { BuyerTotals } from "./buyer-weights.js";
import type { WindowTotals } from "./metrics-buckets.js";

// The ranking figures both stores compute the same way: the scores of window totals and the category
// priors. Their stored columns are the registry's (`registry/score-columns.ts`), re-exported here.
export { SCORE_COLUMNS, type ScoreColumns, scoresOfRow, scoreValues } from "../registry/score-columns.js";

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
