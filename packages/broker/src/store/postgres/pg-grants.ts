import { type GrantRow, reportCap, toGrant } from "../grant-rows.js";
import type { GrantStore } from "../types.js";
import type { PgDb } from "./pg-db.js";

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
      if (reports.length === 0) return [];
      const grantIds = [...new Set(reports.map((report) => report.grantId))].sort();
      return db.transaction(async (tx) => {
        // Locked in id order, so that two brokers counting reports of the same grants cannot deadlock.
        const grants = await tx.query<GrantRow>(
          "SELECT * FROM grants WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
          [grantIds],
        );
        const room = new Map(
          grants.map((grant) => {
            const cap = reportCap(grant);
            return [
              grant.id,
              { successes: cap - grant.reported_successes, failures: cap - grant.reported_failures },
            ];
          }),
        );
        const known = reports.filter((report) => room.has(report.grantId));
        const inserted = await tx.query<{ grant_id: string; sequence: number }>(
          `INSERT INTO grant_reports (grant_id, sequence)
           SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING RETURNING grant_id, sequence`,
          [known.map((report) => report.grantId), known.map((report) => report.sequence)],
        );
        const fresh = new Set(inserted.map((row) => `${row.grant_id}:${row.sequence}`));
        const added = new Map<string, { successes: number; failures: number }>();
        const counted = reports.map((report) => {
          const name = `${report.grantId}:${report.sequence}`;
          const left = room.get(report.grantId);
          // A call is counted once: the first of its reports that the insert saw as new.
          if (!left || !fresh.delete(name)) return false;
          const kind = report.success ? "successes" : "failures";
          if (left[kind] <= 0) return false;
          left[kind] -= 1;
          const sums = added.get(report.grantId) ?? { successes: 0, failures: 0 };
          sums[kind] += 1;
          added.set(report.grantId, sums);
          return true;
        });
        if (added.size > 0) {
          const ids = [...added.keys()];
          await tx.run(
            `UPDATE grants SET reported_successes = reported_successes + add.successes,
               reported_failures = reported_failures + add.failures
             FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS add (id, successes, failures)
             WHERE grants.id = add.id`,
            [
              ids,
              ids.map((id) => added.get(id)?.successes ?? 0),
              ids.map((id) => added.get(id)?.failures ?? 0),
            ],
          );
        }
        return counted;
      });
    },
  };
}
