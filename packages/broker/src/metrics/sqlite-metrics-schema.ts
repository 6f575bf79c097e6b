import { BUYER_WEIGHT, RANKING } from "@mercato/protocol";
import { FALLBACK_LOWER_BOUND, figuresBackfill, SUMS_V5 } from "./metrics-math.js";

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
