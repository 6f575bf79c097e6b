import type Database from "better-sqlite3";
import { createCommitBatcher } from "../platform/db/commit-batcher.js";
import type { WalSync } from "../platform/db/wal-sync.js";
import type { ChargeRecord } from "./port.js";
import type { ChargeRow, TopupRow, TransferRow } from "./rows.js";
import { createLedgerSums, type LedgerSums } from "./sqlite-batch-sums.js";
import {
  idReused,
  noAccount,
  replayedCharge,
  sameTransfer,
  TRANSFER_COLUMNS,
  transferValues,
} from "./transfers.js";

export type Prepare = (sql: string) => Database.Statement;

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
 * What the SQLite ledger's steps share: the database, its statements, the batch's sums, the write
 * path (the group-commit batcher, see sqlite-ledger.ts), and the reads and first writes every step
 * makes.
 */
export function createSqliteLedgerContext(
  db: Database.Database,
  prepare: Prepare,
  walSync?: WalSync,
): SqliteLedgerContext {
  const sql = prepareStatements(prepare);
  const sums = createLedgerSums(sql);
  const write = createCommitBatcher(db, sums.hooks, undefined, walSync);

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
    sums.move(transfer.debit_account_id, "debits_posted", transfer.amount);
    sums.move(transfer.credit_account_id, "credits_posted", transfer.amount);
  };

  return {
    db,
    prepare,
    sql,
    sums,
    write,
    getTransfer,
    getChargeRow,
    getTopupRow,
    insertTransfer,
    claim,
    replayed,
    postOnce,
  };
}

/** What the SQLite ledger's steps share. */
export interface SqliteLedgerContext {
  db: Database.Database;
  prepare: Prepare;
  sql: LedgerStatements;
  sums: LedgerSums;
  write: ReturnType<typeof createCommitBatcher>;
  getTransfer(id: string): TransferRow | undefined;
  getChargeRow(id: string): ChargeRow | undefined;
  getTopupRow(id: string): TopupRow | undefined;
  insertTransfer(t: TransferRow, at: string): void;
  claim(t: TransferRow, at: string, accountId: string): TransferRow | undefined;
  replayed(existing: TransferRow, same: boolean, holdId: string): ChargeRecord;
  postOnce(transfer: TransferRow, at: string, accountId: string): void;
}

export function isConstraint(error: unknown, kind: "UNIQUE" | "FOREIGNKEY"): boolean {
  return (error as { code?: unknown } | null)?.code === `SQLITE_CONSTRAINT_${kind}`;
}

/** The statements of the hot path and of the batch's sums, prepared once. */
type LedgerStatements = Record<
  | "transfer"
  | "insertTransfer"
  | "account"
  | "applyDelta"
  | "funds"
  | "fundsWithKey"
  | "fundsWithDay"
  | "fundsWithKeyAndDay"
  | "charge"
  | "insertCharge"
  | "completeCharge"
  | "voidCharge"
  | "addSpend"
  | "addDailySpend"
  | "addKeySpend"
  | "keySpend"
  | "expired"
  | "monthlyCap"
  | "spent"
  | "topup",
  Database.Statement
>;

function prepareStatements(prepare: Prepare): LedgerStatements {
  return {
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
