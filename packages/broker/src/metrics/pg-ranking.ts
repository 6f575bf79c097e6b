import { type AgentScores, BUYER_CAP } from "@mercato/protocol";
import type { PgQueryable } from "../platform/db/pg-db.js";
import {
  type BuyerTotals,
  NO_BUYERS,
  SCORE_COLUMNS,
  type ScoreColumns,
  scoreValues,
  WINDOW_TOTALS,
  type WindowTotals,
  ZERO_TOTALS,
} from "./metrics-math.js";

// The PostgreSQL store's ranking figures: the statements writing them, the stored priors, and the
// window totals with buyers' weights they are computed from.

export const SCORES = SCORE_COLUMNS.join(", ");
export const SCORE_ARRAYS = `$1::bigint[], ${SCORE_COLUMNS.map((_, i) => `$${i + 2}::float8[]`).join(", ")}`;
/** The parameter after the score arrays: the time the figures are written as of. */
export const AT = SCORE_COLUMNS.length + 2;
export const SET_SCORES = `${SCORE_COLUMNS.map((c) => `${c} = v.${c}`).join(", ")}, metrics_updated_at = $${AT}`;
/** The parameters after the time: `$${AT + 1}`, … */
export const after = (i: number) => `$${AT + i}`;

/** Writes agents' figures (one array per score column, by `seq` in $1) as of the next parameter. */
export const WRITE_SCORES = `
  UPDATE agents AS a SET ${SET_SCORES}
  FROM unnest(${SCORE_ARRAYS}) AS v (seq, ${SCORES})
  WHERE a.seq = v.seq`;

/** The same, adding a flush (the five parameters after the time) to the agents' lifetime counters. */
export const COUNT_AND_SCORE = `
  UPDATE agents AS a SET ${SET_SCORES}, calls = a.calls + v.calls, successes = a.successes + v.successes,
    total_response_time_ms = a.total_response_time_ms + v.response_ms,
    health_checks = a.health_checks + v.health_checks, healthy_checks = a.healthy_checks + v.healthy_checks
  FROM unnest(${SCORE_ARRAYS}, ${after(1)}::bigint[], ${after(2)}::bigint[], ${after(3)}::float8[],
    ${after(4)}::bigint[], ${after(5)}::bigint[])
    AS v (seq, ${SCORES}, calls, successes, response_ms, health_checks, healthy_checks)
  WHERE a.seq = v.seq`;

/** An agent whose figures a refresh recomputes, locked. */
export interface LockedAgent extends ScoreColumns {
  seq: number;
  price_micros: number;
  category: string;
}

/** Every category's stored prior (a category without one has the fallback). */
export async function storedPriors(tx: PgQueryable): Promise<Map<string, number>> {
  const rows = await tx.query<{ category: string; prior: number }>(
    "SELECT category, prior FROM category_priors",
  );
  return new Map(rows.map((row) => [row.category, row.prior]));
}

/** An agent's window totals with its buyers' weights, as ranking reads them. */
export interface RankedTotals extends WindowTotals {
  buyers: BuyerTotals;
}

/** The totals of an agent with no totals row. */
export const ZERO_RANKED: Readonly<RankedTotals> = Object.freeze({ ...ZERO_TOTALS, buyers: NO_BUYERS });

/**
 * Agents' window totals and buyers' weights (by `seq`): their weight sums and top buyers by calls;
 * an agent without a row is all zero. Read under their row locks.
 */
export async function windowTotals(
  tx: PgQueryable,
  seqs: readonly number[],
): Promise<Map<number, RankedTotals>> {
  const rows = await tx.query<
    WindowTotals & { agent_seq: number; units_30d: number; success_units_30d: number; top: number[][] }
  >(
    `SELECT w.agent_seq, ${WINDOW_TOTALS.map((c) => `w.${c}`).join(", ")}, w.units_30d, w.success_units_30d,
       COALESCE((SELECT json_agg(json_build_array(b.calls_30d, b.units_30d, b.success_units_30d))
                 FROM (SELECT calls_30d, units_30d, success_units_30d FROM agent_buyer_windows
                       WHERE agent_seq = w.agent_seq ORDER BY calls_30d DESC LIMIT ${BUYER_CAP.topBuyers}) AS b),
                '[]'::json) AS top
     FROM agent_metric_windows w WHERE w.agent_seq = ANY($1::bigint[])`,
    [seqs],
  );
  return new Map(
    rows.map(({ agent_seq, units_30d, success_units_30d, top, ...totals }) => [
      agent_seq,
      {
        ...totals,
        buyers: {
          units: units_30d,
          successUnits: success_units_30d,
          top: top.map(([calls = 0, units = 0, successUnits = 0]) => ({ calls, units, successUnits })),
        },
      },
    ]),
  );
}

/** Writes agents' ranking figures as of `at` (in the caller's transaction, holding their row locks). */
export async function writeScores(
  tx: PgQueryable,
  scored: ReadonlyArray<{ seq: number; scores: AgentScores }>,
  at: string,
): Promise<void> {
  if (scored.length === 0) return;
  await tx.run(WRITE_SCORES, [...scoreArrays(scored), at]);
}

/** Agents' `seq`s, then one array per score column. */
export function scoreArrays(scored: ReadonlyArray<{ seq: number; scores: AgentScores }>): unknown[] {
  const values = scored.map((s) => scoreValues(s.scores));
  return [scored.map((s) => s.seq), ...SCORE_COLUMNS.map((_, column) => values.map((row) => row[column]))];
}
