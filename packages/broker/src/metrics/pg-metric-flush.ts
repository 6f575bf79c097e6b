import type { PgTx } from "../platform/db/pg-db.js";
import {
  type BucketDelta,
  type BuyerDelta,
  bucketSums,
  SUMS,
  WINDOW_TOTALS,
  windowStart,
} from "./metrics-math.js";

// The PostgreSQL store's flush and rollup statements (see the notes in pg-metrics.ts) and the
// buyers' part of a flush.

/**
 * Metrics transactions commit asynchronously: a server crash may lose the last fraction of a
 * second of flushes (whole flushes, never part of one), as a broker crash loses the outcomes it
 * has not flushed yet. It saves a disk flush per write on the hot path; the ledger never does it.
 */
export const ASYNC_COMMIT = { asyncCommit: true } as const;

export const COLUMNS = SUMS.join(", ");
export const TOTALS = WINDOW_TOTALS.join(", ");
/** What leaves the totals, per bucket column that feeds them. */
export const GONE = ["calls", "successes", "response_us", "health_checks", "healthy_checks"] as const;

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
export function flushStatement(key: "id" | "seq"): string {
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
export const BUYERS_STATEMENT = `
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

export const FLUSH_BY_ID = flushStatement("id");
export const ROLL_UP_BY_SEQ = flushStatement("seq");

/** The windows' bounds as of minute `nowMinute`: the first minute of 24 h and of 30 d. */
export function bounds(nowMinute: number): [number, number] {
  return [windowStart("24h", nowMinute), windowStart("30d", nowMinute)];
}

/** The flush statement's parameters after the bounds and the minute: lock keys, then deltas. */
export function flushParams(keys: readonly (string | number)[], deltas: Map<string, BucketDelta>): unknown[] {
  return [keys, [...deltas.keys()], [...deltas.values()].flatMap((delta) => bucketSums(delta))];
}

/**
 * Rolls the buyers' hours of locked agents `seqs` up to minute `month` and adds `buyers` (of
 * agents by id in `seqOf`) to hour `hour`; drops the buyers' sums that emptied.
 */
export async function flushBuyers(
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
