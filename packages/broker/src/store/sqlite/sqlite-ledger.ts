import { formatUsd, MercatoError, splitCharge } from "@mercato/protocol";
import type Database from "better-sqlite3";
import type {
  AuditRecord,
  CaptureRequest,
  ChargeRecord,
  HoldRequest,
  LedgerAccountKind,
  LedgerStore,
  SettlementRecord,
  SigningKeyRecord,
  TopupRecord,
  TransferKind,
} from "../types.js";
import { type BatchHooks, createCommitBatcher } from "./commit-batcher.js";

type Prepare = (sql: string) => Database.Statement;

interface AccountRow {
  id: string;
  kind: LedgerAccountKind;
  owner_id: string | null;
  debits_pending: number;
  debits_posted: number;
  credits_pending: number;
  credits_posted: number;
}

interface TransferRow {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: number;
  kind: TransferKind;
  pending_id: string | null;
  reference: string | null;
}

interface ChargeRow {
  id: string;
  buyer_id: string;
  seller_account_id: string;
  agent_id: string;
  key_id: string | null;
  held: number;
  captured: number;
  fee: number;
  status: ChargeRecord["status"];
  expires_at: string;
  created_at: string;
  resolved_at: string | null;
}

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

/**
 * A wallet's spendable figures, its owner's monthly cap and, for a hold on a key with a cap of its
 * own, what that key has spent, and for a hold under a daily cap, what the owner's captured charges
 * add up to today: read in one statement before a hold.
 */
interface FundsRow {
  available: number;
  held: number;
  cap: number | null;
  spent: number | null;
  key_spent?: number | null;
  spent_today?: number | null;
}

/** A key's row in `key_spend` (see key-spend-schema.ts). */
interface KeySpendRow {
  key_id: string;
  pending: number;
  captured: number;
  carried: number;
  carried_from: string | null;
}

