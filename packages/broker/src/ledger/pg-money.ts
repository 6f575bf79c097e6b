import type { PgQueryable } from "../platform/db/pg-db.js";
import { chargePageParams, chargePageQuery, decodeChargeCursor, toChargePage } from "./charge-pages.js";
import { ledgerAudit } from "./ledger-audit.js";
import { assertAmount, monthOf } from "./ledger-rules.js";
import type { PgLedgerContext } from "./pg-ledger-context.js";
import type { LedgerStore, MoneyMovementStore, SettlementRecord } from "./port.js";
import {
  type ChargeRow,
  type SettlementRow,
  type TopupRow,
  toCharge,
  toSettlement,
  toTopup,
} from "./rows.js";
import {
  dueSettlements,
  EXTERNAL,
  earningsOf,
  TOPUP_COLUMNS,
  topupFailed,
  topupTransfer,
  topupValues,
  walletOf,
} from "./transfers.js";

// The PostgreSQL ledger's steps besides the hot path (pg-ledger.ts): reads of charges and the
// audit, balances and caps, top-ups (money in), settlements (money out).

/** A charge, a page of an account's charges, and the audit. */
export function pgChargeReads({
  db,
  getChargeRow,
}: PgLedgerContext): Pick<LedgerStore, "getCharge" | "listCharges" | "audit"> {
  return {
    async getCharge(id) {
      const row = await getChargeRow(id);
      return row && toCharge(row);
    },

    async listCharges(accountId, { role, limit, cursor }) {
      const position = cursor === undefined ? undefined : decodeChargeCursor(cursor);
      const rows = await db.query<ChargeRow>(
        chargePageQuery(role, position !== undefined, (n) => `$${n}`),
        chargePageParams(accountId, role, position, limit),
      );
      return toChargePage(rows, limit);
    },

    async audit() {
      // One repeatable-read transaction: every figure comes from the same snapshot. Accounts are
      // read with their slots added.
      return db.transaction(
        async (tx) => {
          const steps = ledgerAudit("SELECT * FROM ledger_balances");
          let step = steps.next();
          while (!step.done) step = steps.next(await tx.query(step.value));
          return step.value;
        },
        { isolation: "repeatable read" },
      );
    },
  };
}

/** Balances, spend caps and key spending. */
export function pgBalances({
  db,
  onAccount,
}: PgLedgerContext): Pick<LedgerStore, "getBalance" | "getKeySpend" | "setMonthlyCap"> {
  return {
    async getBalance(accountId, at) {
      const row = await db.one<{
        available: number | null;
        held: number | null;
        earnings: number | null;
        monthly_cap: number | null;
        spent: number | null;
      }>(
        `SELECT
           (SELECT w.credits_posted - w.debits_posted - w.debits_pending FROM ledger_accounts w WHERE w.id = $1) AS available,
           (SELECT w.debits_pending FROM ledger_accounts w WHERE w.id = $1) AS held,
           (SELECT e.credits_posted - e.debits_posted FROM ledger_balances e WHERE e.id = $2) AS earnings,
           (SELECT l.monthly_cap FROM spend_limits l WHERE l.account_id = $3) AS monthly_cap,
           (SELECT s.captured FROM monthly_spend s WHERE s.account_id = $3 AND s.month = $4) AS spent`,
        [walletOf(accountId), earningsOf(accountId), accountId, monthOf(at)],
      );
      return {
        accountId,
        available: row?.available ?? 0,
        held: row?.held ?? 0,
        earnings: row?.earnings ?? 0,
        monthlyCap: row?.monthly_cap ?? null,
        spentThisMonth: row?.spent ?? 0,
      };
    },

    async getKeySpend(keyIds) {
      const spent = new Map<string, number>(keyIds.map((keyId) => [keyId, 0]));
      if (keyIds.length === 0) return spent;
      const rows = await db.query<{ key_id: string; spent: number }>(
        "SELECT key_id, carried + pending + captured AS spent FROM key_spend WHERE key_id = ANY($1)",
        [keyIds],
      );
      for (const row of rows) spent.set(row.key_id, row.spent);
      return spent;
    },

    async setMonthlyCap(accountId, cap) {
      if (cap !== null) assertAmount(cap, 0);
      await onAccount(accountId, () =>
        db.run(
          `INSERT INTO spend_limits (account_id, monthly_cap) VALUES ($1, $2)
           ON CONFLICT (account_id) DO UPDATE SET monthly_cap = excluded.monthly_cap`,
          [accountId, cap],
        ),
      );
    },
  };
}

/** Top-ups: money in. */
export function pgTopups({
  db,
  postOnce,
}: PgLedgerContext): Pick<
  MoneyMovementStore,
  "insertTopup" | "getTopup" | "findTopupByProviderRef" | "completeTopup" | "failTopup"
