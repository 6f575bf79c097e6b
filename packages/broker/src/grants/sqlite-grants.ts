import type Database from "better-sqlite3";
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
import type { CountedGrantReport, GrantReportRecord, GrantStore } from "./port.js";

/**
 * Migration 8: direct-mode grants (docs/direct-mode.md). A grant's budget is an ordinary hold in
 * `charges` with the grant's id; this table keeps what the ledger does not: the token, the best
 * voucher, closing and settlement. `grant_reports` remembers which calls' outcomes were counted,
 * so that a call reported by both the buyer and the seller counts once.
 */
export const GRANTS_MIGRATION = {
  version: 8,
  name: "direct-mode grants",
  sql: `
    CREATE TABLE grants (
      id TEXT PRIMARY KEY,
      agent_id TEXT NOT NULL REFERENCES agents(id),
      buyer_id TEXT NOT NULL REFERENCES accounts(id),
      seller_account_id TEXT NOT NULL REFERENCES accounts(id),
      key_id TEXT,
      endpoint TEXT NOT NULL,
      price_micros INTEGER NOT NULL CHECK (price_micros > 0),
      budget_micros INTEGER NOT NULL CHECK (budget_micros > 0),
      buyer_public_key TEXT NOT NULL,
      token TEXT NOT NULL,
      issued_at TEXT NOT NULL,
      expires_at TEXT NOT NULL,
      best_owed_micros INTEGER NOT NULL DEFAULT 0 CHECK (best_owed_micros BETWEEN 0 AND budget_micros),
      best_sequence INTEGER NOT NULL DEFAULT 0,
      best_signature TEXT,
      closed_at TEXT,
      settling_micros INTEGER,
      settled_at TEXT,
      captured_micros INTEGER,
      reported_successes INTEGER NOT NULL DEFAULT 0,
      reported_failures INTEGER NOT NULL DEFAULT 0,
      -- 1 once its grant_reports rows were dropped (a day after settlement: no report counts then).
      reports_pruned INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX grants_by_buyer ON grants (buyer_id, issued_at);
    -- The sweeper's two questions: open grants past expiry, closed grants past their grace.
    CREATE INDEX grants_unsettled_by_expiry ON grants (expires_at) WHERE settled_at IS NULL;
    CREATE INDEX grants_unsettled_by_close ON grants (closed_at) WHERE settled_at IS NULL AND closed_at IS NOT NULL;
    CREATE INDEX grants_reports_to_prune ON grants (settled_at) WHERE settled_at IS NOT NULL AND reports_pruned = 0;

    CREATE TABLE grant_reports (
      grant_id TEXT NOT NULL REFERENCES grants(id),
      sequence INTEGER NOT NULL,
      PRIMARY KEY (grant_id, sequence)
    ) STRICT, WITHOUT ROWID;
  `,
} as const;

/**
 * Migration 13: usage reports count only for calls that demonstrably happened (docs/direct-mode.md,
 * §5). `grant_reports` keeps each call's claim — its side, outcome and response time, and whether
 * it was counted — so that the seller's report can replace a buyer's not counted yet, and a success
 * not paid yet can count once a voucher pays for it. Calls counted before this migration keep
 * `counted = 1` and no side: their outcome is decided. `reports_final` is set once a settled grant's
 * pending claims were weighed; grants already settled are final.
 */
export const GRANT_REPORTS_MIGRATION = {
  version: 13,
  name: "usage report claims",
  sql: `
    ALTER TABLE grant_reports ADD COLUMN source TEXT CHECK (source IN ('buyer', 'seller'));
    ALTER TABLE grant_reports ADD COLUMN outcome TEXT CHECK (outcome IN ('success', 'failure', 'client_error'));
    ALTER TABLE grant_reports ADD COLUMN response_time_ms INTEGER;
    ALTER TABLE grant_reports ADD COLUMN counted INTEGER NOT NULL DEFAULT 1;
    -- Pending successes of a grant, the seller's first, in the order they are released.
    CREATE INDEX grant_reports_pending ON grant_reports (grant_id, source DESC, sequence)
      WHERE counted = 0 AND outcome = 'success';

    ALTER TABLE grants ADD COLUMN reported_client_errors INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE grants ADD COLUMN buyer_claims INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE grants ADD COLUMN seller_claims INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE grants ADD COLUMN reports_final INTEGER NOT NULL DEFAULT 0;
    UPDATE grants SET reports_final = 1 WHERE settled_at IS NOT NULL;
    CREATE INDEX grants_reports_to_finalize ON grants (settled_at)
      WHERE settled_at IS NOT NULL AND reports_final = 0;
  `,
} as const;

