import type { PgDb, PgTx } from "../platform/db/pg-db.js";
import {
  callKey,
  type GrantReportState,
  type PendingClaim,
  planGrantReports,
  type ReportClaim,
  releaseClaims,
  successRoom,
} from "./grant-reports.js";
import { type GrantReportRow, type GrantRow, toClaim, toGrant, toReportState } from "./grant-rows.js";
import type { CountedGrantReport, GrantStore } from "./port.js";

/** PostgreSQL schema of direct-mode grants: SQLite's migration 8 (see `GRANTS_MIGRATION` there). */
export const GRANTS_SCHEMA = `
  CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents(id),
    buyer_id TEXT NOT NULL REFERENCES accounts(id),
    seller_account_id TEXT NOT NULL REFERENCES accounts(id),
    key_id TEXT,
    endpoint TEXT NOT NULL,
    price_micros BIGINT NOT NULL CHECK (price_micros > 0),
    budget_micros BIGINT NOT NULL CHECK (budget_micros > 0),
    buyer_public_key TEXT NOT NULL,
    token TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    best_owed_micros BIGINT NOT NULL DEFAULT 0 CHECK (best_owed_micros BETWEEN 0 AND budget_micros),
    best_sequence BIGINT NOT NULL DEFAULT 0,
    best_signature TEXT,
    closed_at TEXT,
    settling_micros BIGINT,
    settled_at TEXT,
    captured_micros BIGINT,
    reported_successes BIGINT NOT NULL DEFAULT 0,
    reported_failures BIGINT NOT NULL DEFAULT 0,
    reports_pruned BOOLEAN NOT NULL DEFAULT false
  );
  CREATE INDEX grants_by_buyer ON grants (buyer_id, issued_at);
  CREATE INDEX grants_unsettled_by_expiry ON grants (expires_at) WHERE settled_at IS NULL;
  CREATE INDEX grants_unsettled_by_close ON grants (closed_at) WHERE settled_at IS NULL AND closed_at IS NOT NULL;
  CREATE INDEX grants_reports_to_prune ON grants (settled_at) WHERE settled_at IS NOT NULL AND NOT reports_pruned;

  CREATE TABLE grant_reports (
    grant_id TEXT NOT NULL REFERENCES grants(id),
    sequence BIGINT NOT NULL,
    PRIMARY KEY (grant_id, sequence)
  );
`;

/** PostgreSQL's migration 7: SQLite's migration 13 (see `GRANT_REPORTS_MIGRATION` there). */
export const GRANT_REPORTS_SCHEMA = `
  ALTER TABLE grant_reports ADD COLUMN source TEXT CHECK (source IN ('buyer', 'seller'));
  ALTER TABLE grant_reports ADD COLUMN outcome TEXT CHECK (outcome IN ('success', 'failure', 'client_error'));
  ALTER TABLE grant_reports ADD COLUMN response_time_ms BIGINT;
  ALTER TABLE grant_reports ADD COLUMN counted BOOLEAN NOT NULL DEFAULT true;
  CREATE INDEX grant_reports_pending ON grant_reports (grant_id, source DESC, sequence)
    WHERE NOT counted AND outcome = 'success';

  ALTER TABLE grants ADD COLUMN reported_client_errors BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE grants ADD COLUMN buyer_claims BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE grants ADD COLUMN seller_claims BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE grants ADD COLUMN reports_final BOOLEAN NOT NULL DEFAULT false;
  UPDATE grants SET reports_final = true WHERE settled_at IS NOT NULL;
  CREATE INDEX grants_reports_to_finalize ON grants (settled_at)
    WHERE settled_at IS NOT NULL AND NOT reports_final;
`;

/** Counts the pending successes of `grant` its vouchers pay for now (in `tx`); updates its counters. */
async function releasePending(tx: PgTx, grant: GrantReportState): Promise<CountedGrantReport[]> {
  const room = successRoom(grant);
  if (room <= 0) return [];
  const pending = await tx.query<PendingClaim>(
    `SELECT sequence, source, response_time_ms AS "responseTimeMs" FROM grant_reports
     WHERE grant_id = $1 AND NOT counted AND outcome = 'success' AND (source = 'seller' OR $2::boolean)
     ORDER BY source DESC, sequence LIMIT $3`,
    [grant.id, grant.final, room],
  );
  const released = releaseClaims(grant, pending);
  if (released.length > 0) {
    await tx.run("UPDATE grant_reports SET counted = true WHERE grant_id = $1 AND sequence = ANY($2)", [
      grant.id,
      released.map((claim) => claim.sequence),
    ]);
  }
  return released;
}

