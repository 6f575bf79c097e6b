import { type AgentScores, BUYER_CAP, RANKING, SCORE_WINDOWS, withCategoryPrior } from "@mercato/protocol";
import type { PgDb, PgQueryable, PgTx } from "../platform/db/pg-db.js";
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
  minuteOf,
  NO_BUYERS,
  type PriorRow,
  priorOf,
  RESCORE_CHUNK,
  SCORE_COLUMNS,
  type ScoreColumns,
  SUMS,
  scoresDiffer,
  scoresOf,
  scoresOfRow,
  scoreValues,
  WINDOW_TOTALS,
  type WindowTotals,
  windowMetrics,
  windowStart,
  ZERO_TOTALS,
} from "./metrics-math.js";
import type { CallOutcome, MetricsStore } from "./port.js";

/** The store methods of call outcomes, health checks, window metrics and ranking figures. */
export type MetricsMethods =
  | "recordCallOutcomes"
  | "recordHealthChecks"
  | "getAgentMetrics"
  | "refreshScores";
/** Metrics and ranking figures. */
export type PgMetrics = Pick<MetricsStore, MetricsMethods>;

/*
 * Several brokers write outcomes into one database at once. What keeps the figures right:
 *
 * - Everything derived from an agent's outcomes (its bucket rows, window totals, lifetime counters
 *   and ranking figures) changes only under the agent's `agents` row lock (FOR NO KEY UPDATE),
 *   taken in `seq` order: flushes, rollups, refreshes and re-pricing alike. So no two of them
 *   interleave on one agent, figures are computed from the totals they are written with, and
 *   since every other row lock is taken under an agent's, they cannot deadlock.
 * - Counters move by `x = x + delta` upserts, and a rollup moves exactly what its DELETE …
 *   RETURNING took: nothing is counted twice or lost when two brokers roll up at once.
 * - A flush is one transaction of a few statements, whatever its size: the flushed agents' rollup
 *   (so that they are scored on windows as of the flush), buckets and totals in one; their
 *   buyers' weights (rollup and flush) in the next; then, with the totals and top buyers read
 *   back, their counters and the figures computed from them.
 */

/**
 * Metrics transactions commit asynchronously: a server crash may lose the last fraction of a
 * second of flushes (whole flushes, never part of one), as a broker crash loses the outcomes it
 * has not flushed yet. It saves a disk flush per write on the hot path; the ledger never does it.
 */
const ASYNC_COMMIT = { asyncCommit: true } as const;

const COLUMNS = SUMS.join(", ");
const TOTALS = WINDOW_TOTALS.join(", ");
/** What leaves the totals, per bucket column that feeds them. */
const GONE = ["calls", "successes", "response_us", "health_checks", "healthy_checks"] as const;

/**
 * The flush statement, for agents locked by `key` ($4): rolls their buckets up to minutes $1
 * (24 h) and $2 (30 d), adds the deltas ($5: agent ids; $6: their bucket columns, row after row)
 * to minute $3 and the totals, and returns the agents whose totals changed with their new totals
 * and price. With no deltas it is the agents' rollup alone.
 *
 * Rollup: minutes older than 24 h move into their hours (or go, when their hour is older than
 * 30 days, as after a late write), hours older than 30 days go; the totals lose the health checks
 * of every minute moved and the calls of everything that went.
 */
