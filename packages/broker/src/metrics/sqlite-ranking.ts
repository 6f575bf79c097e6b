import type { AgentScores } from "@mercato/protocol";
import { BUYER_CAP, RANKING, withCategoryPrior } from "@mercato/protocol";
import type Database from "better-sqlite3";
import {
  type BuyerTotals,
  categoryPriors,
  ESTABLISHED_LISTINGS,
  NO_BUYERS,
  type PriorRow,
  priorOf,
  RESCORE_CHUNK,
  SCORE_COLUMNS,
  type ScoreColumns,
  scoresDiffer,
  scoresOf,
  scoresOfRow,
  scoreValues,
  WINDOW_TOTALS,
  type WindowTotals,
} from "./metrics-math.js";

export type Prepare = (sql: string) => Database.Statement;

interface ScoredRow extends WindowTotals, ScoreColumns {
  seq: number;
  price_micros: number;
  category: string;
  units_30d: number;
  success_units_30d: number;
}

export const TOTALS_LIST = WINDOW_TOTALS.join(", ");
export const SET_SCORES = SCORE_COLUMNS.map((column) => `${column} = ?`).join(", ");
const SCORED_ROW = `a.seq, a.price_micros, a.category, ${SCORE_COLUMNS.map((column) => `a.${column}`).join(", ")},
  ${WINDOW_TOTALS.map((column) => `COALESCE(w.${column}, 0) AS ${column}`).join(", ")},
  COALESCE(w.units_30d, 0) AS units_30d, COALESCE(w.success_units_30d, 0) AS success_units_30d`;

/** The SQLite store's ranking figures: priors, buyers, and the rescoring of agents from their window totals. */
export interface SqliteRanking {
  categoryPriorOf(category: string): number;
  buyersOf(seq: number, units: number, successUnits: number): BuyerTotals;
  writeScores(seq: number, scores: AgentScores, at: string): void;
  /** Rescores the next chunk of agents with a totals row after `after` (one transaction). */
  rescoreFrom(after: number, now: string): { changed: number; last: number | undefined };
  /** Rescores the given agents (one transaction). */
  rescoreIds(agentIds: string[], now: string): number;
  refreshPriors(now: string): number;
}

/** Ranking refresh on SQLite: reads one totals row per agent, writes only figures that changed. */
export function createSqliteRanking(db: Database.Database, prepare: Prepare): SqliteRanking {
  /** Every category's stored prior (a category without one has the fallback). */
  const storedPriors = (): Map<string, number> =>
    new Map(
      (
        prepare("SELECT category, prior FROM category_priors").all() as Array<{
          category: string;
          prior: number;
        }>
      ).map((row) => [row.category, row.prior]),
    );
  const categoryPriorOf = (category: string): number =>
    (prepare("SELECT prior FROM category_priors WHERE category = ?").pluck().get(category) as
      | number
      | undefined) ?? RANKING.fallbackPrior;

  /** An agent's buyers as ranking reads them: its weight totals and its top buyers by calls. */
  const buyersOf = (seq: number, units: number, successUnits: number): BuyerTotals => {
    if (units === 0) return NO_BUYERS;
    const top = prepare(
      `SELECT calls_30d AS calls, units_30d AS units, success_units_30d AS successUnits
       FROM agent_buyer_windows WHERE agent_seq = ? ORDER BY calls_30d DESC LIMIT ${BUYER_CAP.topBuyers}`,
    ).all(seq) as BuyerTotals["top"];
    return { units, successUnits, top };
  };

  const writeScores = (seq: number, scores: AgentScores, at: string): void => {
    prepare(`UPDATE agents SET ${SET_SCORES}, metrics_updated_at = ? WHERE seq = ?`).run(
      ...scoreValues(scores),
      at,
      seq,
    );
  };

  /** Rescores `rows` (read in the same transaction) from their window totals; returns how many changed. */
  const rescoreRows = (rows: ScoredRow[], now: string): number => {
    let changed = 0;
    const priors = storedPriors();
    for (const row of rows) {
      const buyers = buyersOf(row.seq, row.units_30d, row.success_units_30d);
      const scores = scoresOf(row.price_micros, row, buyers, priorOf(priors, row.category));
      if (scoresDiffer(row, scores)) {
        writeScores(row.seq, scores, now);
        changed++;
      }
      if (row.calls_30d === 0 && row.health_checks_24h === 0 && row.units_30d === 0) {
        prepare("DELETE FROM agent_metric_windows WHERE agent_seq = ?").run(row.seq);
      }
    }
    return changed;
  };

  // Every agent with a totals row: measured in its windows, or whose last figures just left them
  // (the row goes once it is scored at zero). In agent order, from after `after`.
  const rescoreFrom = db.transaction(
    (after: number, now: string): { changed: number; last: number | undefined } => {
      const rows = prepare(
        `SELECT ${SCORED_ROW} FROM agent_metric_windows w JOIN agents a ON a.seq = w.agent_seq
       WHERE w.agent_seq > ? ORDER BY w.agent_seq LIMIT ${RESCORE_CHUNK}`,
      ).all(after) as ScoredRow[];
      return { changed: rescoreRows(rows, now), last: rows.at(-1)?.seq };
    },
  );

  const rescoreIds = db.transaction((agentIds: string[], now: string): number => {
    const rows = prepare(
      `SELECT ${SCORED_ROW} FROM agents a LEFT JOIN agent_metric_windows w ON w.agent_seq = a.seq
       WHERE a.id IN (SELECT value FROM json_each(?))`,
    ).all(JSON.stringify(agentIds)) as ScoredRow[];
    return rescoreRows(rows, now);
  });

  /**
   * Sets every category's prior from its established listings' ranked records as stored (see
   * `categoryPriors`), then moves every agent whose stored prior is not its category's (the
   * category's prior changed, or the agent changed category) to it; returns how many moved.
   */
  const refreshPriors = db.transaction((now: string): number => {
    const priors = categoryPriors(prepare(ESTABLISHED_LISTINGS).all() as PriorRow[]);
    prepare("DELETE FROM category_priors").run();
    const insert = prepare("INSERT INTO category_priors (category, prior) VALUES (?, ?)");
    for (const [category, prior] of priors) insert.run(category, prior);
    const stale = prepare(
      `SELECT a.seq, a.price_micros, a.category, ${SCORE_COLUMNS.map((column) => `a.${column}`).join(", ")}
       FROM agents a LEFT JOIN category_priors p ON p.category = a.category
       WHERE a.category_prior <> COALESCE(p.prior, ?)`,
    ).all(RANKING.fallbackPrior) as Array<
      ScoreColumns & { seq: number; price_micros: number; category: string }
    >;
    for (const row of stale) {
      writeScores(
        row.seq,
        withCategoryPrior(row.price_micros, scoresOfRow(row), priorOf(priors, row.category)),
        now,
      );
    }
    return stale.length;
  });

  return { categoryPriorOf, buyersOf, writeScores, rescoreFrom, rescoreIds, refreshPriors };
}