/** Writes the report counters of `grants` (in `tx`). */
async function saveCounters(tx: PgTx, grants: GrantReportState[], final = false): Promise<void> {
  if (grants.length === 0) return;
  await tx.run(
    `UPDATE grants SET reported_successes = c.successes, reported_failures = c.failures,
       reported_client_errors = c.client_errors, buyer_claims = c.buyer_claims,
       seller_claims = c.seller_claims, reports_final = reports_final OR $7::boolean
     FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
       AS c (id, successes, failures, client_errors, buyer_claims, seller_claims)
     WHERE grants.id = c.id`,
    [
      grants.map((grant) => grant.id),
      grants.map((grant) => grant.successes),
      grants.map((grant) => grant.failures),
      grants.map((grant) => grant.clientErrors),
      grants.map((grant) => grant.buyerClaims),
      grants.map((grant) => grant.sellerClaims),
      final,
    ],
  );
}

/** PostgreSQL migration 6: SQLite's migration 12 (see `PREPAID_VOUCHERS_MIGRATION` there). */
export const PREPAID_VOUCHERS_SCHEMA = `
  ALTER TABLE grants ADD COLUMN best_voucher_owed_micros BIGINT NOT NULL DEFAULT 0;
  UPDATE grants SET best_voucher_owed_micros = best_owed_micros;
`;

/**
 * The grant store on PostgreSQL. Every change is one conditional UPDATE (atomic under concurrent
 * brokers: PostgreSQL re-checks the condition on the locked row), except usage reports, counted in
 * one transaction that locks the grants concerned.
 */
