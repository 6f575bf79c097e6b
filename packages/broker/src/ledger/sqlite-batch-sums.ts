import type Database from "better-sqlite3";
import type { BatchHooks } from "../platform/db/commit-batcher.js";

/** Changes to an account's four counters. */
export interface Delta {
  debits_pending: number;
  debits_posted: number;
  credits_pending: number;
  credits_posted: number;
}

const ZERO_DELTA: Readonly<Delta> = {
  debits_pending: 0,
  debits_posted: 0,
  credits_pending: 0,
  credits_posted: 0,
};

/** The statements that write a batch's sums to their rows, just before its commit. */
export interface SumStatements {
  applyDelta: Database.Statement;
  addSpend: Database.Statement;
  addKeySpend: Database.Statement;
  addDailySpend: Database.Statement;
}

/** The key of a buyer's spending in a period (a month or a day). */
export const spendKey = (accountId: string, period: string) => JSON.stringify([accountId, period]);

/**
 * The SQLite ledger's counters kept in memory for one batch (see sqlite-ledger.ts): an account's
 * debits and credits, a buyer's spending in a month and in a day, a key's spending. `hooks` are the
 * batcher's: they clear the sums when a batch starts, keep or drop a write's when it settles, and
 * write them, one statement per row, before the commit.
 */
export function createLedgerSums(sql: SumStatements) {
  const accounts = createBatchSums<keyof Delta>();
  /** Keyed by `spendKey(accountId, month)`: captured charges per UTC month (`monthly_spend`). */
  const spend = createBatchSums<"captured">();
  /** Keyed by access key id: its holds in flight and its captured charges (`key_spend`). */
  const keys = createBatchSums<"pending" | "captured">();
  /** Keyed by `spendKey(accountId, day)`: captured charges per UTC day (`daily_spend`). */
  const daily = createBatchSums<"captured">();
  const all = [accounts, spend, keys, daily];
  const hooks: BatchHooks = {
    start() {
      for (const sums of all) sums.clear();
    },
    settled(ok) {
      for (const sums of all) sums.settle(ok);
    },
    beforeCommit() {
      for (const [account, sums] of accounts.batch) {
        const { changes } = sql.applyDelta.run(
          sums.debits_pending ?? 0,
          sums.debits_posted ?? 0,
          sums.credits_pending ?? 0,
          sums.credits_posted ?? 0,
          account,
        );
        if (changes !== 1) throw new Error(`Ledger account ${account} vanished during a batch`);
      }
      for (const [key, sums] of spend.batch) {
        const [accountId, month] = JSON.parse(key) as [string, string];
        sql.addSpend.run(accountId, month, sums.captured ?? 0);
      }
      for (const [keyId, sums] of keys.batch) {
        sql.addKeySpend.run(keyId, sums.pending ?? 0, sums.captured ?? 0);
      }
      for (const [key, sums] of daily.batch) {
        const [accountId, day] = JSON.parse(key) as [string, string];
        sql.addDailySpend.run(accountId, day, sums.captured ?? 0);
      }
      for (const sums of all) sums.clear();
    },
  };
  return {
    accounts,
    spend,
    keys,
    daily,
    hooks,
    /** Adds `amount` to an account's counter. */
    move(account: string, counter: keyof Delta, amount: number): void {
      accounts.add(account, counter, amount);
    },
    /** What the batch (the running write's included) adds to an account's counters. */
    accountDelta(account: string): Delta {
      return { ...ZERO_DELTA, ...accounts.get(account) };
    },
    /** What the batch adds to a buyer's captured charges in a month. */
    spentDelta(accountId: string, month: string): number {
      return spend.get(spendKey(accountId, month))?.captured ?? 0;
    },
  };
}

/** The SQLite ledger's sums of one batch. */
export type LedgerSums = ReturnType<typeof createLedgerSums>;

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
