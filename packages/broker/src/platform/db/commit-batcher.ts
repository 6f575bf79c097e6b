import type Database from "better-sqlite3";
import type { WalSync } from "./wal-sync.js";

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * For a ledger that keeps sums in memory during a batch and writes them just before the commit (the
 * SQLite ledger's counters). Called in this order: `start`, `settled` after each write, then
 * `beforeCommit`; a batch that runs again starts again with `start`.
 */
export interface BatchHooks {
  /** A batch's writes are about to run: forget anything kept from an earlier run. */
  start(): void;
  /** A write took effect (`true`: keep what it left in memory) or did not (`false`: drop it). */
  settled(ok: boolean): void;
  /** Write what the batch kept in memory; a throw fails the whole batch. */
  beforeCommit(): void;
}

const NO_HOOKS: BatchHooks = { start() {}, settled() {}, beforeCommit() {} };

interface Pending {
  run: () => unknown;
  durable: boolean;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/**
 * Group commit: every write submitted in the same turn of the event loop runs in one immediate
 * transaction, and every promise settles only after that transaction has committed, so no caller
 * hears of a write before it is durable (or, for a write marked not durable, committed). One fsync
 * then covers the whole batch. A write is a
 * synchronous function; what it returns or throws is what its promise settles with.
 *
 * Each write takes effect whole or not at all. A savepoint around every write would say so directly,
 * but costs more than the write itself (SQLite copies each page a savepoint touches), so writes run
 * bare, and SQLite's `total_changes()` tells whether a failing write changed anything: most fail on a
 * check before they write, and need no undo. When one fails after changing rows, the batch rolls
 * back and runs again, from the start, with a savepoint around each write. Nothing has been answered
 * by then, and writes are functions of the database's state, so the second run is the batch.
 *
 * With `walSync` (a file database in WAL mode), no commit waits for the disk on the event loop:
 * every batch commits at `synchronous = NORMAL`, and a batch with a durable write is answered once
 * `walSync` has synced the WAL on the thread pool (one fsync for every batch committed meanwhile),
 * so the loop serves other requests while the disk syncs. Readers of the connection may see a
 * committed write a moment before it is durable (as they always could a write not marked durable);
 * no caller hears of it before. A failed sync fails the batch's writes: they are committed but may
 * not be on disk, as after a failed fsync nothing can be said of them.
 */
export function createCommitBatcher(
  db: Database.Database,
  hooks: BatchHooks = NO_HOOKS,
  maxBatch = 4096,
  walSync?: WalSync,
) {
  const begin = db.prepare("BEGIN IMMEDIATE");
  const commit = db.prepare("COMMIT");
  const rollback = db.prepare("ROLLBACK");
  const savepoint = db.prepare("SAVEPOINT batched_write");
  const release = db.prepare("RELEASE batched_write");
  const rollbackTo = db.prepare("ROLLBACK TO batched_write");
  const totalChanges = db.prepare("SELECT total_changes()").pluck();
  const syncFull = db.prepare("PRAGMA synchronous = FULL");
  const syncNormal = db.prepare("PRAGMA synchronous = NORMAL");
  let queue: Pending[] = [];
  let scheduled = false;

  /** Runs and commits a batch; undefined when a write failed halfway and `careful` was off. */
  const runBatch = (batch: Pending[], careful: boolean): Outcome[] | undefined => {
    const outcomes: Outcome[] = new Array(batch.length);
    // A batch of writes none of which must survive a crash (holds, voids) commits without an fsync;
    // the next durable commit's fsync covers it, since the WAL is written in order.
    const relaxed = walSync !== undefined || !batch.some((op) => op.durable);
    if (relaxed) syncNormal.run();
    begin.run();
    try {
      hooks.start();
      for (let i = 0; i < batch.length; i++) {
        if (careful) savepoint.run();
        const before = careful ? 0 : (totalChanges.get() as number);
        let outcome: Outcome;
        try {
          outcome = { ok: true, value: (batch[i] as Pending).run() };
        } catch (error) {
          outcome = { ok: false, error };
        }
        if (!outcome.ok) {
          // Some failures (I/O error, full disk) make SQLite roll the whole transaction back: then
          // nothing of this batch stands, and the writes after this one must not run outside it.
          if (!db.inTransaction) throw outcome.error;
          if (careful) rollbackTo.run();
          else if (totalChanges.get() !== before) {
            rollback.run();
            return undefined;
          }
        }
        if (careful) release.run();
        hooks.settled(outcome.ok);
        outcomes[i] = outcome;
      }
      hooks.beforeCommit();
      commit.run();
    } catch (error) {
      if (db.inTransaction) rollback.run();
      throw error;
    } finally {
      if (relaxed) syncFull.run();
    }
    return outcomes;
  };

  const flush = (): void => {
    scheduled = false;
    let batch = queue;
    if (batch.length > maxBatch) {
      queue = batch.slice(maxBatch);
      batch = batch.slice(0, maxBatch);
      schedule();
    } else {
      queue = [];
    }
    let outcomes: Outcome[];
    try {
      outcomes = runBatch(batch, false) ?? (runBatch(batch, true) as Outcome[]);
    } catch (error) {
      for (const op of batch) op.reject(error);
      return;
    }
    const settle = () => {
      for (let i = 0; i < batch.length; i++) {
        const op = batch[i] as Pending;
        const outcome = outcomes[i] as Outcome;
        if (outcome.ok) op.resolve(outcome.value);
        else op.reject(outcome.error);
      }
    };
    if (walSync && batch.some((op) => op.durable)) {
      walSync.sync().then(settle, (error: unknown) => {
        for (const op of batch) op.reject(error);
      });
    } else {
      settle();
    }
  };

  const schedule = (): void => {
    scheduled = true;
    setImmediate(flush);
  };

  /**
   * Queues a write. `durable: false` marks one whose loss in a crash is harmless (a hold, which only
   * reserves money, or a void): a batch of only such writes commits without waiting for the disk.
   */
  return function write<T>(run: () => T, options: { durable?: boolean } = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({
        run,
        durable: options.durable ?? true,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      if (!scheduled) schedule();
    });
  };
}
