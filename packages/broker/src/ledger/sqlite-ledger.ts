import { splitCharge } from "@mercato/protocol";
import type Database from "better-sqlite3";
import { type BatchHooks, createCommitBatcher } from "../platform/db/commit-batcher.js";
import { ledgerAudit } from "./ledger-audit.js";
import {
  type AccountRow,
  assertAmount,
  assertCallerId,
  type ChargeRow,
  chargePageParams,
  chargePageQuery,
  checkHold,
  creditTransfer,
  dayOf,
  decodeChargeCursor,
  dueSettlements,
  earningsOf,
  expiryIdOf,
  type FundsRow,
  feeIdOf,
  idReused,
  monthOf,
  noAccount,
  placedCharge,
  REVENUE,
  refuseCapture,
  refuseHold,
  refuseResolution,
  replayedCharge,
  type SettlementRow,
  type SigningKeyRow,
  sameHold,
  sameResolution,
  sameTransfer,
  TOPUP_COLUMNS,
  type TopupRow,
  TRANSFER_COLUMNS,
  type TransferRow,
  toCharge,
  toChargePage,
  topupFailed,
  topupTransfer,
  topupValues,
  toSettlement,
  toSigningKey,
  toTopup,
  transferValues,
  walletOf,
} from "./ledger-rules.js";
import type {
  CaptureRequest,
  ChargeRecord,
  HoldRequest,
  LedgerAdapter,
  SettlementRecord,
  TopupCompletion,
} from "./port.js";

type Prepare = (sql: string) => Database.Statement;

/** Changes to an account's four counters. */
interface Delta {
  debits_pending: number;
  debits_posted: number;
  credits_pending: number;
  credits_posted: number;
}

/** A charge row as `SELECT id, buyer_id, … resolved_at` returns it in raw mode, column by column. */
type ChargeColumns = [
  ChargeRow["id"],
  ChargeRow["buyer_id"],
  ChargeRow["seller_account_id"],
  ChargeRow["agent_id"],
  ChargeRow["key_id"],
  ChargeRow["held"],
  ChargeRow["captured"],
  ChargeRow["fee"],
  ChargeRow["status"],
  ChargeRow["expires_at"],
  ChargeRow["created_at"],
  ChargeRow["resolved_at"],
];

const ZERO_DELTA: Readonly<Delta> = {
  debits_pending: 0,
  debits_posted: 0,
  credits_pending: 0,
  credits_posted: 0,
};

/**
 * The ledger on SQLite. Writes go through a group-commit batcher: each runs whole or not at all
 * inside the batch's immediate transaction, so concurrent holds on a wallet see each other, and a
 * write is answered only once the batch is durable. Reads are direct.
 *
 * The hot path (hold, capture, void) reads what it must check, then writes, and answers from what it
 * wrote. Its first write is the insert of the caller's transfer: when that id is taken, nothing has
 * moved yet and the request is a replay (same fields: the charge as it stands) or a conflict.
 *
 * Counters (an account's debits and credits, a buyer's spending in a month, a key's spending) are
 * not updated write by write: a write's additions are kept in memory, join the batch's once the
 * write has succeeded, and are written, one statement per row, just before the commit. Every
 * capture would otherwise update the one platform revenue row, and a charge would cost six UPDATEs.
 * Inside a batch, writes read counters as stored plus the batch's sums; between batches the rows
 * are exact. Transfers name their accounts through foreign keys, so an account's sum always has a
 * row to land on; a key's sums are upserted (a key's first hold creates its row).
 */