export function createPgGrants(db: PgDb): GrantStore {
  const current = async (id: string) => {
    const row = await db.one<GrantRow>("SELECT * FROM grants WHERE id = $1", [id]);
    return row && toGrant(row);
  };
  /** Runs a conditional UPDATE … RETURNING *; when it changed nothing, reads the grant as it stands. */
  const update = async (sql: string, values: unknown[], id: string) => {
    const row = await db.one<GrantRow>(`${sql} RETURNING *`, values);
    return row ? toGrant(row) : current(id);
  };

  return {
    async insertGrant(grant) {
      const row = await db.one<GrantRow>(
        `INSERT INTO grants (id, agent_id, buyer_id, seller_account_id, key_id, endpoint, price_micros,
           budget_micros, buyer_public_key, token, issued_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *`,
        [
          grant.id,
          grant.agentId,
          grant.buyerId,
          grant.sellerAccountId,
          grant.keyId,
          grant.endpoint,
          grant.priceMicros,
          grant.budgetMicros,
          grant.buyerPublicKey,
          grant.token,
          grant.issuedAt,
          grant.expiresAt,
        ],
      );
      return toGrant(row as GrantRow);
    },

    getGrant: current,

    recordGrantVoucher(id, voucher) {
      return update(
        `UPDATE grants SET best_owed_micros = $2, best_voucher_owed_micros = $3, best_sequence = $4,
           best_signature = $5
         WHERE id = $1 AND settling_micros IS NULL AND best_owed_micros < $2 AND $2 <= $3
           AND $3 <= budget_micros`,
        [id, voucher.claimMicros, voucher.owedMicros, voucher.sequence, voucher.signature],
        id,
      );
    },

    closeGrant(id, at) {
      return update(
        "UPDATE grants SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL AND settling_micros IS NULL",
        [id, at],
        id,
      );
    },

    beginGrantSettlement(id) {
      return update(
        "UPDATE grants SET settling_micros = best_owed_micros WHERE id = $1 AND settling_micros IS NULL",
        [id],
        id,
      );
    },

    finishGrantSettlement(id, capturedMicros, at) {
      return update(
        `UPDATE grants SET captured_micros = $2, settled_at = $3
         WHERE id = $1 AND settled_at IS NULL AND settling_micros IS NOT NULL`,
        [id, capturedMicros, at],
        id,
      );
    },

    async listGrantsDue(now, graceMs, limit) {
      const before = new Date(Date.parse(now) - graceMs).toISOString();
      const rows = await db.query<{ id: string }>(
        `SELECT id FROM (
           SELECT id, expires_at AS due FROM grants WHERE settled_at IS NULL AND expires_at <= $1
           UNION ALL
           SELECT id, closed_at AS due FROM grants
             WHERE settled_at IS NULL AND closed_at IS NOT NULL AND closed_at <= $1
         ) due GROUP BY id ORDER BY min(due), id LIMIT $2`,
        [before, limit],
      );
      return rows.map((row) => row.id);
    },

    async pruneGrantReports(settledBefore, limit) {
      return db.transaction(async (tx) => {
        // SKIP LOCKED: brokers pruning at once take different grants.
        const grants = await tx.query<{ id: string }>(
          `SELECT id FROM grants WHERE settled_at IS NOT NULL AND NOT reports_pruned AND settled_at <= $1
           ORDER BY settled_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [settledBefore, limit],
        );
        const ids = grants.map((grant) => grant.id);
        if (ids.length === 0) return 0;
        await tx.run("DELETE FROM grant_reports WHERE grant_id = ANY($1)", [ids]);
        await tx.run("UPDATE grants SET reports_pruned = true WHERE id = ANY($1)", [ids]);
        return ids.length;
      });
    },

    async countGrantReports(reports) {
      if (reports.length === 0) return { verdicts: [], counted: [] };
      const grantIds = [...new Set(reports.map((report) => report.grantId))].sort();
      return db.transaction(async (tx) => {
        // Locked in id order, so that two brokers counting reports of the same grants cannot deadlock.
        const rows = await tx.query<GrantRow>(
          "SELECT * FROM grants WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
          [grantIds],
        );
        const grants = new Map(rows.map((row) => [row.id, toReportState(row)]));
        // Successes kept earlier that the vouchers pay for now come first.
        const counted: CountedGrantReport[] = [];
        for (const grant of grants.values()) counted.push(...(await releasePending(tx, grant)));
        const known = reports.filter((report) => grants.has(report.grantId));
        const stored = await tx.query<GrantReportRow>(
          `SELECT r.* FROM grant_reports r
           JOIN unnest($1::text[], $2::bigint[]) AS c (grant_id, sequence)
             ON r.grant_id = c.grant_id AND r.sequence = c.sequence`,
          [known.map((report) => report.grantId), known.map((report) => report.sequence)],
        );
        const existing = new Map<string, ReportClaim>(
          stored.map((row) => [callKey(row.grant_id, Number(row.sequence)), toClaim(row)]),
        );
        const { verdicts, writes, counted: planned } = planGrantReports(grants, existing, reports);
        if (writes.length > 0) {
          await tx.run(
            `INSERT INTO grant_reports (grant_id, sequence, source, outcome, response_time_ms, counted)
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::boolean[])
             ON CONFLICT (grant_id, sequence) DO UPDATE SET source = excluded.source,
               outcome = excluded.outcome, response_time_ms = excluded.response_time_ms,
               counted = excluded.counted`,
            [
              writes.map((write) => write.grantId),
              writes.map((write) => write.sequence),
              writes.map((write) => write.source),
              writes.map((write) => write.outcome),
              writes.map((write) => write.responseTimeMs),
              writes.map((write) => write.counted),
            ],
          );
        }
        await saveCounters(tx, [...grants.values()]);
        return { verdicts, counted: [...counted, ...planned] };
      });
    },

    async releaseSettledGrantReports(limit) {
      return db.transaction(async (tx) => {
        // SKIP LOCKED: brokers finalizing at once take different grants.
        const rows = await tx.query<GrantRow>(
          `SELECT * FROM grants WHERE settled_at IS NOT NULL AND NOT reports_final
           ORDER BY settled_at LIMIT $1 FOR NO KEY UPDATE SKIP LOCKED`,
          [limit],
        );
        const grants = rows.map((row) => ({ ...toReportState(row), final: true }));
        const counted: CountedGrantReport[] = [];
        for (const grant of grants) counted.push(...(await releasePending(tx, grant)));
        await saveCounters(tx, grants, true);
        return counted;
      });
    },
  };
}
