import type { PgDb } from "../platform/db/pg-db.js";
import type { EndpointHealth, HealthClaimResult, MetricsStore } from "./port.js";

/** The health-check claims shared by brokers. */
export type HealthClaimMethods = "claimHealthCheck" | "recordEndpointHealth";

/** PostgreSQL schema of the health-check claims: SQLite's migration 11 (see `HEALTH_CLAIMS_MIGRATION` there). */
export const HEALTH_CLAIMS_SCHEMA = `
  CREATE TABLE health_endpoints (
    endpoint TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    claimed_at BIGINT,
    failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    checked_at TEXT
  );

  CREATE TABLE health_hosts (
    host TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    claimed INTEGER NOT NULL CHECK (claimed >= 0)
  );
`;

/**
 * One statement, evaluated in the order its parts feed each other: the endpoint's row is locked
 * (`locked`: FOR UPDATE waits for a concurrent claim of it and reads the row as that one left it),
 * it must not have been claimed in the last interval (`fresh`), then its host takes one of its
 * checks of the window (`h`, under the host row's lock, its condition re-read on the row as it
 * stands), then the endpoint is marked claimed (`e`). Only an endpoint's very first claims can race
 * past `fresh` together (no row to lock yet): the loser is told `checked` and its host check is
 * lost, never one too many. A host row in a later window (a broker whose clock runs ahead) refuses:
 * conservative. $1 endpoint, $2 host, $3 now (ms), $4 interval (ms), $5 checks per host per window.
 */
const CLAIM = `
  WITH locked AS (
    SELECT claimed_at FROM health_endpoints WHERE endpoint = $1::text FOR UPDATE
  ),
  fresh AS (
    SELECT 1 AS ok WHERE NOT EXISTS (SELECT 1 FROM locked WHERE claimed_at > $3::bigint - $4::bigint)
  ),
  h AS (
    INSERT INTO health_hosts AS h (host, window_start, claimed)
    SELECT $2::text, ($3::bigint / $4::bigint) * $4::bigint, 1 FROM fresh
    ON CONFLICT (host) DO UPDATE
      SET claimed = CASE WHEN h.window_start = excluded.window_start THEN h.claimed + 1 ELSE 1 END,
          window_start = excluded.window_start
      WHERE h.window_start < excluded.window_start
         OR (h.window_start = excluded.window_start AND h.claimed < $5::int)
    RETURNING 1 AS ok
  ),
  e AS (
    INSERT INTO health_endpoints AS e (endpoint, host, claimed_at)
    SELECT $1::text, $2::text, $3::bigint FROM h
    ON CONFLICT (endpoint) DO UPDATE SET claimed_at = excluded.claimed_at
      WHERE e.claimed_at IS NULL OR e.claimed_at <= excluded.claimed_at - $4::bigint
    RETURNING 1 AS ok
  )
  SELECT (SELECT count(*) FROM fresh)::int AS fresh,
         (SELECT count(*) FROM h)::int AS host,
         (SELECT count(*) FROM e)::int AS endpoint`;

/**
 * The row is read and locked in the FROM (FOR UPDATE reads the latest committed version), so that
 * the count after and before are those of this one check even when two brokers record it at once.
 * $1 endpoint, $2 healthy, $3 when.
 */
const RECORD = `
  UPDATE health_endpoints AS e
  SET failures = CASE WHEN $2::boolean THEN 0 ELSE old.failures + 1 END, checked_at = $3::text
  FROM (SELECT endpoint, failures FROM health_endpoints WHERE endpoint = $1::text FOR UPDATE) AS old
  WHERE e.endpoint = old.endpoint
  RETURNING e.failures AS failures, old.failures AS previous`;

/** An endpoint's first result (checked without a claim): $1 endpoint, $2 host, $3 healthy, $4 when. */
const RECORD_FIRST = `
  INSERT INTO health_endpoints (endpoint, host, failures, checked_at)
  VALUES ($1::text, $2::text, CASE WHEN $3::boolean THEN 0 ELSE 1 END, $4::text)
  ON CONFLICT (endpoint) DO NOTHING
  RETURNING failures`;

/** The health-check claims on PostgreSQL: one statement each, atomic across brokers. */
export function createPgHealthClaims(db: PgDb): Pick<MetricsStore, HealthClaimMethods> {
  return {
    async claimHealthCheck(claim): Promise<HealthClaimResult> {
      const row = await db.one<{ fresh: number; host: number; endpoint: number }>(CLAIM, [
        claim.endpoint,
        claim.host,
        claim.at,
        claim.intervalMs,
        claim.perHost,
      ]);
      if (!row || row.fresh === 0) return "checked";
      if (row.host === 0) return "host_busy";
      return row.endpoint === 0 ? "checked" : "granted";
    },

    async recordEndpointHealth(endpoint, host, healthy, at): Promise<EndpointHealth> {
      for (;;) {
        const row = await db.one<{ failures: number; previous: number }>(RECORD, [endpoint, healthy, at]);
        if (row) return { failures: row.failures, previousFailures: row.previous };
        const first = await db.one<{ failures: number }>(RECORD_FIRST, [endpoint, host, healthy, at]);
        // Another broker inserted the row in between: update it as it now stands.
        if (first) return { failures: first.failures, previousFailures: 0 };
      }
    },
  };
}