export function createSqliteLedger(db: Database.Database, prepare: Prepare): LedgerAdapter {
  const accountSums = createBatchSums<keyof Delta>();
  /** Keyed by `spendKey`. */
  const spendSums = createBatchSums<"captured">();
  /** Keyed by access key id: its holds in flight and its captured charges (`key_spend`). */
  const keySums = createBatchSums<"pending" | "captured">();
  /** Keyed by `spendKey(accountId, day)`: captured charges per UTC day (`daily_spend`). */
  const dailySums = createBatchSums<"captured">();
  const spendKey = (accountId: string, period: string) => JSON.stringify([accountId, period]);
  const move = (account: string, counter: keyof Delta, amount: number): void =>
    accountSums.add(account, counter, amount);
  const accountDelta = (account: string): Delta => ({ ...ZERO_DELTA, ...accountSums.get(account) });
  const spentDelta = (accountId: string, month: string): number =>
    spendSums.get(spendKey(accountId, month))?.captured ?? 0;
  const hooks: BatchHooks = {
    start() {
      accountSums.clear();
      spendSums.clear();
      keySums.clear();
      dailySums.clear();
    },
    settled(ok) {
      accountSums.settle(ok);
      spendSums.settle(ok);
      keySums.settle(ok);
      dailySums.settle(ok);
    },
    beforeCommit() {
      for (const [account, sums] of accountSums.batch) {
        const { changes } = sql.applyDelta.run(
          sums.debits_pending ?? 0,
          sums.debits_posted ?? 0,
          sums.credits_pending ?? 0,
          sums.credits_posted ?? 0,
          account,
        );
        if (changes !== 1) throw new Error(`Ledger account ${account} vanished during a batch`);
      }
      for (const [key, sums] of spendSums.batch) {
        const [accountId, month] = JSON.parse(key) as [string, string];
        sql.addSpend.run(accountId, month, sums.captured ?? 0);
      }
      for (const [keyId, sums] of keySums.batch) {
        sql.addKeySpend.run(keyId, sums.pending ?? 0, sums.captured ?? 0);
      }
      for (const [key, sums] of dailySums.batch) {
        const [accountId, day] = JSON.parse(key) as [string, string];
        sql.addDailySpend.run(accountId, day, sums.captured ?? 0);
      }
      accountSums.clear();
      spendSums.clear();
      keySums.clear();
      dailySums.clear();
    },
  };
  const write = createCommitBatcher(db, hooks);
  const sql = {
    transfer: prepare("SELECT * FROM transfers WHERE id = ?"),
    insertTransfer: prepare(`INSERT INTO transfers (${TRANSFER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    account: prepare("SELECT * FROM ledger_accounts WHERE id = ?"),
    applyDelta: prepare(
      `UPDATE ledger_accounts SET debits_pending = debits_pending + ?, debits_posted = debits_posted + ?,
         credits_pending = credits_pending + ?, credits_posted = credits_posted + ? WHERE id = ?`,
    ),
    // Parameters: month, then the day (with `day`), then the key id (with `key`), then the wallet.
    funds: prepare(fundsQuery({ key: false, day: false })),
    // The same and the key's spending, for a hold on a key with a cap: one statement either way.
    fundsWithKey: prepare(fundsQuery({ key: true, day: false })),
    // The same and the owner's spending today, for a hold under a daily cap.
    fundsWithDay: prepare(fundsQuery({ key: false, day: true })),
    fundsWithKeyAndDay: prepare(fundsQuery({ key: true, day: true })),
    // Rows as arrays: better-sqlite3 builds an array much faster than an object with named keys.
    charge: prepare(
      `SELECT id, buyer_id, seller_account_id, agent_id, key_id, held, captured, fee, status, expires_at,
              created_at, resolved_at FROM charges WHERE id = ?`,
    ).raw(),
    insertCharge: prepare(
      `INSERT INTO charges (id, buyer_id, seller_account_id, agent_id, key_id, held, status, expires_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
    ),
    completeCharge: prepare(
      "UPDATE charges SET captured = ?, fee = ?, status = 'completed', resolved_at = ? WHERE id = ?",
    ),
    voidCharge: prepare("UPDATE charges SET status = 'voided', resolved_at = ? WHERE id = ?"),
    addSpend: prepare(
      `INSERT INTO monthly_spend (account_id, month, captured) VALUES (?, ?, ?)
       ON CONFLICT (account_id, month) DO UPDATE SET captured = captured + excluded.captured`,
    ),
    addDailySpend: prepare(
      `INSERT INTO daily_spend (account_id, day, captured) VALUES (?, ?, ?)
       ON CONFLICT (account_id, day) DO UPDATE SET captured = captured + excluded.captured`,
    ),
    addKeySpend: prepare(
      `INSERT INTO key_spend (key_id, pending, captured) VALUES (?, ?, ?)
       ON CONFLICT (key_id) DO UPDATE SET pending = pending + excluded.pending, captured = captured + excluded.captured`,
    ),
    keySpend: prepare(
      `SELECT key_id, carried + pending + captured FROM key_spend
       WHERE key_id IN (SELECT value FROM json_each(?))`,
    ).raw(),
    expired: prepare(
      "SELECT id FROM charges WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
    ).pluck(),
    monthlyCap: prepare("SELECT monthly_cap FROM spend_limits WHERE account_id = ?").pluck(),
    spent: prepare("SELECT captured FROM monthly_spend WHERE account_id = ? AND month = ?").pluck(),
    topup: prepare("SELECT * FROM topups WHERE id = ?"),
  };

  const getTransfer = (id: string) => sql.transfer.get(id) as TransferRow | undefined;
  const getChargeRow = (id: string): ChargeRow | undefined => {
    const row = sql.charge.get(id) as ChargeColumns | undefined;
    return (
      row && {
        id: row[0],
        buyer_id: row[1],
        seller_account_id: row[2],
        agent_id: row[3],
        key_id: row[4],
        held: row[5],
        captured: row[6],
        fee: row[7],
        status: row[8],
        expires_at: row[9],
        created_at: row[10],
        resolved_at: row[11],
      }
    );
  };
  const getTopupRow = (id: string) => sql.topup.get(id) as TopupRow | undefined;
  const insertTransfer = (t: TransferRow, at: string): void => {
    sql.insertTransfer.run(...transferValues(t, at));
  };
  /**
   * Inserts the caller's transfer as a write's first change. Returns the transfer already holding
   * that id instead (nothing has been written then); a missing account is `NOT_FOUND`.
   */
  const claim = (t: TransferRow, at: string, accountId: string): TransferRow | undefined => {
    try {
      insertTransfer(t, at);
      return undefined;
    } catch (error) {
      const existing = isConstraint(error, "UNIQUE") ? getTransfer(t.id) : undefined;
      if (existing) return existing;
      if (isConstraint(error, "FOREIGNKEY")) throw noAccount(accountId, error);
      throw error;
    }
  };
  /** The charge as it stands, for a replayed request; CONFLICT when the id was used otherwise. */
  const replayed = (existing: TransferRow, same: boolean, holdId: string): ChargeRecord =>
    replayedCharge(existing, same ? getChargeRow(holdId) : undefined);

  /** A posted transfer between two accounts, once per id (credits, top-ups, payouts). */
  const postOnce = (transfer: TransferRow, at: string, accountId: string): void => {
    const existing = getTransfer(transfer.id);
    if (existing) {
      if (!sameTransfer(existing, transfer)) throw idReused(transfer.id);
      return;
    }
    if (claim(transfer, at, accountId)) throw idReused(transfer.id);
    move(transfer.debit_account_id, "debits_posted", transfer.amount);
    move(transfer.credit_account_id, "credits_posted", transfer.amount);
  };

  const holdTx = (request: HoldRequest): ChargeRecord => {
    const { id, buyerId, sellerAccountId, agentId, amount, expiresAt, at } = request;
    // Only a key with a cap of its own reads its spending; every key's hold adds to it. Likewise only
    // a hold under a daily cap reads the day's spending; every capture adds to it.
    const { keyId, keyCap, dailyCap } = checkHold(request);
    const wallet = walletOf(buyerId);
    const earnings = earningsOf(sellerAccountId);
    const isSame = (existing: TransferRow) =>
      sameHold(existing, existing.kind === "hold" ? getChargeRow(id) : undefined, request);
    const month = monthOf(at);
    const day = dayOf(at);
    const funds = (
      keyCap === null
        ? dailyCap === null
          ? sql.funds.get(month, wallet)
          : sql.fundsWithDay.get(month, day, wallet)
        : dailyCap === null
          ? sql.fundsWithKey.get(month, keyId, wallet)
          : sql.fundsWithKeyAndDay.get(month, day, keyId, wallet)
    ) as FundsRow | undefined;
    if (funds) {
      const delta = accountDelta(wallet);
      funds.available += delta.credits_posted - delta.debits_posted - delta.debits_pending;
      funds.held += delta.debits_pending;
      funds.spent = (funds.spent ?? 0) + spentDelta(buyerId, month);
      if (keyCap !== null) {
        const sums = keySums.get(keyId as string);
        funds.key_spent = (funds.key_spent ?? 0) + (sums?.pending ?? 0) + (sums?.captured ?? 0);
      }
      if (dailyCap !== null) {
        funds.spent_today = (funds.spent_today ?? 0) + (dailySums.get(spendKey(buyerId, day))?.captured ?? 0);
      }
    }
    const refusal = refuseHold(
      funds,
      amount,
      keyCap === null ? undefined : { id: keyId as string, cap: keyCap },
      dailyCap,
    );
    if (refusal) {
      // A replay of a hold that was placed is answered even when it could not be placed now.
      const existing = getTransfer(id);
      if (existing) return { ...replayed(existing, isSame(existing), id), replayed: true };
      throw refusal;
    }
    const existing = claim(
      {
        id,
        debit_account_id: wallet,
        credit_account_id: earnings,
        amount,
        kind: "hold",
        pending_id: null,
        reference: agentId,
      },
      at,
      sellerAccountId,
    );
    if (existing) return { ...replayed(existing, isSame(existing), id), replayed: true };
    move(wallet, "debits_pending", amount);
    move(earnings, "credits_pending", amount);
    if (keyId !== null) keySums.add(keyId, "pending", amount);
    sql.insertCharge.run(id, buyerId, sellerAccountId, agentId, keyId, amount, expiresAt, at);
    return placedCharge(request);
  };

  /**
   * The first half of a capture or a void: refuse what cannot resolve the hold (replaying the
   * first answer when `id` was used already), then claim the resolving transfer for `requested`
   * micros (a void takes the whole hold). Returns the replayed charge, or the hold and its accounts
   * for the caller to move the money.
   */
  const beginResolution = (
    kind: "capture" | "void",
    { id, holdId, at, requested }: { id: string; holdId: string; at: string; requested?: number },
    refuse: (hold: ChargeRow) => ReturnType<typeof refuseCapture> = () => undefined,
  ): { replay: ChargeRecord } | { hold: ChargeRow; wallet: string; earnings: string } => {
    const charge = getChargeRow(holdId);
    const refusal = refuseResolution(charge, holdId, id) ?? refuse(charge as ChargeRow);
    const same = (existing: TransferRow) => sameResolution(existing, kind, holdId, requested);
    if (refusal) {
      const existing = getTransfer(id);
      if (existing) return { replay: replayed(existing, same(existing), holdId) };
      throw refusal;
    }
    const hold = charge as ChargeRow;
    const wallet = walletOf(hold.buyer_id);
    const earnings = earningsOf(hold.seller_account_id);
    const existing = claim(
      {
        id,
        debit_account_id: wallet,
        credit_account_id: earnings,
        amount: requested ?? hold.held,
        kind,
        pending_id: holdId,
        reference: hold.agent_id,
      },
      at,
      hold.seller_account_id,
    );
    if (existing) return { replay: replayed(existing, same(existing), holdId) };
    return { hold, wallet, earnings };
  };

  const captureTx = ({ id, holdId, amount, at }: CaptureRequest): ChargeRecord => {
    const begun = beginResolution("capture", { id, holdId, at, requested: amount }, (hold) =>
      refuseCapture(hold, amount, at),
    );
    if ("replay" in begun) return begun.replay;
    const { hold, wallet, earnings } = begun;
    const fee = Number(splitCharge(amount).fee);
    move(wallet, "debits_pending", -hold.held);
    move(wallet, "debits_posted", amount);
    move(earnings, "credits_pending", -hold.held);
    move(earnings, "credits_posted", amount);
    if (fee > 0) {
      insertTransfer(
        {
          id: feeIdOf(holdId),
          debit_account_id: earnings,
          credit_account_id: REVENUE,
          amount: fee,
          kind: "fee",
          pending_id: holdId,
          reference: hold.agent_id,
        },
        at,
      );
      move(earnings, "debits_posted", fee);
      move(REVENUE, "credits_posted", fee);
    }
    spendSums.add(spendKey(hold.buyer_id, monthOf(at)), "captured", amount);
    dailySums.add(spendKey(hold.buyer_id, dayOf(at)), "captured", amount);
    if (hold.key_id !== null) {
      keySums.add(hold.key_id, "pending", -hold.held);
      keySums.add(hold.key_id, "captured", amount);
    }
    sql.completeCharge.run(amount, fee, at, holdId);
    return toCharge({ ...hold, captured: amount, fee, status: "completed", resolved_at: at });
  };

  const voidTx = (id: string, holdId: string, at: string): ChargeRecord => {
    const begun = beginResolution("void", { id, holdId, at });
    if ("replay" in begun) return begun.replay;
    const { hold, wallet, earnings } = begun;
    move(wallet, "debits_pending", -hold.held);
    move(earnings, "credits_pending", -hold.held);
    if (hold.key_id !== null) keySums.add(hold.key_id, "pending", -hold.held);
    sql.voidCharge.run(at, holdId);
    return toCharge({ ...hold, status: "voided", resolved_at: at });
  };

  const completeTopupTx = (id: string, at: string): TopupCompletion | undefined => {
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

    // The hot path checks its input inside the write, so that a bad request rejects (like any
    // refusal, having changed nothing) without an async wrapper around every call.
    // A hold and a void need not reach the disk before they are answered: a crash that loses one
    // loses a reservation, never a charge (a capture is durable, and its commit makes every write
    // before it durable too). The buyer's money is then simply available again.
    hold(request) {
      return write(() => holdTx(request), { durable: false });
    },

    capture(request) {
      return write(() => {
        assertCallerId(request.id);
        assertAmount(request.amount, 1);
        return captureTx(request);
      });
    },

    voidHold({ id, holdId, at }) {
      return write(
        () => {
          assertCallerId(id);
          return voidTx(id, holdId, at);
        },
        { durable: false },
      );
    },

    async expireHolds(now, limit = 1000) {
      return write(() => {
        const ids = sql.expired.all(now, limit) as string[];
        for (const holdId of ids) voidTx(expiryIdOf(holdId), holdId, now);
        return ids.length;
      });
    },

    async getCharge(id) {
      const row = getChargeRow(id);
      return row && toCharge(row);
    },

    async listCharges(accountId, { role, limit, cursor }) {
      const position = cursor === undefined ? undefined : decodeChargeCursor(cursor);
      const rows = prepare(chargePageQuery(role, position !== undefined, () => "?")).all(
        ...chargePageParams(accountId, role, position, limit),
      ) as ChargeRow[];
      return toChargePage(rows, limit);
    },

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
      return write(() => completeTopupTx(id, at));
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
            const delta = accountDelta(row.id);
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

    async audit() {
      // One read transaction: every figure comes from the same snapshot. Rows are read as they
      // come (the charges' scan may be long); the audit reads through each result before the next.
      return db.transaction(() => {
        const steps = ledgerAudit("SELECT * FROM ledger_accounts");
        let step = steps.next();
        while (!step.done) step = steps.next(prepare(step.value).iterate());
        return step.value;
      })();
    },

    async listSigningKeys() {
      return (
        prepare(
          "SELECT kid, private_jwk, public_jwk, created_at FROM signing_keys ORDER BY created_at DESC",
        ).all() as SigningKeyRow[]
      ).map(toSigningKey);
    },

    async insertSigningKey(key) {
      await write(() => {
        prepare(
          "INSERT OR IGNORE INTO signing_keys (kid, private_jwk, public_jwk, created_at) VALUES (?, ?, ?, ?)",
        ).run(key.kid, key.privateJwk, key.publicJwk, key.createdAt);
      });
    },
  };
}

/**
 * Sums kept in memory for one batch, per key and counter. A write's additions join the batch's
 * when it settles successfully, and are dropped when it fails.
 */
function createBatchSums<C extends string>() {
  const batch = new Map<string, Partial<Record<C, number>>>();
  const running: Array<[key: string, counter: C, amount: number]> = [];
  return {
    batch: batch as ReadonlyMap<string, Partial<Record<C, number>>>,
    add(key: string, counter: C, amount: number): void {
      running.push([key, counter, amount]);
    },
    /** The sums for `key` so far, the running write's included. */
    get(key: string): Partial<Record<C, number>> | undefined {
      let sums = batch.get(key);
      for (const [k, counter, amount] of running) {
        if (k !== key) continue;
        sums = { ...sums, [counter]: (sums?.[counter] ?? 0) + amount } as Partial<Record<C, number>>;
      }
      return sums;
    },
    settle(ok: boolean): void {
      if (ok) {
        for (const [key, counter, amount] of running) {
          let sums = batch.get(key);
          if (!sums) {
            sums = {};
            batch.set(key, sums);
          }
          sums[counter] = (sums[counter] ?? 0) + amount;
        }
      }
      running.length = 0;
    },
    clear(): void {
      batch.clear();
      running.length = 0;
    },
  };
}

function isConstraint(error: unknown, kind: "UNIQUE" | "FOREIGNKEY"): boolean {
  return (error as { code?: unknown } | null)?.code === `SQLITE_CONSTRAINT_${kind}`;
}

/**
 * The statement a hold reads its figures with: the wallet, the owner's monthly cap and spending,
 * and with `key` a key's spending, with `day` the owner's captured charges on a day.
 */
function fundsQuery(join: { key: boolean; day: boolean }): string {
  return `SELECT a.credits_posted - a.debits_posted - a.debits_pending AS available, a.debits_pending AS held,
            l.monthly_cap AS cap, s.captured AS spent${join.key ? ", k.carried + k.pending + k.captured AS key_spent" : ""}${join.day ? ", d.captured AS spent_today" : ""}
     FROM ledger_accounts a
     LEFT JOIN spend_limits l ON l.account_id = a.owner_id
     LEFT JOIN monthly_spend s ON s.account_id = a.owner_id AND s.month = ?${join.day ? "\n     LEFT JOIN daily_spend d ON d.account_id = a.owner_id AND d.day = ?" : ""}${join.key ? "\n     LEFT JOIN key_spend k ON k.key_id = ?" : ""}
     WHERE a.id = ?`;
}
