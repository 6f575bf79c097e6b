import { SCORE_WINDOWS } from "@mercato/protocol";
import Database from "better-sqlite3";
import {
  type BucketDelta,
  type BuyerAccountRow,
  type BuyerDelta,
  bucketSums,
  buyerDeltas,
  callDeltas,
  checkDeltas,
  createEstablishedBuyers,
  minuteOf,
  NO_BUYERS,
  RESCORE_CHUNK,
  SUMS,
  scoresOf,
  scoreValues,
  totalsSums,
  WINDOW_TOTALS,
  type WindowTotals,
  windowMetrics,
  windowStart,
  ZERO_TOTALS,
} from "./metrics-math.js";
import type {
  AgentWindowMetrics,
  CallOutcome,
  HealthCheckOutcome,
  MetricsStore,
  MetricsWindow,
} from "./port.js";
import { addBuyers, rollUp, windowSums } from "./sqlite-metric-windows.js";
import { createSqliteRanking, type Prepare, SET_SCORES, TOTALS_LIST } from "./sqlite-ranking.js";

export { FIGURES_MIGRATION, METRICS_BUYERS_MIGRATION, METRICS_MIGRATION } from "./sqlite-metrics-schema.js";

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The metrics methods of the SQLite store, plus `rescore` for a price or category change and `priorOf`. */
export interface SqliteMetrics {
  store: Pick<
    MetricsStore,
    "recordCallOutcomes" | "recordHealthChecks" | "getAgentMetrics" | "refreshScores"
  >;
  /**
   * Rewrites an agent's ranking figures from its window totals at its price and category as
   * stored (after a change of either), inside the caller's transaction.
   */
  rescore(seq: number, at: string): void;
  /** The prior of `category` now (see `categoryPriors`), for a new listing. */
  priorOf(category: string): number;
}

/**
 * Per-agent metrics on SQLite (see {@link METRICS_MIGRATION}). Writes add each flush to the current
 * minute bucket (one upsert per agent), the window totals and the agents' lifetime counters, and
 * rescore the agents they touch, in one transaction. `refreshScores` rolls minutes older than 24 h
 * into hours, drops hours older than 30 days, takes both out of the window totals, and rescores:
 * it reads only the buckets leaving a window and one totals row per agent.
 */