function flushStatement(key: "id" | "seq"): string {
  const width = SUMS.length;
  const sumAll = SUMS.map((c) => `SUM(${c})`).join(", ");
  return `
  WITH locked AS MATERIALIZED (
    SELECT seq, id, price_micros, category FROM agents WHERE ${key} = ANY($4::${key === "id" ? "text" : "bigint"}[])
    ORDER BY seq FOR NO KEY UPDATE
  ),
  minute_out AS (
    DELETE FROM agent_metric_minutes AS m USING locked
    WHERE m.agent_seq = locked.seq AND m.start < $1 RETURNING m.*
  ),
  hour_out AS (
    DELETE FROM agent_metric_hours AS h USING locked
    WHERE h.agent_seq = locked.seq AND h.start < $2 RETURNING h.agent_seq, h.calls, h.successes, h.response_us
  ),
  hour_in AS (
    INSERT INTO agent_metric_hours AS h (agent_seq, start, ${COLUMNS})
    SELECT agent_seq, start - start % 60, ${sumAll} FROM minute_out WHERE start >= $2
    GROUP BY agent_seq, start - start % 60 ORDER BY 1, 2
    ON CONFLICT (agent_seq, start) DO UPDATE SET ${SUMS.map((c) => `${c} = h.${c} + excluded.${c}`).join(", ")}
  ),
  gone AS (
    SELECT agent_seq, ${GONE.map((c) => `SUM(${c}) AS ${c}`).join(", ")} FROM (
      SELECT agent_seq, calls, successes, response_us, 0 AS health_checks, 0 AS healthy_checks FROM hour_out
      UNION ALL
      SELECT agent_seq, ${GONE.slice(0, 3)
        .map((c) => `CASE WHEN start < $2 THEN ${c} ELSE 0 END`)
        .join(", ")}, health_checks, healthy_checks FROM minute_out
    ) AS out
    GROUP BY agent_seq
    HAVING ${GONE.map((c) => `SUM(${c}) <> 0`).join(" OR ")}
  ),
  d AS (
    SELECT locked.seq AS agent_seq, ${SUMS.map((c, j) => `($6::bigint[])[i * ${width} + ${j + 1}] AS ${c}`).join(", ")}
    FROM generate_series(0, cardinality($5::text[]) - 1) AS i JOIN locked ON locked.id = ($5::text[])[i + 1]
  ),
  minute_in AS (
    INSERT INTO agent_metric_minutes AS b (agent_seq, start, ${COLUMNS})
    SELECT agent_seq, $3, ${COLUMNS} FROM d ORDER BY agent_seq
    ON CONFLICT (agent_seq, start) DO UPDATE SET ${SUMS.map((c) => `${c} = b.${c} + excluded.${c}`).join(", ")}
  ),
  totals AS (
    INSERT INTO agent_metric_windows AS w (agent_seq, ${TOTALS})
    SELECT l.seq, ${GONE.map((c) => `COALESCE(d.${c}, 0) - COALESCE(g.${c}, 0)`).join(", ")}
    FROM locked l LEFT JOIN d ON d.agent_seq = l.seq LEFT JOIN gone g ON g.agent_seq = l.seq
    WHERE d.agent_seq IS NOT NULL OR g.agent_seq IS NOT NULL
    ORDER BY l.seq
    ON CONFLICT (agent_seq) DO UPDATE SET ${WINDOW_TOTALS.map((c) => `${c} = w.${c} + excluded.${c}`).join(", ")}
    RETURNING agent_seq, ${TOTALS}
  )
  SELECT l.seq, l.id, l.price_micros, l.category, ${WINDOW_TOTALS.map((c) => `t.${c}`).join(", ")}
  FROM locked l JOIN totals t ON t.agent_seq = l.seq`;
}

/**
 * The buyers' statement, for agents locked by the flush statement: takes the hours older than
 * minute $1 of agents $2 out of their buyers' and their own window sums, adds the buyer deltas
 * ($4…$8: agent seq, buyer id, calls, units, success units) to hour $3 and to those sums, and
 * returns the (agent, buyer) pairs whose hours left, so that their emptied sums can go.
 */