const ZERO_DELTA: Readonly<Delta> = {
  debits_pending: 0,
  debits_posted: 0,
  credits_pending: 0,
  credits_posted: 0,
};
const REVENUE = "platform_revenue";
const EXTERNAL = "external";
/** The ledger's own transfers (fees, expiries, top-ups, payouts) have ids with this prefix. */
const SYSTEM_ID = "ledger:";
// One wallet and one earnings account per marketplace account, opened with it (see ledger-schema.ts).
const walletOf = (accountId: string) => `wallet:${accountId}`;
const earningsOf = (accountId: string) => `earnings:${accountId}`;

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
export function createSqliteLedger(db: Database.Database, prepare: Prepare): LedgerStore {
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
    insertTransfer: prepare(
      `INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, reference, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
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
    sql.insertTransfer.run(
      t.id,
      t.debit_account_id,
      t.credit_account_id,
      t.amount,
      t.kind,
      t.pending_id,
      t.reference,
      at,
    );
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
  const replayed = (existing: TransferRow, same: boolean, holdId: string): ChargeRecord => {
    const charge = same ? getChargeRow(holdId) : undefined;
    if (!charge) throw idReused(existing.id);
    return toCharge(charge);
  };

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
    const keyId = request.keyId ?? null;
    const wallet = walletOf(buyerId);
    const earnings = earningsOf(sellerAccountId);
    const transfer: TransferRow = {
      id,
      debit_account_id: wallet,
      credit_account_id: earnings,
      amount,
      kind: "hold",
      pending_id: null,
      reference: agentId,
    };
    const sameHold = (existing: TransferRow): boolean => {
      const charge = existing.kind === "hold" ? getChargeRow(id) : undefined;
      return (
        charge !== undefined &&
        charge.buyer_id === buyerId &&
        charge.seller_account_id === sellerAccountId &&
        charge.agent_id === agentId &&
        charge.key_id === keyId &&
        charge.held === amount
      );
    };
    // Only a key with a cap of its own reads its spending; every key's hold adds to it. Likewise only
    // a hold under a daily cap reads the day's spending; every capture adds to it.
    const keyCap = keyId === null ? null : (request.keySpendCap ?? null);
    const dailyCap = request.dailyCap ?? null;
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
      if (existing) return replayed(existing, sameHold(existing), id);
      throw refusal;
    }
    const existing = claim(transfer, at, sellerAccountId);
    if (existing) return replayed(existing, sameHold(existing), id);
    move(wallet, "debits_pending", amount);
    move(earnings, "credits_pending", amount);
    if (keyId !== null) keySums.add(keyId, "pending", amount);
    sql.insertCharge.run(id, buyerId, sellerAccountId, agentId, keyId, amount, expiresAt, at);
    return {
      id,
      buyerId,
      sellerAccountId,
      agentId,
      keyId,
      held: amount,
      captured: 0,
      fee: 0,
      status: "pending",
      expiresAt,
      createdAt: at,
      resolvedAt: null,
    };
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
    refuse: (hold: ChargeRow) => MercatoError | undefined = () => undefined,
  ): { replay: ChargeRecord } | { hold: ChargeRow; wallet: string; earnings: string } => {
    const charge = getChargeRow(holdId);
    const refusal = refuseResolution(charge, holdId, id) ?? refuse(charge as ChargeRow);
    const same = (existing: TransferRow) =>
      existing.kind === kind &&
      existing.pending_id === holdId &&
      (requested === undefined || existing.amount === requested);
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
          id: `${SYSTEM_ID}fee:${holdId}`,
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

  const completeTopupTx = (id: string, at: string): TopupRecord | undefined => {
    const topup = getTopupRow(id);
    if (!topup) return undefined;
    if (topup.status === "succeeded") return toTopup(topup);
    if (topup.status === "failed") {
      throw new MercatoError("CONFLICT", `Top-up ${id} failed; it cannot be credited`, {
        details: { topup_id: id, status: topup.status },
      });
    }
    postOnce(
      {
        id: `${SYSTEM_ID}topup:${id}`,
        debit_account_id: EXTERNAL,
        credit_account_id: walletOf(topup.account_id),
        amount: topup.amount,
        kind: "topup",
        pending_id: null,
        reference: id,
      },
      at,
      topup.account_id,
    );
    prepare("UPDATE topups SET status = 'succeeded', completed_at = ?, checkout_url = NULL WHERE id = ?").run(
      at,
      id,
    );
    return toTopup({ ...topup, status: "succeeded", completed_at: at, checkout_url: null });
  };

  return {
    async credit({ id, accountId, amount, reference, at }) {
      assertCallerId(id);
      assertAmount(amount, 1);
      await write(() =>
        postOnce(
          {
            id,
            debit_account_id: EXTERNAL,
            credit_account_id: walletOf(accountId),
            amount,
            kind: "topup",
            pending_id: null,
            reference,
          },
          at,
          accountId,
        ),
      );
    },

    // The hot path checks its input inside the write, so that a bad request rejects (like any
    // refusal, having changed nothing) without an async wrapper around every call.
    // A hold and a void need not reach the disk before they are answered: a crash that loses one
    // loses a reservation, never a charge (a capture is durable, and its commit makes every write
    // before it durable too). The buyer's money is then simply available again.
    hold(request) {
      return write(
        () => {
          assertCallerId(request.id);
          assertAmount(request.amount, 1);
          if (request.keySpendCap != null) assertAmount(request.keySpendCap, 0);
          if (request.dailyCap != null) assertAmount(request.dailyCap, 0);
          return holdTx(request);
        },
        { durable: false },
      );
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
        for (const holdId of ids) voidTx(`${SYSTEM_ID}expiry:${holdId}`, holdId, now);
        return ids.length;
      });
    },

    async getCharge(id) {
      const row = getChargeRow(id);
      return row && toCharge(row);
    },

    async listCharges(accountId, { role, limit, cursor }) {
      const position = cursor === undefined ? undefined : decodeChargeCursor(cursor);
      // Each side walks its index from the cursor down and stops after a page; "both" merges the
      // two pages (UNION drops a charge an account paid itself) instead of sorting all its charges.
      const side = (column: string) =>
        `SELECT * FROM charges WHERE ${column} = ?${position ? " AND (created_at, id) < (?, ?)" : ""}
         ORDER BY created_at DESC, id DESC LIMIT ?`;
      const sideParams = [accountId, ...(position ? [position.createdAt, position.id] : []), limit + 1];
      const rows = (
        role === undefined
          ? prepare(
              `SELECT * FROM (${side("buyer_id")}) UNION SELECT * FROM (${side("seller_account_id")})
               ORDER BY created_at DESC, id DESC LIMIT ?`,
            ).all(...sideParams, ...sideParams, limit + 1)
          : prepare(side(role === "buyer" ? "buyer_id" : "seller_account_id")).all(...sideParams)
      ) as ChargeRow[];
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        charges: page.map(toCharge),
        nextCursor: rows.length > limit && last ? encodeChargeCursor(last.created_at, last.id) : null,
      };
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
        prepare(
          `INSERT INTO topups (id, account_id, amount, provider, provider_ref, checkout_url, status, created_at, completed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          topup.id,
          topup.accountId,
          topup.amount,
          topup.provider,
          topup.providerRef,
          topup.checkoutUrl,
          topup.status,
          topup.createdAt,
          topup.completedAt,
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
        const due = unsettled
          .map((row) => {
            const delta = accountDelta(row.id);
            const earned = row.amount + delta.credits_posted - delta.debits_posted;
            return { ...row, amount: earned - (earned % unitMicros) };
          })
          .filter((row) => row.amount > 0);
        const created: SettlementRecord[] = [];
        for (const row of due) {
          const settlement: SettlementRecord = {
            id: newId(),
            accountId: row.owner_id,
            settlementDate: date,
            amount: row.amount,
            provider,
            providerRef: null,
            status: "pending",
            failure: null,
            createdAt: at,
            paidAt: null,
          };
          prepare(
            `INSERT INTO settlements (id, account_id, settlement_date, amount, provider, status, created_at)
             VALUES (?, ?, ?, ?, ?, 'pending', ?)`,
          ).run(settlement.id, settlement.accountId, date, settlement.amount, provider, at);
          postOnce(
            {
              id: `${SYSTEM_ID}payout:${settlement.id}`,
              debit_account_id: row.id,
              credit_account_id: EXTERNAL,
              amount: row.amount,
              kind: "payout",
              pending_id: null,
              reference: settlement.id,
            },
            at,
            row.owner_id,
          );
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
      // One read transaction: every figure comes from the same snapshot.
      return db.transaction(() => auditLedger(prepare))();
    },

    async listSigningKeys() {
      return (
        prepare(
          "SELECT kid, private_jwk, public_jwk, created_at FROM signing_keys ORDER BY created_at DESC",
        ).all() as Array<{
          kid: string;
          private_jwk: string;
          public_jwk: string;
          created_at: string;
        }>
      ).map(
        (row): SigningKeyRecord => ({
          kid: row.kid,
          privateJwk: row.private_jwk,
          publicJwk: row.public_jwk,
          createdAt: row.created_at,
        }),
      );
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

/**
 * Why a hold cannot be placed: the balance first (pending holds count), then the account's monthly
 * cap, then its daily cap (today's captured charges and every hold in flight count), then the key's
 * own cap (its captured charges and holds in flight count).
 */
function refuseHold(
  funds: FundsRow | undefined,
  amount: number,
  key: { id: string; cap: number } | undefined,
  dailyCap: number | null,
): MercatoError | undefined {
  const available = funds?.available ?? 0;
  if (available < amount) {
    return new MercatoError("INSUFFICIENT_FUNDS", "The wallet's available balance does not cover this call", {
      details: { available_usd: formatUsd(Math.max(available, 0)), required_usd: formatUsd(amount) },
    });
  }
  const { cap, held } = funds as FundsRow;
  const spent = funds?.spent ?? 0;
  if (cap !== null && spent + held + amount > cap) {
    return new MercatoError("SPEND_CAP_EXCEEDED", "This call would pass the account's monthly spend cap", {
      details: {
        monthly_cap_usd: formatUsd(cap),
        spent_usd: formatUsd(spent),
        held_usd: formatUsd(held),
        required_usd: formatUsd(amount),
      },
    });
  }
  const spentToday = (funds?.spent_today ?? 0) + held;
  if (dailyCap !== null && spentToday + amount > dailyCap) {
    return new MercatoError(
      "SPEND_CAP_EXCEEDED",
      "This call would pass the daily spending limit of new accounts; it lifts as the account ages",
      {
        details: {
          daily_limit_usd: formatUsd(dailyCap),
          spent_today_usd: formatUsd(spentToday),
          held_usd: formatUsd(held),
          required_usd: formatUsd(amount),
        },
      },
    );
  }
  const keySpent = funds?.key_spent ?? 0;
  if (key && keySpent + amount > key.cap) {
    return new MercatoError("SPEND_CAP_EXCEEDED", "This call would pass the access key's spend cap", {
      details: {
        key_id: key.id,
        key_spend_cap_usd: formatUsd(key.cap),
        key_spent_usd: formatUsd(keySpent),
        required_usd: formatUsd(amount),
      },
    });
  }
  return undefined;
}

/** Why a hold cannot be resolved now: it does not exist, or it already was. */
function refuseResolution(charge: ChargeRow | undefined, holdId: string, transferId: string) {
  if (!charge) return new MercatoError("NOT_FOUND", `No hold ${holdId}`, { details: { hold_id: holdId } });
  if (charge.status !== "pending") {
    return new MercatoError("CONFLICT", `Hold ${holdId} is already ${charge.status}`, {
      details: { hold_id: holdId, status: charge.status, transfer_id: transferId },
    });
  }
  return undefined;
}

/** Why a pending hold cannot be captured: it expired (at or before `at`), or it is smaller. */
function refuseCapture(charge: ChargeRow, amount: number, at: string): MercatoError | undefined {
  if (charge.expires_at <= at) {
    return new MercatoError("CONFLICT", `Hold ${charge.id} expired at ${charge.expires_at}`, {
      details: { hold_id: charge.id, status: "expired" },
    });
  }
  if (amount > charge.held) {
    return new MercatoError(
      "VALIDATION_ERROR",
      `Cannot capture more than the ${formatUsd(charge.held)} USD held`,
      {
        details: { held_usd: formatUsd(charge.held), amount_usd: formatUsd(amount) },
      },
    );
  }
  return undefined;
}

/** Every invariant of DESIGN.md's ledger, checked from the transfers up, in a few scans. */
function auditLedger(prepare: Prepare): AuditRecord {
  const violations: AuditRecord["violations"] = [];
  const violation = (rule: string, detail: string) => violations.push({ rule, detail });
  const accounts = prepare("SELECT * FROM ledger_accounts").all() as AccountRow[];
  const transfers = prepare("SELECT COUNT(*) FROM transfers").pluck().get() as number;

  // Each account's counters equal the sums of its transfers: posted ones, and holds not yet resolved.
  const recomputed = new Map<string, { dp: number; dq: number; cp: number; cq: number }>();
  const sumsOf = (id: string) => {
    let entry = recomputed.get(id);
    if (!entry) {
      entry = { dp: 0, dq: 0, cp: 0, cq: 0 };
      recomputed.set(id, entry);
    }
    return entry;
  };
  for (const row of prepare(
    `SELECT debit_account_id AS d, credit_account_id AS c, SUM(amount) AS total FROM transfers
     WHERE kind NOT IN ('hold', 'void') GROUP BY d, c`,
  ).all() as Array<{ d: string; c: string; total: number }>) {
    sumsOf(row.d).dp += row.total;
    sumsOf(row.c).cp += row.total;
  }
  for (const row of prepare(
    `SELECT h.debit_account_id AS d, h.credit_account_id AS c, SUM(h.amount) AS total FROM transfers h
     WHERE h.kind = 'hold' AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = h.id AND r.kind IN ('capture', 'void'))
     GROUP BY d, c`,
  ).all() as Array<{ d: string; c: string; total: number }>) {
    sumsOf(row.d).dq += row.total;
    sumsOf(row.c).cq += row.total;
  }
  const known = new Set(accounts.map((account) => account.id));
  for (const id of recomputed.keys()) {
    if (!known.has(id))
      violation("transfer-accounts-exist", `transfers move money through unknown account ${id}`);
  }
  let net = 0;
  let pendingDebits = 0;
  let pendingCredits = 0;
  const totals = { toppedUp: 0, paidOut: 0, wallets: 0, held: 0, earnings: 0, revenue: 0 };
  for (const account of accounts) {
    const expected = recomputed.get(account.id) ?? { dp: 0, dq: 0, cp: 0, cq: 0 };
    if (
      expected.dp !== account.debits_posted ||
      expected.dq !== account.debits_pending ||
      expected.cp !== account.credits_posted ||
      expected.cq !== account.credits_pending
    ) {
      violation(
        "balance-equals-transfers",
        `${account.id}: stored [debits pending, posted, credits pending, posted] ${JSON.stringify([account.debits_pending, account.debits_posted, account.credits_pending, account.credits_posted])}, transfers say ${JSON.stringify([expected.dq, expected.dp, expected.cq, expected.cp])}`,
      );
    }
    const balance = account.credits_posted - account.debits_posted;
    net += balance;
    pendingDebits += account.debits_pending;
    pendingCredits += account.credits_pending;
    if (account.kind === "wallet") {
      totals.wallets += balance;
      totals.held += account.debits_pending;
      if (account.debits_pending + account.debits_posted > account.credits_posted) {
        violation(
          "wallet-not-negative",
          `${account.id} is overdrawn by ${account.debits_pending + account.debits_posted - account.credits_posted} micros`,
        );
      }
    } else if (account.kind === "earnings") {
      totals.earnings += balance;
      if (balance < 0) violation("earnings-not-negative", `${account.id} is at ${balance} micros`);
    } else if (account.kind === "platform_revenue") {
      totals.revenue += balance;
      if (balance < 0) violation("revenue-not-negative", `${account.id} is at ${balance} micros`);
    }
  }
  if (net !== 0) violation("sum-of-balances-is-zero", `all balances add up to ${net} micros`);
  if (pendingDebits !== pendingCredits) {
    violation(
      "pending-debits-equal-credits",
      `${pendingDebits} pending debits, ${pendingCredits} pending credits`,
    );
  }

  const sumOf = (kind: TransferKind) =>
    prepare("SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE kind = ?").pluck().get(kind) as number;
  totals.toppedUp = sumOf("topup");
  totals.paidOut = sumOf("payout");
  const refunded = sumOf("refund");
  if (totals.toppedUp - totals.paidOut - refunded !== totals.wallets + totals.earnings + totals.revenue) {
    violation(
      "money-in-equals-money-held",
      `top-ups ${totals.toppedUp} − payouts ${totals.paidOut} − refunds ${refunded} ≠ wallets ${totals.wallets} + earnings ${totals.earnings} + revenue ${totals.revenue}`,
    );
  }

  for (const row of prepare(
    `SELECT pending_id, COUNT(*) AS n FROM transfers WHERE kind IN ('capture', 'void') GROUP BY pending_id HAVING n > 1`,
  ).all() as Array<{ pending_id: string; n: number }>) {
    violation("hold-resolved-once", `${row.pending_id} resolved ${row.n} times`);
  }

  // Charges agree with their transfers. Fees are summed per hold in one scan (joining them charge by
  // charge would search every fee transfer for each charge).
  const fees = new Map<string, { amount: number; count: number }>();
  for (const row of prepare(
    "SELECT pending_id, SUM(amount) AS amount, COUNT(*) AS count FROM transfers WHERE kind = 'fee' GROUP BY pending_id",
  ).all() as Array<{ pending_id: string; amount: number; count: number }>) {
    fees.set(row.pending_id, { amount: row.amount, count: row.count });
  }
  /** Per key, from its charges: held now, captured, and everything it ever held. */
  const byKey = new Map<string, { pending: number; captured: number; held: number }>();
  for (const row of prepare(
    `SELECT c.*, h.kind AS hold_kind, h.amount AS hold_amount, h.debit_account_id AS hold_debit,
            h.credit_account_id AS hold_credit, r.kind AS resolution, r.amount AS resolved_amount,
            r.debit_account_id AS resolved_debit, r.credit_account_id AS resolved_credit
     FROM charges c
     LEFT JOIN transfers h ON h.id = c.id
     LEFT JOIN transfers r ON r.pending_id = c.id AND r.kind IN ('capture', 'void')`,
  ).iterate() as IterableIterator<
    ChargeRow & {
      hold_kind: string | null;
      hold_amount: number | null;
      hold_debit: string | null;
      hold_credit: string | null;
      resolution: string | null;
      resolved_amount: number | null;
      resolved_debit: string | null;
      resolved_credit: string | null;
    }
  >) {
    const fee = fees.get(row.id) ?? { amount: 0, count: 0 };
    fees.delete(row.id);
    if (row.key_id !== null) {
      let key = byKey.get(row.key_id);
      if (!key) {
        key = { pending: 0, captured: 0, held: 0 };
        byKey.set(row.key_id, key);
      }
      key.held += row.held;
      if (row.status === "pending") key.pending += row.held;
      else if (row.status === "completed") key.captured += row.captured;
    }
    const wallet = walletOf(row.buyer_id);
    const earnings = earningsOf(row.seller_account_id);
    const problem =
      row.hold_kind !== "hold" ||
      row.hold_amount !== row.held ||
      row.hold_debit !== wallet ||
      row.hold_credit !== earnings
        ? "hold transfer missing or different"
        : row.resolution !== null && (row.resolved_debit !== wallet || row.resolved_credit !== earnings)
          ? "resolved between other accounts"
          : row.status === "pending" &&
              (row.resolution !== null || row.captured !== 0 || row.fee !== 0 || row.resolved_at !== null)
            ? "pending, yet resolved, charged or dated"
            : row.status === "completed" &&
                (row.resolution !== "capture" ||
                  row.resolved_amount !== row.captured ||
                  row.captured < 1 ||
                  row.captured > row.held ||
                  row.resolved_at === null)
              ? "capture does not match"
              : row.status === "completed" &&
                  (row.fee !== Number(splitCharge(row.captured).fee) ||
                    fee.amount !== row.fee ||
                    fee.count > 1)
                ? "fee is not floor(10%) of the charge, paid once"
                : row.status === "voided" &&
                    (row.resolution !== "void" ||
                      row.resolved_amount !== row.held ||
                      row.captured !== 0 ||
                      row.fee !== 0 ||
                      fee.count !== 0 ||
                      row.resolved_at === null)
                  ? "void does not match"
                  : undefined;
    if (problem) violation("charge-matches-transfers", `${row.id}: ${problem}`);
  }
  for (const holdId of fees.keys())
    violation("charge-matches-transfers", `${holdId}: a fee without a charge`);
  for (const id of prepare(
    `SELECT h.id FROM transfers h WHERE h.kind = 'hold' AND NOT EXISTS (SELECT 1 FROM charges c WHERE c.id = h.id)`,
  )
    .pluck()
    .all() as string[]) {
    violation("charge-matches-transfers", `${id}: a hold without a charge`);
  }

  // Each key's spending follows its charges. What a replacement took over from a rotated key was
  // that key's spending at the time: at least what the old key had carried itself, at most that
  // plus everything the old key ever held.
  const keyRows = prepare(
    "SELECT key_id, pending, captured, carried, carried_from FROM key_spend",
  ).all() as KeySpendRow[];
  const keyRowOf = new Map(keyRows.map((row) => [row.key_id, row]));
  for (const [keyId, charged] of byKey) {
    if (!keyRowOf.has(keyId) && (charged.pending !== 0 || charged.captured !== 0)) {
      violation(
        "key-spend-matches-charges",
        `${keyId}: no spending stored, charges say ${JSON.stringify([charged.pending, charged.captured])}`,
      );
    }
  }
  for (const row of keyRows) {
    const charged = byKey.get(row.key_id) ?? { pending: 0, captured: 0, held: 0 };
    if (row.pending !== charged.pending || row.captured !== charged.captured) {
      violation(
        "key-spend-matches-charges",
        `${row.key_id}: stored [pending, captured] ${JSON.stringify([row.pending, row.captured])}, charges say ${JSON.stringify([charged.pending, charged.captured])}`,
      );
    }
    const from = row.carried_from === null ? undefined : keyRowOf.get(row.carried_from);
    const least = from?.carried ?? 0;
    const most = row.carried_from === null ? 0 : least + (byKey.get(row.carried_from)?.held ?? 0);
    if (row.carried < least || row.carried > most) {
      violation(
        "key-spend-matches-charges",
        `${row.key_id}: carries ${row.carried} from ${row.carried_from ?? "no key"}, which could have carried ${least} to ${most}`,
      );
    }
  }

  // Each buyer's spending per UTC day (the new-account limit's) follows its captured charges, each
  // counted on the day it was captured.
  const dailyCharged = new Map<string, number>();
  for (const row of prepare(
    `SELECT buyer_id, substr(resolved_at, 1, 10) AS day, SUM(captured) AS total FROM charges
     WHERE status = 'completed' GROUP BY buyer_id, day`,
  ).all() as Array<{ buyer_id: string; day: string; total: number }>) {
    dailyCharged.set(`${row.buyer_id} on ${row.day}`, row.total);
  }
  for (const row of prepare("SELECT account_id, day, captured FROM daily_spend").all() as Array<{
    account_id: string;
    day: string;
    captured: number;
  }>) {
    const subject = `${row.account_id} on ${row.day}`;
    const charged = dailyCharged.get(subject) ?? 0;
    dailyCharged.delete(subject);
    if (row.captured !== charged) {
      violation("daily-spend-matches-charges", `${subject}: stored ${row.captured}, charges say ${charged}`);
    }
  }
  for (const [subject, charged] of dailyCharged) {
    violation("daily-spend-matches-charges", `${subject}: nothing stored, charges say ${charged}`);
  }

  // Money from outside and back: a top-up is credited once it succeeded and only then, a settlement
  // is paid out when it is created, each by exactly its amount.
  for (const row of prepare(
    `SELECT t.id, t.status, t.amount, c.amount AS credited FROM topups t
     LEFT JOIN transfers c ON c.id = '${SYSTEM_ID}topup:' || t.id AND c.kind = 'topup'
     WHERE (t.status = 'succeeded') <> (c.amount IS NOT NULL) OR c.amount <> t.amount`,
  ).all() as Array<{ id: string; status: string; amount: number; credited: number | null }>) {
    violation(
      "topup-credited-once",
      `${row.id} is ${row.status} for ${row.amount}, credited ${row.credited ?? "nothing"}`,
    );
  }
  for (const row of prepare(
    `SELECT s.id, s.amount, p.amount AS paid FROM settlements s
     LEFT JOIN transfers p ON p.id = '${SYSTEM_ID}payout:' || s.id AND p.kind = 'payout'
     WHERE p.amount IS NULL OR p.amount <> s.amount`,
  ).all() as Array<{ id: string; amount: number; paid: number | null }>) {
    violation("settlement-paid-out", `${row.id} settles ${row.amount}, paid out ${row.paid ?? "nothing"}`);
  }

  return { ok: violations.length === 0, accounts: accounts.length, transfers, totals, violations };
}

interface TopupRow {
  id: string;
  account_id: string;
  amount: number;
  provider: string;
  provider_ref: string | null;
  checkout_url: string | null;
  status: TopupRecord["status"];
  created_at: string;
  completed_at: string | null;
}

interface SettlementRow {
  id: string;
  account_id: string;
  settlement_date: string;
  amount: number;
  provider: string;
  provider_ref: string | null;
  status: SettlementRecord["status"];
  failure: string | null;
  created_at: string;
  paid_at: string | null;
}

function toCharge(row: ChargeRow): ChargeRecord {
  return {
    id: row.id,
    buyerId: row.buyer_id,
    sellerAccountId: row.seller_account_id,
    agentId: row.agent_id,
    keyId: row.key_id,
    held: row.held,
    captured: row.captured,
    fee: row.fee,
    status: row.status,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    resolvedAt: row.resolved_at,
  };
}

function toTopup(row: TopupRow): TopupRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    amount: row.amount,
    provider: row.provider,
    providerRef: row.provider_ref,
    checkoutUrl: row.checkout_url,
    status: row.status,
    createdAt: row.created_at,
    completedAt: row.completed_at,
  };
}

function toSettlement(row: SettlementRow): SettlementRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    settlementDate: row.settlement_date,
    amount: row.amount,
    provider: row.provider,
    providerRef: row.provider_ref,
    status: row.status,
    failure: row.failure,
    createdAt: row.created_at,
    paidAt: row.paid_at,
  };
}

