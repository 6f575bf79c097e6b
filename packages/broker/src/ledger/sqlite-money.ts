import { assertAmount, assertCallerId, monthOf } from "./ledger-rules.js";
import type { LedgerStore, MoneyMovementStore, SettlementRecord, TopupCompletion } from "./port.js";
import { type AccountRow, type SettlementRow, type TopupRow, toSettlement, toTopup } from "./rows.js";
import { isConstraint, type SqliteLedgerContext } from "./sqlite-ledger-context.js";
import {
  creditTransfer,
  dueSettlements,
  earningsOf,
  noAccount,
  TOPUP_COLUMNS,
  topupFailed,
  topupTransfer,
  topupValues,
  walletOf,
} from "./transfers.js";

/** Balances, spend caps and key spending on SQLite. */
export function sqliteBalances({
  sql,
  prepare,
  write,
}: SqliteLedgerContext): Pick<LedgerStore, "getBalance" | "getKeySpend" | "setMonthlyCap"> {
  return {
    async getBalance(accountId, at) {
      const wallet = sql.account.get(walletOf(accountId)) as AccountRow | undefined;
      const earnings = sql.account.get(earningsOf(accountId)) as AccountRow | undefined;
      return {
        accountId,
        available: wallet ? wallet.credits_posted - wallet.debits_posted - wallet.debits_pending : 0,
        held: wallet?.debits_pending ?? 0,
        earnings: earnings ? earnings.credits_posted - earnings.debits_posted : 0,
        monthlyCap: (sql.monthlyCap.get(accountId) as number | null | undefined) ?? null,
        spentThisMonth: (sql.spent.get(accountId, monthOf(at)) as number | undefined) ?? 0,
      };
    },

    async getKeySpend(keyIds) {
      const spent = new Map<string, number>(keyIds.map((keyId) => [keyId, 0]));
      if (keyIds.length === 0) return spent;
      for (const [keyId, total] of sql.keySpend.all(JSON.stringify(keyIds)) as Array<[string, number]>) {
        spent.set(keyId, total);
      }
      return spent;
    },

    async setMonthlyCap(accountId, cap) {
      if (cap !== null) assertAmount(cap, 0);
      await write(() => {
        try {
          prepare(
            `INSERT INTO spend_limits (account_id, monthly_cap) VALUES (?, ?)
             ON CONFLICT (account_id) DO UPDATE SET monthly_cap = excluded.monthly_cap`,
          ).run(accountId, cap);
        } catch (error) {
          if (isConstraint(error, "FOREIGNKEY")) throw noAccount(accountId, error);
          throw error;
        }
      });
    },
  };
}

/** Credits and top-ups on SQLite: money in. */
export function sqliteTopups(
  ctx: SqliteLedgerContext,
): Pick<LedgerStore, "credit"> &
  Pick<
    MoneyMovementStore,
    "insertTopup" | "getTopup" | "findTopupByProviderRef" | "completeTopup" | "failTopup"
  > {
  const { prepare, write, getTopupRow, postOnce } = ctx;
  const completeTopup = (id: string, at: string): TopupCompletion | undefined => {
    const topup = getTopupRow(id);
    if (!topup) return undefined;
    if (topup.status === "succeeded") return { topup: toTopup(topup), credited: false };
    if (topup.status === "failed") throw topupFailed(id);
    postOnce(topupTransfer(topup), at, topup.account_id);
    prepare("UPDATE topups SET status = 'succeeded', completed_at = ?, checkout_url = NULL WHERE id = ?").run(
      at,
      id,
    );
    return {
      topup: toTopup({ ...topup, status: "succeeded", completed_at: at, checkout_url: null }),
      credited: true,
    };
  };
  return {
    async credit(request) {
      assertCallerId(request.id);
      assertAmount(request.amount, 1);
      await write(() => postOnce(creditTransfer(request), request.at, request.accountId));
    },

    async insertTopup(topup) {
      await write(() => {
        prepare(`INSERT INTO topups (${TOPUP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
          ...topupValues(topup),
        );
      });
    },

    async getTopup(id) {
      const row = getTopupRow(id);
      return row && toTopup(row);
    },

    async findTopupByProviderRef(provider, providerRef) {
      const row = prepare("SELECT * FROM topups WHERE provider = ? AND provider_ref = ?").get(
        provider,
        providerRef,
      ) as TopupRow | undefined;
      return row && toTopup(row);
    },

    async completeTopup(id, at) {
      return write(() => completeTopup(id, at));
    },

    async failTopup(id, at) {
      return write(() => {
        prepare(
          "UPDATE topups SET status = 'failed', completed_at = ? WHERE id = ? AND status = 'pending'",
        ).run(at, id);
        const row = getTopupRow(id);
        return row && toTopup(row);
      });
    },
  };
}

/** Settlements on SQLite: money out. */
export function sqliteSettlements({
  prepare,
  write,
  sums,
  postOnce,
}: SqliteLedgerContext): Pick<
  MoneyMovementStore,
  "createSettlements" | "listUnpaidSettlements" | "updateSettlement" | "listSettlements"
> {
  return {
    async createSettlements(date, provider, at, newId, unitMicros = 1) {
      assertAmount(unitMicros, 1);
      return write(() => {
        const unsettled = prepare(
          `SELECT a.id, a.owner_id, a.credits_posted - a.debits_posted AS amount FROM ledger_accounts a
           WHERE a.kind = 'earnings'
             AND NOT EXISTS (SELECT 1 FROM settlements s WHERE s.account_id = a.owner_id AND s.settlement_date = ?)
           ORDER BY a.id`,
        ).all(date) as Array<{ id: string; owner_id: string; amount: number }>;
        const due = dueSettlements(
          unsettled.map((row) => {
            const delta = sums.accountDelta(row.id);
            return { ...row, amount: row.amount + delta.credits_posted - delta.debits_posted };
          }),
          { date, provider, at, newId, unitMicros },
        );
        const created: SettlementRecord[] = [];
        for (const { settlement, payout } of due) {
          prepare(
            `INSERT INTO settlements (id, account_id, settlement_date, amount, provider, status, created_at)
             VALUES (?, ?, ?, ?, ?, 'pending', ?)`,
          ).run(settlement.id, settlement.accountId, date, settlement.amount, provider, at);
          postOnce(payout, at, settlement.accountId);
          created.push(settlement);
        }
        return created;
      });
    },

    async listUnpaidSettlements() {
      return (
        prepare(
          "SELECT * FROM settlements WHERE status <> 'paid' ORDER BY created_at, id",
        ).all() as SettlementRow[]
      ).map(toSettlement);
    },

    async updateSettlement(id, update) {
      await write(() => {
        prepare(
          "UPDATE settlements SET status = ?, provider_ref = ?, failure = ?, paid_at = ? WHERE id = ?",
        ).run(update.status, update.providerRef, update.failure, update.paidAt, id);
      });
    },

    async listSettlements(accountId) {
      return (
        prepare("SELECT * FROM settlements WHERE account_id = ? ORDER BY settlement_date DESC, id DESC").all(
          accountId,
        ) as SettlementRow[]
      ).map(toSettlement);
    },
  };
}
