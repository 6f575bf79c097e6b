import type { AgentScores } from "@mercato/protocol";
import { BUYER_CAP, BUYER_WEIGHT, RANKING, SCORE_WINDOWS, withCategoryPrior } from "@mercato/protocol";
import Database from "better-sqlite3";
import {
  type BucketDelta,
  type BuyerAccountRow,
  type BuyerDelta,
  type BuyerTotals,
  bucketSums,
  buyerDeltas,
  callDeltas,
  categoryPriors,
  checkDeltas,
  createEstablishedBuyers,
  ESTABLISHED_LISTINGS,
  FALLBACK_LOWER_BOUND,
  figuresBackfill,
  minuteOf,
  NO_BUYERS,
  type PriorRow,
  priorOf,
  RESCORE_CHUNK,
  SCORE_COLUMNS,
  type ScoreColumns,
  SUMS,
  SUMS_V5,
  scoresDiffer,
  scoresOf,
  scoresOfRow,
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

const BUCKET_COLUMNS = SUMS_V5.map((column) => `${column} INTEGER NOT NULL DEFAULT 0`).join(",\n      ");

/**
 * Migration 5: per-agent metrics in time buckets, and each agent's running window totals.
 *
 * - `agent_metric_minutes`: one row per agent per minute with any call or health check (`start` is
 *   Unix time in whole minutes): calls, successes, their response times summed in whole µs (integer
 *   sums are exact, so rollups and sliding totals never drift), health checks, healthy checks, and
 *   the response-time histogram. Only the last 24 hours stay here.
 * - `agent_metric_hours`: the same columns per agent per hour (`start` is the hour's first minute).
 *   Minutes older than 24 hours are added into their hour; hours older than 30 days are dropped.
 *   An agent thus keeps at most 1,440 minute rows and 720 hour rows, however long it runs.
 * - `agent_metric_windows`: per agent, the sums the ranking figures are computed from: calls over
 *   every bucket (the 30-day window) and health checks over the minute buckets (the 24-hour
 *   window). Writes add to them; the rollup takes out what leaves each window. So refreshing
 *   scores reads one row per agent, never its buckets. No row means all zero; rows for agents
 *   measured before this migration (by lifetime counters, of no known date) start at zero, so that
 *   the next refresh scores them on their windows.
 */
export const METRICS_MIGRATION = {
  version: 5,
  name: "per-agent metrics in minute and hour buckets",
  sql: `
    CREATE TABLE agent_metric_minutes (
      agent_seq INTEGER NOT NULL REFERENCES agents(seq),
      start INTEGER NOT NULL,
      ${BUCKET_COLUMNS},
      PRIMARY KEY (agent_seq, start)
    ) STRICT, WITHOUT ROWID;
    -- The rollup finds the minutes leaving the 24-hour window by time, across agents.
    CREATE INDEX agent_metric_minutes_by_start ON agent_metric_minutes (start);

    CREATE TABLE agent_metric_hours (
      agent_seq INTEGER NOT NULL REFERENCES agents(seq),
      start INTEGER NOT NULL,
      ${BUCKET_COLUMNS},
      PRIMARY KEY (agent_seq, start)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX agent_metric_hours_by_start ON agent_metric_hours (start);

    CREATE TABLE agent_metric_windows (
      agent_seq INTEGER PRIMARY KEY REFERENCES agents(seq),
      calls_30d INTEGER NOT NULL DEFAULT 0,
      successes_30d INTEGER NOT NULL DEFAULT 0,
      response_us_30d INTEGER NOT NULL DEFAULT 0,
      health_checks_24h INTEGER NOT NULL DEFAULT 0,
      healthy_checks_24h INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    INSERT INTO agent_metric_windows (agent_seq) SELECT seq FROM agents WHERE calls > 0 OR health_checks > 0;
  `,
} as const;

/** What a call of the legacy rows (recorded before migration 10, of no known buyer) weighs: a whole call. */
const LEGACY_UNITS = BUYER_WEIGHT.establishedUnits;

/**
 * Migration 10: buyer faults apart, and each buyer's weight per agent for the capped ranking
 * (`cappedBuyerWeights` in protocol).
 *
 * - `client_errors` in the minute and hour buckets: calls that failed by the buyer's fault, never
 *   in `calls`.
 * - `agent_buyer_hours`: per agent, buyer and hour (`start`, the hour's first minute), the calls
 *   measured, their weight in units and the weight of the successful ones. Written at the hour of
 *   each flush; hours older than 30 days go, as the agent's hour buckets do.
 * - `agent_buyer_windows`: per agent and buyer, the running sums of those hours over the 30-day
 *   window (writes add, the rollup takes out what leaves); scoring reads an agent's top buyers by
 *   calls from its index, never the hours.
 * - `agent_metric_windows.units_30d` and `success_units_30d`: every buyer's weight summed.
 *
 * Calls recorded before this migration have no buyer: they become a pseudo-buyer `''` of no
 * calls (so never capped) whose hours leave the window as the buckets they came from do; their
 * weight is a whole call each, so that every listing keeps its ranking.
 */
export const METRICS_BUYERS_MIGRATION = {
  version: 10,
  name: "client errors apart, and per-buyer weights for the capped ranking",
  sql: `
    ALTER TABLE agent_metric_minutes ADD COLUMN client_errors INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE agent_metric_hours ADD COLUMN client_errors INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE agent_metric_windows ADD COLUMN units_30d INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE agent_metric_windows ADD COLUMN success_units_30d INTEGER NOT NULL DEFAULT 0;

    CREATE TABLE agent_buyer_hours (
      agent_seq INTEGER NOT NULL REFERENCES agents(seq),
      buyer_id TEXT NOT NULL,
      start INTEGER NOT NULL,
      calls INTEGER NOT NULL,
      units INTEGER NOT NULL,
      success_units INTEGER NOT NULL,
      PRIMARY KEY (agent_seq, buyer_id, start)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX agent_buyer_hours_by_start ON agent_buyer_hours (start);

    CREATE TABLE agent_buyer_windows (
      agent_seq INTEGER NOT NULL REFERENCES agents(seq),
      buyer_id TEXT NOT NULL,
      calls_30d INTEGER NOT NULL,
      units_30d INTEGER NOT NULL,
      success_units_30d INTEGER NOT NULL,
      PRIMARY KEY (agent_seq, buyer_id)
    ) STRICT, WITHOUT ROWID;
    -- Scoring reads an agent's top buyers by calls.
    CREATE INDEX agent_buyer_windows_by_calls ON agent_buyer_windows (agent_seq, calls_30d DESC);

    INSERT INTO agent_buyer_hours (agent_seq, buyer_id, start, calls, units, success_units)
    SELECT agent_seq, '', start - start % 60, 0, ${LEGACY_UNITS} * SUM(calls), ${LEGACY_UNITS} * SUM(successes)
    FROM (SELECT agent_seq, start, calls, successes FROM agent_metric_minutes
          UNION ALL SELECT agent_seq, start, calls, successes FROM agent_metric_hours)
    GROUP BY agent_seq, start - start % 60 HAVING SUM(calls) > 0;
    INSERT INTO agent_buyer_windows (agent_seq, buyer_id, calls_30d, units_30d, success_units_30d)
    SELECT agent_seq, '', 0, SUM(units), SUM(success_units) FROM agent_buyer_hours GROUP BY agent_seq;
    UPDATE agent_metric_windows AS w SET units_30d = b.units_30d, success_units_30d = b.success_units_30d
    FROM agent_buyer_windows AS b WHERE b.agent_seq = w.agent_seq;
  `,
} as const;

/**
 * Migration 15: figures a person can read honestly, and the conservative ranking (issue 17).
 *
 * - `agents`: the measured figures (`measured_success_rate`, `measured_response_time_ms` over 30
 *   days, `measured_uptime` over 24 hours; NULL without calls or checks), and what the cost per
 *   success is now computed from: `ranked_calls` and `ranked_successes` (the per-buyer capped
 *   30-day record), `category_prior`, and `success_lower_bound`; `cost_per_success` becomes
 *   price / `success_lower_bound`. The search indexes keep sorting by the stored figure.
 * - `category_priors`: each category's prior (see `categoryPriors` in metrics-math.ts), set when
 *   scores are refreshed; a category without a row has the fallback prior.
 */
export const FIGURES_MIGRATION = {
  version: 15,
  name: "measured figures apart from ranking ones, and category priors for the conservative ranking",
  sql: `
    ALTER TABLE agents ADD COLUMN success_lower_bound REAL NOT NULL DEFAULT ${FALLBACK_LOWER_BOUND};
    ALTER TABLE agents ADD COLUMN category_prior REAL NOT NULL DEFAULT ${RANKING.fallbackPrior};
    ALTER TABLE agents ADD COLUMN ranked_calls REAL NOT NULL DEFAULT 0;
    ALTER TABLE agents ADD COLUMN ranked_successes REAL NOT NULL DEFAULT 0;
    ALTER TABLE agents ADD COLUMN measured_success_rate REAL;
    ALTER TABLE agents ADD COLUMN measured_response_time_ms REAL;
    ALTER TABLE agents ADD COLUMN measured_uptime REAL;
    CREATE TABLE category_priors (category TEXT PRIMARY KEY, prior REAL NOT NULL) STRICT;
    ${figuresBackfill("REAL")}
  `,
} as const;

type Prepare = (sql: string) => Database.Statement;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

interface ScoredRow extends WindowTotals, ScoreColumns {
  seq: number;
  price_micros: number;
  category: string;
  units_30d: number;
  success_units_30d: number;
}

const TOTALS_LIST = WINDOW_TOTALS.join(", ");
const SET_SCORES = SCORE_COLUMNS.map((column) => `${column} = ?`).join(", ");
const SCORED_ROW = `a.seq, a.price_micros, a.category, ${SCORE_COLUMNS.map((column) => `a.${column}`).join(", ")},
  ${WINDOW_TOTALS.map((column) => `COALESCE(w.${column}, 0) AS ${column}`).join(", ")},
  COALESCE(w.units_30d, 0) AS units_30d, COALESCE(w.success_units_30d, 0) AS success_units_30d`;

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

  /** Which buyers weigh a whole call at a time (see `isEstablished`). */
  const establishedAt = createEstablishedBuyers(
    (accountIds) =>
      prepare(
        `SELECT a.id, a.created_at,
           EXISTS (SELECT 1 FROM topups t WHERE t.account_id = a.id AND t.status = 'succeeded') AS topped_up
         FROM accounts a WHERE a.id IN (SELECT value FROM json_each(?))`,
      ).all(JSON.stringify(accountIds)) as BuyerAccountRow[],
  );

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

  /**
   * Moves what left the windows as of `nowMinute` out of the window totals: minutes older than
   * 24 h into their hours, hours older than 30 days out altogether. Touches only those buckets.
   */
  const rollUp = (nowMinute: number): void => {
    const dayStart = windowStart("24h", nowMinute);
    const monthStart = windowStart("30d", nowMinute);
    prepare(
      `UPDATE agent_metric_windows AS w
       SET health_checks_24h = w.health_checks_24h - m.checks, healthy_checks_24h = w.healthy_checks_24h - m.healthy
       FROM (SELECT agent_seq, SUM(health_checks) AS checks, SUM(healthy_checks) AS healthy
             FROM agent_metric_minutes WHERE start < ? GROUP BY agent_seq) AS m
       WHERE w.agent_seq = m.agent_seq`,
    ).run(dayStart);
    prepare(
      `INSERT INTO agent_metric_hours (agent_seq, start, ${SUMS.join(", ")})
       SELECT agent_seq, start - start % 60, ${SUMS.map((c) => `SUM(${c})`).join(", ")}
       FROM agent_metric_minutes WHERE start < ? GROUP BY agent_seq, start - start % 60
       ON CONFLICT (agent_seq, start) DO UPDATE SET ${SUMS.map((c) => `${c} = ${c} + excluded.${c}`).join(", ")}`,
    ).run(dayStart);
    prepare("DELETE FROM agent_metric_minutes WHERE start < ?").run(dayStart);
    prepare(
      `UPDATE agent_metric_windows AS w
       SET calls_30d = w.calls_30d - h.calls, successes_30d = w.successes_30d - h.successes,
         response_us_30d = w.response_us_30d - h.response_us
       FROM (SELECT agent_seq, SUM(calls) AS calls, SUM(successes) AS successes, SUM(response_us) AS response_us
             FROM agent_metric_hours WHERE start < ? GROUP BY agent_seq) AS h
       WHERE w.agent_seq = h.agent_seq`,
    ).run(monthStart);
    prepare("DELETE FROM agent_metric_hours WHERE start < ?").run(monthStart);
    // Each buyer's weight leaves with its hours, from its own sums and from the agent's.
    prepare(
      `UPDATE agent_metric_windows AS w
       SET units_30d = w.units_30d - h.units, success_units_30d = w.success_units_30d - h.success_units
       FROM (SELECT agent_seq, SUM(units) AS units, SUM(success_units) AS success_units
             FROM agent_buyer_hours WHERE start < ? GROUP BY agent_seq) AS h
       WHERE w.agent_seq = h.agent_seq`,
    ).run(monthStart);
    prepare(
      `UPDATE agent_buyer_windows AS w
       SET calls_30d = w.calls_30d - h.calls, units_30d = w.units_30d - h.units,
         success_units_30d = w.success_units_30d - h.success_units
       FROM (SELECT agent_seq, buyer_id, SUM(calls) AS calls, SUM(units) AS units, SUM(success_units) AS success_units
             FROM agent_buyer_hours WHERE start < ? GROUP BY agent_seq, buyer_id) AS h
       WHERE w.agent_seq = h.agent_seq AND w.buyer_id = h.buyer_id`,
    ).run(monthStart);
    prepare(
      `DELETE FROM agent_buyer_windows WHERE units_30d = 0
         AND (agent_seq, buyer_id) IN (SELECT agent_seq, buyer_id FROM agent_buyer_hours WHERE start < ?)`,
    ).run(monthStart);
    prepare("DELETE FROM agent_buyer_hours WHERE start < ?").run(monthStart);
  };

  /** Adds a flush's buyer weights to their hour (`hour`) and to the window sums. */
  const addBuyers = (seq: number, buyers: readonly BuyerDelta[], hour: number): void => {
    let units = 0;
    let successUnits = 0;
    for (const buyer of buyers) {
      const values = [buyer.calls, buyer.units, buyer.successUnits];
      prepare(
        `INSERT INTO agent_buyer_hours (agent_seq, buyer_id, start, calls, units, success_units) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (agent_seq, buyer_id, start) DO UPDATE SET calls = calls + excluded.calls,
           units = units + excluded.units, success_units = success_units + excluded.success_units`,
      ).run(seq, buyer.buyerId, hour, ...values);
      prepare(
        `INSERT INTO agent_buyer_windows (agent_seq, buyer_id, calls_30d, units_30d, success_units_30d) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (agent_seq, buyer_id) DO UPDATE SET calls_30d = calls_30d + excluded.calls_30d,
           units_30d = units_30d + excluded.units_30d, success_units_30d = success_units_30d + excluded.success_units_30d`,
      ).run(seq, buyer.buyerId, ...values);
      units += buyer.units;
      successUnits += buyer.successUnits;
    }
    prepare(
      `INSERT INTO agent_metric_windows (agent_seq, units_30d, success_units_30d) VALUES (?, ?, ?)
       ON CONFLICT (agent_seq) DO UPDATE SET units_30d = units_30d + excluded.units_30d,
         success_units_30d = success_units_30d + excluded.success_units_30d`,
    ).run(seq, units, successUnits);
  };

  const record = db.transaction(
    (deltas: Map<string, BucketDelta>, buyers: readonly BuyerDelta[], at: string): void => {
      const minute = minuteOf(at);
      // The agents written are rescored on windows as of `at`, even with no refresher running. Cheap:
      // the refresher has usually rolled up already, and then this reads nothing.
      rollUp(minute);
      const byAgent = new Map<string, BuyerDelta[]>();
      for (const buyer of buyers) byAgent.set(buyer.agentId, [...(byAgent.get(buyer.agentId) ?? []), buyer]);
      for (const [agentId, delta] of deltas) {
        const agent = agentOf(agentId);
        if (!agent) continue;
        const weights = byAgent.get(agentId);
        if (weights) addBuyers(agent.seq, weights, minute - (minute % 60));
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

  /**
   * Rolls up, then rescores in chunks of RESCORE_CHUNK agents, one transaction each, letting other
   * work run in between (10,000 agents take a few hundred ms), then, on a full refresh, the
   * category priors from the records just scored. Chunks are safe: each reads the totals it scores
   * in its own transaction, and every write rescores the agents it touches.
   */
  const refresh = async (now: string, agentIds: string[] | undefined): Promise<number> => {
    db.transaction(() => rollUp(minuteOf(now)))();
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

  const windowSums = (seq: number, from: number, to: number): number[] => {
    const columns = SUMS.join(", ");
    return prepare(
      `SELECT ${SUMS.map((c) => `COALESCE(SUM(${c}), 0)`).join(", ")} FROM (
         SELECT ${columns} FROM agent_metric_minutes WHERE agent_seq = ? AND start BETWEEN ? AND ?
         UNION ALL
         SELECT ${columns} FROM agent_metric_hours WHERE agent_seq = ? AND start BETWEEN ? AND ?
       )`,
    )
      .raw()
      .get(seq, from, to, seq, from, to) as number[];
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
          const sums = windowSums(seq, from, nowMinute);
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
