import { type AgentScores, RANKING, SCORE_WINDOWS, withCategoryPrior } from "@mercato/protocol";
import type { PgDb, PgQueryable, PgTx } from "../platform/db/pg-db.js";
import {
  type BucketDelta,
  type BuyerAccountRow,
  type BuyerDelta,
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
  SUMS,
  scoresDiffer,
  scoresOf,
  scoresOfRow,
  type WindowTotals,
  windowMetrics,
  windowStart,
  ZERO_TOTALS,
} from "./metrics-math.js";
import {
  ASYNC_COMMIT,
  bounds,
  COLUMNS,
  FLUSH_BY_ID,
  flushBuyers,
  flushParams,
  ROLL_UP_BY_SEQ,
} from "./pg-metric-flush.js";
import {
  COUNT_AND_SCORE,
  type LockedAgent,
  SCORES,
  scoreArrays,
  storedPriors,
  windowTotals,
  writeScores,
  ZERO_RANKED,
} from "./pg-ranking.js";
import type { CallOutcome, MetricsStore } from "./port.js";

export { type RankedTotals, storedPriors, windowTotals, writeScores, ZERO_RANKED } from "./pg-ranking.js";

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