> {
  const getTopupRow = (q: PgQueryable, id: string, lock = false) =>
    q.one<TopupRow>(`SELECT * FROM topups WHERE id = $1${lock ? " FOR NO KEY UPDATE" : ""}`, [id]);
  return {
    async insertTopup(topup) {
      await db.run(
        `INSERT INTO topups (${TOPUP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        topupValues(topup),
      );
    },

    async getTopup(id) {
      const row = await getTopupRow(db, id);
      return row && toTopup(row);
    },

    async findTopupByProviderRef(provider, providerRef) {
      const row = await db.one<TopupRow>("SELECT * FROM topups WHERE provider = $1 AND provider_ref = $2", [
        provider,
        providerRef,
      ]);
      return row && toTopup(row);
    },

    async completeTopup(id, at) {
      // The top-up's row is locked first: concurrent completions (webhooks delivered twice, to two
      // brokers) take turns, and all but the first find it succeeded.
      return db.transaction(async (tx) => {
        const topup = await getTopupRow(tx, id, true);
        if (!topup) return undefined;
        if (topup.status === "succeeded") return { topup: toTopup(topup), credited: false };
        if (topup.status === "failed") throw topupFailed(id);
        await postOnce(tx, topupTransfer(topup), at, topup.account_id);
        await tx.run(
          "UPDATE topups SET status = 'succeeded', completed_at = $1, checkout_url = NULL WHERE id = $2",
          [at, id],
        );
        return {
          topup: toTopup({ ...topup, status: "succeeded", completed_at: at, checkout_url: null }),
          credited: true,
        };
      });
    },

    async failTopup(id, at) {
      // A completion that holds the row makes this wait, then leave a succeeded top-up alone.
      await db.run(
        "UPDATE topups SET status = 'failed', completed_at = $1 WHERE id = $2 AND status = 'pending'",
        [at, id],
      );
      const row = await getTopupRow(db, id);
      return row && toTopup(row);
    },
  };
}

/** Settlements: money out. */
export function pgSettlements({
  db,
}: PgLedgerContext): Pick<
  MoneyMovementStore,
  "createSettlements" | "listUnpaidSettlements" | "updateSettlement" | "listSettlements"
> {
  return {
    async createSettlements(date, provider, at, newId, unitMicros = 1) {
      assertAmount(unitMicros, 1);
      return db.transaction(async (tx) => {
        // Each seller's earnings row is locked while it is settled, so that runs (for one date or
        // several) take turns per seller; captures pay earnings into slots and do not wait. What is
        // due is read after the locks, so a run that waited sees what the run before it settled.
        const locked = await tx.query<{ id: string }>(
          `SELECT a.id FROM ledger_accounts a
           WHERE a.id IN (
             SELECT b.id FROM ledger_balances b
             WHERE b.kind = 'earnings' AND b.credits_posted - b.debits_posted >= $2
               AND NOT EXISTS (SELECT 1 FROM settlements s WHERE s.account_id = b.owner_id AND s.settlement_date = $1))
           ORDER BY a.id FOR NO KEY UPDATE`,
          [date, unitMicros],
        );
        if (locked.length === 0) return [];
        const unsettled = await tx.query<{ id: string; owner_id: string; amount: number }>(
          `SELECT b.id, b.owner_id, b.credits_posted - b.debits_posted AS amount FROM ledger_balances b
           WHERE b.id = ANY($1)
             AND NOT EXISTS (SELECT 1 FROM settlements s WHERE s.account_id = b.owner_id AND s.settlement_date = $2)
           ORDER BY b.id`,
          [locked.map((row) => row.id), date],
        );
        const due = dueSettlements(unsettled, { date, provider, at, newId, unitMicros });
        if (due.length === 0) return [];
        await tx.run(
          `INSERT INTO settlements (id, account_id, settlement_date, amount, provider, status, created_at)
           SELECT t.id, t.account_id, $4, t.amount, $5, 'pending', $6
           FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(id, account_id, amount)`,
          [
            due.map((d) => d.settlement.id),
            due.map((d) => d.settlement.accountId),
            due.map((d) => d.settlement.amount),
            date,
            provider,
            at,
          ],
        );
        const posted = await tx.one<{ all_posted: boolean }>(
          `SELECT bool_and(ledger_post(t.id, t.debit, $4, t.amount, 'payout', NULL, t.reference, $5)) AS all_posted
           FROM unnest($1::text[], $2::text[], $3::bigint[], $6::text[]) AS t(id, debit, amount, reference)`,
          [
            due.map((d) => d.payout.id),
            due.map((d) => d.payout.debit_account_id),
            due.map((d) => d.payout.amount),
            EXTERNAL,
            at,
            due.map((d) => d.payout.reference),
          ],
        );
        // A payout id is the settlement's, which was just inserted: it cannot be taken.
        if (!posted?.all_posted) throw new Error("A settlement's payout id was taken");
        return due.map((d): SettlementRecord => d.settlement);
      });
    },

    async listUnpaidSettlements() {
      const rows = await db.query<SettlementRow>(
        "SELECT * FROM settlements WHERE status <> 'paid' ORDER BY created_at, id",
      );
      return rows.map(toSettlement);
    },

    async updateSettlement(id, update) {
      await db.run(
        "UPDATE settlements SET status = $1, provider_ref = $2, failure = $3, paid_at = $4 WHERE id = $5",
        [update.status, update.providerRef, update.failure, update.paidAt, id],
      );
    },

    async listSettlements(accountId) {
      const rows = await db.query<SettlementRow>(
        "SELECT * FROM settlements WHERE account_id = $1 ORDER BY settlement_date DESC, id DESC",
        [accountId],
      );
      return rows.map(toSettlement);
    },
  };
}