/**
 * Migration 12: prepaid vouchers (`mercato-voucher-v2`). A call's voucher also pays for that call,
 * so what a grant's best voucher owes is no longer what settlement captures: the seller claims what
 * it earned (at most its voucher's amount), the buyer's final voucher what it owes.
 * `best_owed_micros` becomes the best claim; `best_voucher_owed_micros` keeps what the voucher
 * behind it owes (the amount its signature covers). Grants recorded before claimed their
 * voucher's whole amount.
 */
export const PREPAID_VOUCHERS_MIGRATION = {
  version: 12,
  name: "prepaid vouchers: a grant's best claim and the voucher behind it",
  sql: `
    ALTER TABLE grants ADD COLUMN best_voucher_owed_micros INTEGER NOT NULL DEFAULT 0;
    UPDATE grants SET best_voucher_owed_micros = best_owed_micros;
  `,
} as const;

/** The grant store on SQLite: short transactions, each a few statements. */
export function createSqliteGrants(
  db: Database.Database,
  prepare: (sql: string) => Database.Statement,
): GrantStore {
  const get = (id: string): GrantRow | undefined =>
    prepare("SELECT * FROM grants WHERE id = ?").get(id) as GrantRow | undefined;
  const current = (id: string) => {
    const row = get(id);
    return row && toGrant(row);
  };

  const claimOf = (grantId: string, sequence: number): ReportClaim | undefined => {
    const row = prepare("SELECT * FROM grant_reports WHERE grant_id = ? AND sequence = ?").get(
      grantId,
      sequence,
    ) as GrantReportRow | undefined;
    return row && toClaim(row);
  };

  /** Counts the pending successes of `grant` its vouchers pay for now; updates its counter row. */
  const release = (grant: GrantReportState): CountedGrantReport[] => {
    const room = successRoom(grant);
    if (room <= 0) return [];
    const pending = prepare(
      `SELECT sequence, source, response_time_ms AS responseTimeMs FROM grant_reports
       WHERE grant_id = ? AND counted = 0 AND outcome = 'success' AND (source = 'seller' OR ?)
       ORDER BY source DESC, sequence LIMIT ?`,
    ).all(grant.id, grant.final ? 1 : 0, room) as PendingClaim[];
    const released = releaseClaims(grant, pending);
    for (const claim of released) {
      prepare("UPDATE grant_reports SET counted = 1 WHERE grant_id = ? AND sequence = ?").run(
        grant.id,
        claim.sequence,
      );
    }
    return released;
  };

  const saveCounters = (grant: GrantReportState) => {
    prepare(
      `UPDATE grants SET reported_successes = ?, reported_failures = ?, reported_client_errors = ?,
         buyer_claims = ?, seller_claims = ? WHERE id = ?`,
    ).run(
      grant.successes,
      grant.failures,
      grant.clientErrors,
      grant.buyerClaims,
      grant.sellerClaims,
      grant.id,
    );
  };

  const countReports = db.transaction((reports: GrantReportRecord[]) => {
    const grants = new Map<string, GrantReportState>();
    for (const report of reports) {
      const row = grants.has(report.grantId) ? undefined : get(report.grantId);
      if (row) grants.set(report.grantId, toReportState(row));
    }
    // Successes kept earlier that the vouchers pay for now come first.
    const counted: CountedGrantReport[] = [];
    for (const grant of grants.values()) counted.push(...release(grant));
    const existing = new Map<string, ReportClaim>();
    for (const report of reports) {
      const key = callKey(report.grantId, report.sequence);
      if (!grants.has(report.grantId) || existing.has(key)) continue;
      const claim = claimOf(report.grantId, report.sequence);
      if (claim) existing.set(key, claim);
    }
    const planned = planGrantReports(grants, existing, reports);
    for (const write of planned.writes) {
      prepare(
        `INSERT INTO grant_reports (grant_id, sequence, source, outcome, response_time_ms, counted)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (grant_id, sequence) DO UPDATE SET source = excluded.source,
           outcome = excluded.outcome, response_time_ms = excluded.response_time_ms, counted = excluded.counted`,
      ).run(
        write.grantId,
        write.sequence,
        write.source,
        write.outcome,
        write.responseTimeMs,
        write.counted ? 1 : 0,
      );
    }
    for (const grant of grants.values()) saveCounters(grant);
    return { verdicts: planned.verdicts, counted: [...counted, ...planned.counted] };
  });

  const releaseSettled = db.transaction((limit: number): CountedGrantReport[] => {
    const rows = prepare(
      `SELECT * FROM grants WHERE settled_at IS NOT NULL AND reports_final = 0 ORDER BY settled_at LIMIT ?`,
    ).all(limit) as GrantRow[];
    const counted: CountedGrantReport[] = [];
    for (const row of rows) {
      const grant = { ...toReportState(row), final: true };
      counted.push(...release(grant));
      saveCounters(grant);
      prepare("UPDATE grants SET reports_final = 1 WHERE id = ?").run(grant.id);
    }
    return counted;
  });

  const pruneReports = db.transaction((settledBefore: string, limit: number): number => {
    const ids = prepare(
      `SELECT id FROM grants WHERE settled_at IS NOT NULL AND reports_pruned = 0 AND settled_at <= ?
       ORDER BY settled_at LIMIT ?`,
    )
      .pluck()
      .all(settledBefore, limit) as string[];
    for (const id of ids) {
      prepare("DELETE FROM grant_reports WHERE grant_id = ?").run(id);
      prepare("UPDATE grants SET reports_pruned = 1 WHERE id = ?").run(id);
    }
    return ids.length;
  });

  return {
    async insertGrant(grant) {
      prepare(
        `INSERT INTO grants (id, agent_id, buyer_id, seller_account_id, key_id, endpoint, price_micros,
           budget_micros, buyer_public_key, token, issued_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
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
      );
      return current(grant.id) as NonNullable<ReturnType<typeof current>>;
    },

    async getGrant(id) {
      return current(id);
    },

    async recordGrantVoucher(id, voucher) {
      prepare(
        `UPDATE grants SET best_owed_micros = @claim, best_voucher_owed_micros = @owed,
           best_sequence = @sequence, best_signature = @signature
         WHERE id = @id AND settling_micros IS NULL AND best_owed_micros < @claim AND @claim <= @owed
           AND @owed <= budget_micros`,
      ).run({
        id,
        claim: voucher.claimMicros,
        owed: voucher.owedMicros,
        sequence: voucher.sequence,
        signature: voucher.signature,
      });
      return current(id);
    },

    async closeGrant(id, at) {
      prepare(
        "UPDATE grants SET closed_at = ? WHERE id = ? AND closed_at IS NULL AND settling_micros IS NULL",
      ).run(at, id);
      return current(id);
    },

    async beginGrantSettlement(id) {
      prepare(
        "UPDATE grants SET settling_micros = best_owed_micros WHERE id = ? AND settling_micros IS NULL",
      ).run(id);
      return current(id);
    },

    async finishGrantSettlement(id, capturedMicros, at) {
      prepare(
        "UPDATE grants SET captured_micros = ?, settled_at = ? WHERE id = ? AND settled_at IS NULL AND settling_micros IS NOT NULL",
      ).run(capturedMicros, at, id);
      return current(id);
    },

    async listGrantsDue(now, graceMs, limit) {
      const before = new Date(Date.parse(now) - graceMs).toISOString();
      return prepare(
        `SELECT id FROM (
           SELECT id, expires_at AS due FROM grants WHERE settled_at IS NULL AND expires_at <= ?
           UNION
           SELECT id, closed_at AS due FROM grants
             WHERE settled_at IS NULL AND closed_at IS NOT NULL AND closed_at <= ?
         ) GROUP BY id ORDER BY min(due), id LIMIT ?`,
      )
        .pluck()
        .all(before, before, limit) as string[];
    },

    async countGrantReports(reports) {
      return countReports(reports);
    },

    async releaseSettledGrantReports(limit) {
      return releaseSettled(limit);
    },

    async pruneGrantReports(settledBefore, limit) {
      return pruneReports(settledBefore, limit);
    },
  };
}
