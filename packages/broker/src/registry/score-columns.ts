import type { AgentScores } from "@mercato/protocol";

// The ranking figures as the `agents` table stores them (the registry's table; the metrics module
// computes and writes the figures, the registry reads them with each listing).

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