export function createSqliteMetrics(db: Database.Database, prepare: Prepare): SqliteMetrics {
  const agentOf = (agentId: string) =>
    prepare("SELECT seq, price_micros, category FROM agents WHERE id = ?").get(agentId) as
      | { seq: number; price_micros: number; category: string }
      | undefined;

  const { categoryPriorOf, buyersOf, writeScores, rescoreFrom, rescoreIds, refreshPriors } =
    createSqliteRanking(db, prepare);

  /** Which buyers weigh a whole call at a time (see `isEstablished`). */
  const establishedAt = createEstablishedBuyers(
    (accountIds) =>
      prepare(
        `SELECT a.id, a.created_at,
           EXISTS (SELECT 1 FROM topups t WHERE t.account_id = a.id AND t.status = 'succeeded') AS topped_up
         FROM accounts a WHERE a.id IN (SELECT value FROM json_each(?))`,
      ).all(JSON.stringify(accountIds)) as BuyerAccountRow[],
  );

  const record = db.transaction(
    (deltas: Map<string, BucketDelta>, buyers: readonly BuyerDelta[], at: string): void => {
      const minute = minuteOf(at);
      // The agents written are rescored on windows as of `at`, even with no refresher running. Cheap:
      // the refresher has usually rolled up already, and then this reads nothing.
      rollUp(prepare, minute);
      const byAgent = new Map<string, BuyerDelta[]>();
      for (const buyer of buyers) byAgent.set(buyer.agentId, [...(byAgent.get(buyer.agentId) ?? []), buyer]);
      for (const [agentId, delta] of deltas) {
        const agent = agentOf(agentId);
        if (!agent) continue;
        const weights = byAgent.get(agentId);
        if (weights) addBuyers(prepare, agent.seq, weights, minute - (minute % 60));
        prepare(
          `INSERT INTO agent_metric_minutes (agent_seq, start, ${SUMS.join(", ")})
         VALUES (?, ?, ${SUMS.map(() => "?").join(", ")})
         ON CONFLICT (agent_seq, start) DO UPDATE SET ${SUMS.map((c) => `${c} = ${c} + excluded.${c}`).join(", ")}`,
        ).run(agent.seq, minute, ...bucketSums(delta));
        const totals = prepare(
          `INSERT INTO agent_metric_windows (agent_seq, ${TOTALS_LIST}) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (agent_seq) DO UPDATE SET ${WINDOW_TOTALS.map((c) => `${c} = ${c} + excluded.${c}`).join(", ")}
         RETURNING ${TOTALS_LIST}, units_30d, success_units_30d`,
        ).get(agent.seq, ...totalsSums(delta)) as WindowTotals & {
          units_30d: number;
          success_units_30d: number;
        };
        prepare(
          `UPDATE agents SET calls = calls + ?, successes = successes + ?,
           total_response_time_ms = total_response_time_ms + ?, health_checks = health_checks + ?,
           healthy_checks = healthy_checks + ?, ${SET_SCORES}, metrics_updated_at = ?
         WHERE seq = ?`,
        ).run(
          delta.calls,
          delta.successes,
          delta.responseMs,
          delta.healthChecks,
          delta.healthyChecks,
          ...scoreValues(
            scoresOf(
              agent.price_micros,
              totals,
              buyersOf(agent.seq, totals.units_30d, totals.success_units_30d),
              categoryPriorOf(agent.category),
            ),
          ),
          at,
          agent.seq,
        );
      }
    },
  );

  /**
   * Rolls up, then rescores in chunks of RESCORE_CHUNK agents, one transaction each, letting other
   * work run in between (10,000 agents take a few hundred ms), then, on a full refresh, the
   * category priors from the records just scored. Chunks are safe: each reads the totals it scores
   * in its own transaction, and every write rescores the agents it touches.
   */
  const refresh = async (now: string, agentIds: string[] | undefined): Promise<number> => {
    db.transaction(() => rollUp(prepare, minuteOf(now)))();
    let changed = 0;
    if (agentIds !== undefined) {
      for (let i = 0; i < agentIds.length; i += RESCORE_CHUNK) {
        if (i > 0) await yieldToEventLoop();
        changed += rescoreIds(agentIds.slice(i, i + RESCORE_CHUNK), now);
      }
      return changed;
    }
    let after = 0;
    for (;;) {
      const chunk = rescoreFrom(after, now);
      changed += chunk.changed;
      if (chunk.last === undefined) return changed + refreshPriors(now);
      after = chunk.last;
      await yieldToEventLoop();
    }
  };

  return {
    store: {
      async recordCallOutcomes(outcomes: CallOutcome[], at: string) {
        const weighed = outcomes.filter((outcome) => outcome.outcome !== "client_error");
        const established = await establishedAt(
          weighed.map((outcome) => outcome.buyerId),
          at,
        );
        record(callDeltas(outcomes), buyerDeltas(weighed, established), at);
      },

      async recordHealthChecks(outcomes: HealthCheckOutcome[], at: string) {
        record(checkDeltas(outcomes), [], at);
      },

      async getAgentMetrics(
        agentId: string,
        window: MetricsWindow,
        now: string,
      ): Promise<AgentWindowMetrics> {
        const nowMinute = minuteOf(now);
        const from = windowStart(window, nowMinute);
        const seq = agentOf(agentId)?.seq;
        if (seq === undefined)
          return windowMetrics(
            agentId,
            window,
            now,
            from,
            SUMS.map(() => 0),
          );
        const read = db.transaction(() => {
          const sums = windowSums(prepare, seq, from, nowMinute);
          if (window !== SCORE_WINDOWS.calls) return windowMetrics(agentId, window, now, from, sums);
          const totals = prepare(
            "SELECT units_30d, success_units_30d FROM agent_metric_windows WHERE agent_seq = ?",
          ).get(seq) as { units_30d: number; success_units_30d: number } | undefined;
          const buyers = totals ? buyersOf(seq, totals.units_30d, totals.success_units_30d) : NO_BUYERS;
          return windowMetrics(agentId, window, now, from, sums, buyers);
        });
        return read();
      },

      async refreshScores(now: string, agentIds?: string[]) {
        return refresh(now, agentIds);
      },
    },

    rescore(seq, at) {
      const agent = prepare("SELECT price_micros, category FROM agents WHERE seq = ?").get(seq) as {
        price_micros: number;
        category: string;
      };
      const totals = prepare(
        `SELECT ${TOTALS_LIST}, units_30d, success_units_30d FROM agent_metric_windows WHERE agent_seq = ?`,
      ).get(seq) as (WindowTotals & { units_30d: number; success_units_30d: number }) | undefined;
      const buyers = totals ? buyersOf(seq, totals.units_30d, totals.success_units_30d) : NO_BUYERS;
      const prior = categoryPriorOf(agent.category);
      writeScores(seq, scoresOf(agent.price_micros, totals ?? ZERO_TOTALS, buyers, prior), at);
    },

    priorOf: categoryPriorOf,
  };
}

/**
 * Counts an agent's minute and hour buckets in the database file at `path`, read-only (for tests
 * and diagnostics: storage per agent stays within 1,440 minute rows and 720 hour rows).
 */
export function countMetricBuckets(path: string, agentId: string): { minutes: number; hours: number } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const count = (table: string) =>
      db
        .prepare(`SELECT count(*) FROM ${table} WHERE agent_seq = (SELECT seq FROM agents WHERE id = ?)`)
        .pluck()
        .get(agentId) as number;
    return { minutes: count("agent_metric_minutes"), hours: count("agent_metric_hours") };
  } finally {
    db.close();
  }
}