const BUYERS_STATEMENT = `
  WITH hour_out AS (
    DELETE FROM agent_buyer_hours AS h WHERE h.agent_seq = ANY($2::bigint[]) AND h.start < $1
    RETURNING h.agent_seq, h.buyer_id, h.calls, h.units, h.success_units
  ),
  d AS (
    SELECT * FROM unnest($4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[])
      AS d (agent_seq, buyer_id, calls, units, success_units)
  ),
  hour_in AS (
    INSERT INTO agent_buyer_hours AS h (agent_seq, buyer_id, start, calls, units, success_units)
    SELECT agent_seq, buyer_id, $3, calls, units, success_units FROM d ORDER BY agent_seq, buyer_id
    ON CONFLICT (agent_seq, buyer_id, start) DO UPDATE SET calls = h.calls + excluded.calls,
      units = h.units + excluded.units, success_units = h.success_units + excluded.success_units
  ),
  change AS (
    SELECT agent_seq, buyer_id, SUM(calls)::bigint AS calls, SUM(units)::bigint AS units,
      SUM(success_units)::bigint AS success_units
    FROM (
      SELECT agent_seq, buyer_id, calls, units, success_units FROM d
      UNION ALL SELECT agent_seq, buyer_id, -calls, -units, -success_units FROM hour_out
    ) AS c
    GROUP BY agent_seq, buyer_id
  ),
  buyer_sums AS (
    INSERT INTO agent_buyer_windows AS w (agent_seq, buyer_id, calls_30d, units_30d, success_units_30d)
    SELECT agent_seq, buyer_id, calls, units, success_units FROM change ORDER BY agent_seq, buyer_id
    ON CONFLICT (agent_seq, buyer_id) DO UPDATE SET calls_30d = w.calls_30d + excluded.calls_30d,
      units_30d = w.units_30d + excluded.units_30d,
      success_units_30d = w.success_units_30d + excluded.success_units_30d
  ),
  agent_sums AS (
    INSERT INTO agent_metric_windows AS w (agent_seq, units_30d, success_units_30d)
    SELECT agent_seq, SUM(units)::bigint, SUM(success_units)::bigint FROM change
    GROUP BY agent_seq ORDER BY agent_seq
    ON CONFLICT (agent_seq) DO UPDATE SET units_30d = w.units_30d + excluded.units_30d,
      success_units_30d = w.success_units_30d + excluded.success_units_30d
  )
  SELECT DISTINCT agent_seq, buyer_id FROM hour_out`;

const FLUSH_BY_ID = flushStatement("id");
const ROLL_UP_BY_SEQ = flushStatement("seq");

const SCORES = SCORE_COLUMNS.join(", ");
const SCORE_ARRAYS = `$1::bigint[], ${SCORE_COLUMNS.map((_, i) => `$${i + 2}::float8[]`).join(", ")}`;
/** The parameter after the score arrays: the time the figures are written as of. */
const AT = SCORE_COLUMNS.length + 2;
const SET_SCORES = `${SCORE_COLUMNS.map((c) => `${c} = v.${c}`).join(", ")}, metrics_updated_at = $${AT}`;
/** The parameters after the time: `$${AT + 1}`, … */
const after = (i: number) => `$${AT + i}`;

/** Writes agents' figures (one array per score column, by `seq` in $1) as of the next parameter. */
const WRITE_SCORES = `
  UPDATE agents AS a SET ${SET_SCORES}
  FROM unnest(${SCORE_ARRAYS}) AS v (seq, ${SCORES})
  WHERE a.seq = v.seq`;

/** The same, adding a flush (the five parameters after the time) to the agents' lifetime counters. */
const COUNT_AND_SCORE = `
  UPDATE agents AS a SET ${SET_SCORES}, calls = a.calls + v.calls, successes = a.successes + v.successes,
    total_response_time_ms = a.total_response_time_ms + v.response_ms,
    health_checks = a.health_checks + v.health_checks, healthy_checks = a.healthy_checks + v.healthy_checks
  FROM unnest(${SCORE_ARRAYS}, ${after(1)}::bigint[], ${after(2)}::bigint[], ${after(3)}::float8[],
    ${after(4)}::bigint[], ${after(5)}::bigint[])
    AS v (seq, ${SCORES}, calls, successes, response_ms, health_checks, healthy_checks)
  WHERE a.seq = v.seq`;