function sameTransfer(a: TransferRow, b: TransferRow): boolean {
  return (
    a.kind === b.kind &&
    a.debit_account_id === b.debit_account_id &&
    a.credit_account_id === b.credit_account_id &&
    a.amount === b.amount &&
    a.pending_id === b.pending_id &&
    a.reference === b.reference
  );
}

function idReused(id: string): MercatoError {
  return new MercatoError("CONFLICT", `Transfer id ${id} was already used with other fields`, {
    details: { transfer_id: id },
  });
}

/** A caller-chosen transfer id: not empty, and not one of the ledger's own. */
function assertCallerId(id: string): void {
  if (typeof id !== "string" || id.length === 0 || id.startsWith(SYSTEM_ID)) {
    throw new MercatoError(
      "VALIDATION_ERROR",
      `A transfer id must be non-empty and not start with "${SYSTEM_ID}"`,
      {
        details: { issues: [{ path: "id", message: "invalid transfer id" }] },
      },
    );
  }
}

function isConstraint(error: unknown, kind: "UNIQUE" | "FOREIGNKEY"): boolean {
  return (error as { code?: unknown } | null)?.code === `SQLITE_CONSTRAINT_${kind}`;
}

function noAccount(accountId: string, cause: unknown): MercatoError {
  return new MercatoError("NOT_FOUND", `No account ${accountId}`, {
    details: { account_id: accountId },
    cause,
  });
}

/** @throws MercatoError `INVALID_AMOUNT` unless `amount` is a safe integer of micros ≥ `min`. */
export function assertAmount(amount: number, min: number): void {
  if (!Number.isSafeInteger(amount) || amount < min) {
    throw new MercatoError(
      "INVALID_AMOUNT",
      `Amount must be an integer number of micros ≥ ${min}, got ${amount}`,
    );
  }
}

/** The UTC calendar month of a timestamp, `YYYY-MM`. */
export function monthOf(timestamp: string): string {
  return timestamp.slice(0, 7);
}

/** The UTC day of a timestamp, `YYYY-MM-DD`. */
export function dayOf(timestamp: string): string {
  return timestamp.slice(0, 10);
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

function encodeChargeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString("base64url");
}

function decodeChargeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(parsed) && typeof parsed[0] === "string" && typeof parsed[1] === "string") {
      return { createdAt: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new MercatoError("VALIDATION_ERROR", "cursor is not a next_cursor of this list", {
    details: { issues: [{ path: "cursor", message: "invalid cursor" }] },
  });
}
