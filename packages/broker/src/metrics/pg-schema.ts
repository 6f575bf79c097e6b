import { BUYER_WEIGHT, RANKING } from "@mercato/protocol";
import { FALLBACK_LOWER_BOUND, figuresBackfill, SUMS_V5 } from "./metrics-math.js";

/** A table of per-agent buckets: one row per agent and bucket start, one BIGINT per summed column. */
function bucketTable(name: string): string {
  return `
  CREATE TABLE ${name} (
    agent_seq BIGINT NOT NULL REFERENCES agents(seq),
    start BIGINT NOT NULL,
    ${SUMS_V5.map((column) => `${column} BIGINT NOT NULL DEFAULT 0`).join(",\n    ")},
    PRIMARY KEY (agent_seq, start)
  );
  CREATE INDEX ${name}_by_start ON ${name} (start);`;
}

/**
 * PostgreSQL schema of the per-agent metric buckets and window totals: SQLite's migration 5 (see
 * `METRICS_MIGRATION` there for what each table holds).
 */
export const METRICS_SCHEMA = `
  ${bucketTable("agent_metric_minutes")}
  ${bucketTable("agent_metric_hours")}

  CREATE TABLE agent_metric_windows (
    agent_seq BIGINT PRIMARY KEY REFERENCES agents(seq),
    calls_30d BIGINT NOT NULL DEFAULT 0,
    successes_30d BIGINT NOT NULL DEFAULT 0,
    response_us_30d BIGINT NOT NULL DEFAULT 0,
    health_checks_24h BIGINT NOT NULL DEFAULT 0,
    healthy_checks_24h BIGINT NOT NULL DEFAULT 0
  );
`;

/** What a call of the legacy rows (recorded before version 4, of no known buyer) weighs: a whole call. */
const LEGACY_UNITS = BUYER_WEIGHT.establishedUnits;

/**
 * Version 4: buyer faults apart (`client_errors`), and each buyer's weight per agent for the
 * capped ranking: SQLite's migration 10 (see `METRICS_BUYERS_MIGRATION` there for what each table
 * holds and how calls recorded before it are carried over).
 */
export const METRICS_BUYERS_SCHEMA = `
  ALTER TABLE agent_metric_minutes ADD COLUMN client_errors BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE agent_metric_hours ADD COLUMN client_errors BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE agent_metric_windows ADD COLUMN units_30d BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE agent_metric_windows ADD COLUMN success_units_30d BIGINT NOT NULL DEFAULT 0;

  CREATE TABLE agent_buyer_hours (
    agent_seq BIGINT NOT NULL REFERENCES agents(seq),
    buyer_id TEXT NOT NULL,
    start BIGINT NOT NULL,
    calls BIGINT NOT NULL,
    units BIGINT NOT NULL,
    success_units BIGINT NOT NULL,
    PRIMARY KEY (agent_seq, buyer_id, start)
  );
  CREATE INDEX agent_buyer_hours_by_start ON agent_buyer_hours (start);

  CREATE TABLE agent_buyer_windows (
    agent_seq BIGINT NOT NULL REFERENCES agents(seq),
    buyer_id TEXT NOT NULL,
    calls_30d BIGINT NOT NULL,
    units_30d BIGINT NOT NULL,
    success_units_30d BIGINT NOT NULL,
    PRIMARY KEY (agent_seq, buyer_id)
  );
  CREATE INDEX agent_buyer_windows_by_calls ON agent_buyer_windows (agent_seq, calls_30d DESC);

  INSERT INTO agent_buyer_hours (agent_seq, buyer_id, start, calls, units, success_units)
  SELECT agent_seq, '', start - start % 60, 0, ${LEGACY_UNITS} * SUM(calls), ${LEGACY_UNITS} * SUM(successes)
  FROM (SELECT agent_seq, start, calls, successes FROM agent_metric_minutes
        UNION ALL SELECT agent_seq, start, calls, successes FROM agent_metric_hours) AS buckets
  GROUP BY agent_seq, start - start % 60 HAVING SUM(calls) > 0;
  INSERT INTO agent_buyer_windows (agent_seq, buyer_id, calls_30d, units_30d, success_units_30d)
  SELECT agent_seq, '', 0, SUM(units), SUM(success_units) FROM agent_buyer_hours GROUP BY agent_seq;
  UPDATE agent_metric_windows AS w SET units_30d = b.units_30d, success_units_30d = b.success_units_30d
  FROM agent_buyer_windows AS b WHERE b.agent_seq = w.agent_seq;
`;

/**
 * Version 9: figures a person can read honestly, and the conservative ranking (issue 17): the
 * SQLite store's migration 15 (see `FIGURES_MIGRATION` there).
 */
export const FIGURES_SCHEMA = `
  ALTER TABLE agents ADD COLUMN success_lower_bound DOUBLE PRECISION NOT NULL DEFAULT ${FALLBACK_LOWER_BOUND};
  ALTER TABLE agents ADD COLUMN category_prior DOUBLE PRECISION NOT NULL DEFAULT ${RANKING.fallbackPrior};
  ALTER TABLE agents ADD COLUMN ranked_calls DOUBLE PRECISION NOT NULL DEFAULT 0;
  ALTER TABLE agents ADD COLUMN ranked_successes DOUBLE PRECISION NOT NULL DEFAULT 0;
  ALTER TABLE agents ADD COLUMN measured_success_rate DOUBLE PRECISION;
  ALTER TABLE agents ADD COLUMN measured_response_time_ms DOUBLE PRECISION;
  ALTER TABLE agents ADD COLUMN measured_uptime DOUBLE PRECISION;
  CREATE TABLE category_priors (category TEXT PRIMARY KEY, prior DOUBLE PRECISION NOT NULL);
  ${figuresBackfill("DOUBLE PRECISION")}
`;