/** An agent whose figures a refresh recomputes, locked. */
interface LockedAgent extends ScoreColumns {
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
function scoreArrays(scored: ReadonlyArray<{ seq: number; scores: AgentScores }>): unknown[] {
  const values = scored.map((s) => scoreValues(s.scores));
  return [scored.map((s) => s.seq), ...SCORE_COLUMNS.map((_, column) => values.map((row) => row[column]))];
}

/** The windows' bounds as of minute `nowMinute`: the first minute of 24 h and of 30 d. */
function bounds(nowMinute: number): [number, number] {
  return [windowStart("24h", nowMinute), windowStart("30d", nowMinute)];
}

/** The flush statement's parameters after the bounds and the minute: lock keys, then deltas. */
function flushParams(keys: readonly (string | number)[], deltas: Map<string, BucketDelta>): unknown[] {
  return [keys, [...deltas.keys()], [...deltas.values()].flatMap((delta) => bucketSums(delta))];
}

/**
 * Rolls the buyers' hours of locked agents `seqs` up to minute `month` and adds `buyers` (of
 * agents by id in `seqOf`) to hour `hour`; drops the buyers' sums that emptied.
 */
async function flushBuyers(
  tx: PgTx,
  month: number,
  hour: number,
  seqs: readonly number[],
  buyers: ReadonlyArray<BuyerDelta & { seq: number }>,
): Promise<void> {
  const left = await tx.query<{ agent_seq: number; buyer_id: string }>(BUYERS_STATEMENT, [
    month,
    seqs,
    hour,
    buyers.map((b) => b.seq),
    buyers.map((b) => b.buyerId),
    buyers.map((b) => b.calls),
    buyers.map((b) => b.units),
    buyers.map((b) => b.successUnits),
  ]);
  if (left.length === 0) return;
  await tx.run(
    `DELETE FROM agent_buyer_windows AS w USING unnest($1::bigint[], $2::text[]) AS l (agent_seq, buyer_id)
     WHERE w.agent_seq = l.agent_seq AND w.buyer_id = l.buyer_id AND w.units_30d = 0`,
    [left.map((row) => row.agent_seq), left.map((row) => row.buyer_id)],
  );
}

/**
 * Per-agent metrics on PostgreSQL: the SQLite store's buckets and windows (see `metrics-math.ts`),
 * safe with several brokers writing at once (see the notes above). A flush is one transaction of
 * two statements whatever its size; a refresh rolls up, then rescores, RESCORE_CHUNK agents per
 * transaction.
 */
export function createPgMetrics(db: PgDb): PgMetrics {
  /** Which buyers weigh a whole call at a time (see `isEstablished`). */
  const establishedAt = createEstablishedBuyers((accountIds) =>
    db.query<BuyerAccountRow>(
      `SELECT a.id, a.created_at,
         EXISTS (SELECT 1 FROM topups t WHERE t.account_id = a.id AND t.status = 'succeeded') AS topped_up
       FROM accounts a WHERE a.id = ANY($1::text[])`,
      [accountIds],
    ),
  );

  const record = async (
    deltas: Map<string, BucketDelta>,
    buyers: readonly BuyerDelta[],
    at: string,
  ): Promise<void> => {
    if (deltas.size === 0) return;
    const minute = minuteOf(at);
    const [, month] = bounds(minute);
    await db.transaction(async (tx) => {
      const rows = await tx.query<
        WindowTotals & { seq: number; id: string; price_micros: number; category: string }
      >(FLUSH_BY_ID, [...bounds(minute), minute, ...flushParams([...deltas.keys()], deltas)]);
      if (rows.length === 0) return;
      const seqOf = new Map(rows.map((row) => [row.id, row.seq]));
      await flushBuyers(
        tx,
        month,
        minute - (minute % 60),
        rows.map((row) => row.seq),
        buyers.flatMap((buyer) => {
          const seq = seqOf.get(buyer.agentId);
          return seq === undefined ? [] : [{ ...buyer, seq }];
        }),
      );
      const totals = await windowTotals(
        tx,
        rows.map((row) => row.seq),
      );
      const flushed = rows.map((row) => deltas.get(row.id) as BucketDelta);
      const priors = await storedPriors(tx);
      await tx.run(COUNT_AND_SCORE, [
        ...scoreArrays(
          rows.map((row) => {
            const ranked = totals.get(row.seq) ?? ZERO_RANKED;
            const prior = priorOf(priors, row.category);
            return { seq: row.seq, scores: scoresOf(row.price_micros, ranked, ranked.buyers, prior) };
          }),
        ),
        at,
        flushed.map((delta) => delta.calls),
        flushed.map((delta) => delta.successes),
        flushed.map((delta) => delta.responseMs),
        flushed.map((delta) => delta.healthChecks),
        flushed.map((delta) => delta.healthyChecks),
      ]);
    }, ASYNC_COMMIT);
  };

  /** Rescores locked agents from their totals; drops totals rows that are all zero; returns how many changed. */
  const rescore = async (tx: PgTx, agents: LockedAgent[], now: string): Promise<number> => {
    const totals = await windowTotals(
      tx,
      agents.map((agent) => agent.seq),
    );
    const changed: Array<{ seq: number; scores: AgentScores }> = [];
    const empty: number[] = [];
    const priors = await storedPriors(tx);
    for (const agent of agents) {
      const windows = totals.get(agent.seq);
      const prior = priorOf(priors, agent.category);
      const scores = scoresOf(
        agent.price_micros,
        windows ?? ZERO_TOTALS,
        windows?.buyers ?? NO_BUYERS,
        prior,
      );
      if (scoresDiffer(agent, scores)) changed.push({ seq: agent.seq, scores });
      if (
        windows &&
        windows.calls_30d === 0 &&
        windows.health_checks_24h === 0 &&
        windows.buyers.units === 0
      ) {
        empty.push(agent.seq);
      }
    }
    await writeScores(tx, changed, now);
    if (empty.length > 0) {
      await tx.run("DELETE FROM agent_metric_windows WHERE agent_seq = ANY($1::bigint[])", [empty]);
    }
    return changed.length;
  };

  const lockAgents = (tx: PgTx, key: "id" | "seq", keys: readonly (string | number)[]) =>
    tx.query<LockedAgent>(
      `SELECT seq, price_micros, category, ${SCORES}
       FROM agents WHERE ${key} = ANY($1::${key === "id" ? "text" : "bigint"}[]) ORDER BY seq FOR NO KEY UPDATE`,
      [keys],
    );

  /** Rolls up every agent with buckets that left a window as of `nowMinute`, a chunk per transaction. */
  const rollUp = async (nowMinute: number): Promise<void> => {
    const [day, month] = bounds(nowMinute);
    const due = await db.query<{ agent_seq: number }>(
      `SELECT agent_seq FROM agent_metric_minutes WHERE start < $1
       UNION SELECT agent_seq FROM agent_metric_hours WHERE start < $2 ORDER BY agent_seq`,
      [day, month],
    );
    for (let i = 0; i < due.length; i += RESCORE_CHUNK) {
      const seqs = due.slice(i, i + RESCORE_CHUNK).map((row) => row.agent_seq);
      await db.transaction(async (tx) => {
        await tx.run(ROLL_UP_BY_SEQ, [day, month, nowMinute, ...flushParams(seqs, new Map())]);
        await flushBuyers(tx, month, nowMinute, seqs, []);
      }, ASYNC_COMMIT);
    }
  };

  /**
   * Sets every category's prior from its established listings' ranked records as stored (see
   * `categoryPriors`), then moves every agent whose stored prior is not its category's (the
   * category's prior changed, or the agent changed category) to it, under their row locks, a chunk
   * per transaction; returns how many moved. Brokers refreshing at once compute the same priors.
   */
  const refreshPriors = async (now: string): Promise<number> => {
    const priors = categoryPriors(await db.query<PriorRow>(ESTABLISHED_LISTINGS));
    await db.transaction(async (tx) => {
      await tx.run("DELETE FROM category_priors WHERE NOT (category = ANY($1::text[]))", [
        [...priors.keys()],
      ]);
      await tx.run(
        `INSERT INTO category_priors (category, prior) SELECT * FROM unnest($1::text[], $2::float8[])
         ON CONFLICT (category) DO UPDATE SET prior = excluded.prior`,
        [[...priors.keys()], [...priors.values()]],
      );
    });
    const stale = await db.query<{ seq: number }>(
      `SELECT a.seq FROM agents a LEFT JOIN category_priors p ON p.category = a.category
       WHERE a.category_prior <> COALESCE(p.prior, $1) ORDER BY a.seq`,
      [RANKING.fallbackPrior],
    );
    let moved = 0;
    for (let i = 0; i < stale.length; i += RESCORE_CHUNK) {
      const seqs = stale.slice(i, i + RESCORE_CHUNK).map((row) => row.seq);
      moved += await db.transaction(async (tx) => {
        const agents = await lockAgents(tx, "seq", seqs);
        const current = await storedPriors(tx);
        const changed = agents.flatMap((agent) => {
          const prior = priorOf(current, agent.category);
          if (agent.category_prior === prior) return [];
          return [
            { seq: agent.seq, scores: withCategoryPrior(agent.price_micros, scoresOfRow(agent), prior) },
          ];
        });
        await writeScores(tx, changed, now);
        return changed.length;
      }, ASYNC_COMMIT);
    }
    return moved;
  };

  const refresh = async (now: string, agentIds: string[] | undefined): Promise<number> => {
    await rollUp(minuteOf(now));
    let changed = 0;
    if (agentIds !== undefined) {
      for (let i = 0; i < agentIds.length; i += RESCORE_CHUNK) {
        const ids = agentIds.slice(i, i + RESCORE_CHUNK);
        changed += await db.transaction(
          async (tx) => rescore(tx, await lockAgents(tx, "id", ids), now),
          ASYNC_COMMIT,
        );
      }
      return changed;
    }
    // Every agent with a totals row: measured in its windows, or whose last figures just left them
    // (the row goes once it is scored at zero). In agent order, a chunk per transaction.
    let after = 0;
    for (;;) {
      const chunk = await db.transaction(async (tx) => {
        const seqs = await tx.query<{ agent_seq: number }>(
          `SELECT agent_seq FROM agent_metric_windows WHERE agent_seq > $1 ORDER BY agent_seq LIMIT ${RESCORE_CHUNK}`,
          [after],
        );
        const agents = await lockAgents(
          tx,
          "seq",
          seqs.map((row) => row.agent_seq),
        );
        return { changed: await rescore(tx, agents, now), last: seqs.at(-1)?.agent_seq };
      }, ASYNC_COMMIT);
      changed += chunk.changed;
      if (chunk.last === undefined) return changed + (await refreshPriors(now));
      after = chunk.last;
    }
  };

  return {
    async recordCallOutcomes(outcomes: CallOutcome[], at) {
      const weighed = outcomes.filter((outcome) => outcome.outcome !== "client_error");
      const isEstablishedBuyer = await establishedAt(
        weighed.map((outcome) => outcome.buyerId),
        at,
      );
      await record(callDeltas(outcomes), buyerDeltas(weighed, isEstablishedBuyer), at);
    },

    async recordHealthChecks(outcomes, at) {
      await record(checkDeltas(outcomes), [], at);
    },

    async getAgentMetrics(agentId, window, now) {
      const nowMinute = minuteOf(now);
      const from = windowStart(window, nowMinute);
      // One statement, one snapshot: a rollup moving minutes into hours meanwhile is seen whole or not at all.
      const row = await db.one<Record<string, number>>(
        `SELECT ${SUMS.map((c) => `COALESCE(SUM(${c}), 0)::bigint AS ${c}`).join(", ")} FROM (
           SELECT ${COLUMNS} FROM agent_metric_minutes
           WHERE agent_seq = (SELECT seq FROM agents WHERE id = $1) AND start BETWEEN $2 AND $3
           UNION ALL
           SELECT ${COLUMNS} FROM agent_metric_hours
           WHERE agent_seq = (SELECT seq FROM agents WHERE id = $1) AND start BETWEEN $2 AND $3
         ) AS buckets`,
        [agentId, from, nowMinute],
      );
      const sums = SUMS.map((column) => row?.[column] ?? 0);
      if (window !== SCORE_WINDOWS.calls) return windowMetrics(agentId, window, now, from, sums);
      const seq = await db.one<{ seq: number }>("SELECT seq FROM agents WHERE id = $1", [agentId]);
      const ranked = seq ? (await windowTotals(db, [seq.seq])).get(seq.seq) : undefined;
      return windowMetrics(agentId, window, now, from, sums, ranked?.buyers ?? NO_BUYERS);
    },

    async refreshScores(now, agentIds) {
      return refresh(now, agentIds);
    },
  };
}

/**
 * Counts an agent's minute and hour buckets (for tests and diagnostics: storage per agent stays
 * within 1,440 minute rows and 720 hour rows).
 */
export async function countPgMetricBuckets(
  db: PgQueryable,
  agentId: string,
): Promise<{ minutes: number; hours: number }> {
  const row = await db.one<{ minutes: number; hours: number }>(
    `SELECT (SELECT count(*) FROM agent_metric_minutes WHERE agent_seq = a.seq) AS minutes,
       (SELECT count(*) FROM agent_metric_hours WHERE agent_seq = a.seq) AS hours
     FROM agents a WHERE a.id = $1`,
    [agentId],
  );
  return row ?? { minutes: 0, hours: 0 };
}
