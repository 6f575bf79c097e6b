import { type BuyerDelta, SUMS, windowStart } from "./metrics-math.js";
import type { Prepare } from "./sqlite-ranking.js";

// The SQLite store's bucket queries: the rollup of what leaves each window, a flush's buyer
// weights, and the sums of an agent's buckets over a window.

/**
 * Moves what left the windows as of `nowMinute` out of the window totals: minutes older than
 * 24 h into their hours, hours older than 30 days out altogether. Touches only those buckets.
 */
export function rollUp(prepare: Prepare, nowMinute: number): void {
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
}

/** Adds a flush's buyer weights to their hour (`hour`) and to the window sums. */
export function addBuyers(prepare: Prepare, seq: number, buyers: readonly BuyerDelta[], hour: number): void {
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
}

/** The sums (in `SUMS` order) of an agent's minute and hour buckets from minute `from` to `to`. */
export function windowSums(prepare: Prepare, seq: number, from: number, to: number): number[] {
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
}
