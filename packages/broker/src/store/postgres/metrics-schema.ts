import { SUMS } from "../metrics-math.js";

/** A table of per-agent buckets: one row per agent and bucket start, one BIGINT per summed column. */
function bucketTable(name: string): string {
  return `
  CREATE TABLE ${name} (
    agent_seq BIGINT NOT NULL REFERENCES agents(seq),
    start BIGINT NOT NULL,
    ${SUMS.map((column) => `${column} BIGINT NOT NULL DEFAULT 0`).join(",\n    ")},
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
