import type Database from "better-sqlite3";
import type { EndpointHealth, HealthCheckClaim, HealthClaimResult } from "./port.js";

/**
 * Migration 11: health checks shared by every broker on the store (issue 16, item 7).
 *
 * - `health_endpoints`: one row per endpoint ever checked (its health URL): when a check of it was
 *   last claimed (ms since the epoch), so that brokers check it once per interval between them,
 *   and its failed checks in a row, so that checks made by different brokers add up.
 * - `health_hosts`: per host name, the current window and the checks claimed in it, so that one
 *   host receives a bounded number of checks per window however many endpoints are listed on it.
 */
export const HEALTH_CLAIMS_MIGRATION = {
  version: 11,
  name: "health-check claims per endpoint and per host",
  sql: `
    CREATE TABLE health_endpoints (
      endpoint TEXT PRIMARY KEY,
      host TEXT NOT NULL,
      claimed_at INTEGER,
      failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
      checked_at TEXT
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE health_hosts (
      host TEXT PRIMARY KEY,
      window_start INTEGER NOT NULL,
      claimed INTEGER NOT NULL CHECK (claimed >= 0)
    ) STRICT, WITHOUT ROWID;
  `,
} as const;

type Prepare = (sql: string) => Database.Statement;

/** The health-check claims on SQLite: each a transaction, so atomic between processes on one file. */
export function createSqliteHealthClaims(db: Database.Database, prepare: Prepare) {
  const claim = db.transaction((request: HealthCheckClaim): HealthClaimResult => {
    const windowStart = Math.floor(request.at / request.intervalMs) * request.intervalMs;
    const endpoint = prepare("SELECT claimed_at FROM health_endpoints WHERE endpoint = ?").get(
      request.endpoint,
    ) as { claimed_at: number | null } | undefined;
    const last = endpoint?.claimed_at ?? null;
    if (last !== null && last > request.at - request.intervalMs) return "checked";
    const host = prepare("SELECT window_start, claimed FROM health_hosts WHERE host = ?").get(request.host) as
      | { window_start: number; claimed: number }
      | undefined;
    // A host row in a later window (a broker whose clock runs ahead) counts as spent: conservative.
    if (host !== undefined && host.window_start > windowStart) return "host_busy";
    const claimed = host !== undefined && host.window_start === windowStart ? host.claimed : 0;
    if (claimed >= request.perHost) return "host_busy";
    prepare(
      `INSERT INTO health_hosts (host, window_start, claimed) VALUES (?, ?, ?)
       ON CONFLICT (host) DO UPDATE SET window_start = excluded.window_start, claimed = excluded.claimed`,
    ).run(request.host, windowStart, claimed + 1);
    prepare(
      `INSERT INTO health_endpoints (endpoint, host, claimed_at) VALUES (?, ?, ?)
       ON CONFLICT (endpoint) DO UPDATE SET claimed_at = excluded.claimed_at`,
    ).run(request.endpoint, request.host, request.at);
    return "granted";
  });

  const record = db.transaction(
    (endpoint: string, host: string, healthy: boolean, at: string): EndpointHealth => {
      const row = prepare("SELECT failures FROM health_endpoints WHERE endpoint = ?").get(endpoint) as
        | { failures: number }
        | undefined;
      const previousFailures = row?.failures ?? 0;
      const failures = healthy ? 0 : previousFailures + 1;
      prepare(
        `INSERT INTO health_endpoints (endpoint, host, failures, checked_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (endpoint) DO UPDATE SET failures = excluded.failures, checked_at = excluded.checked_at`,
      ).run(endpoint, host, failures, at);
      return { failures, previousFailures };
    },
  );

  return {
    async claimHealthCheck(request: HealthCheckClaim): Promise<HealthClaimResult> {
      return claim.immediate(request);
    },
    async recordEndpointHealth(endpoint: string, host: string, healthy: boolean, at: string) {
      return record.immediate(endpoint, host, healthy, at);
    },
  };
}
