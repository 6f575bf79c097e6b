import type Database from "better-sqlite3";

/**
 * Group commit: every write submitted in the same turn of the event loop runs in one immediate
 * transaction, each inside its own savepoint (a failing write rolls back alone), and every promise
 * settles only after the transaction has committed, so no caller hears of a write before it is
 * durable. One fsync then covers the whole batch.
 */
export function createCommitBatcher(db: Database.Database, maxBatch = 4096) {
  interface Pending {
    run: () => unknown;
    resolve: (value: unknown) => void;
    reject: (reason: unknown) => void;
  }
  const queue: Pending[] = [];
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    const batch = queue.splice(0, maxBatch);
    if (queue.length > 0) schedule();
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      db.transaction(() => {
        for (const op of batch) {
          try {
            outcomes.push({ ok: true, value: db.transaction(op.run)() });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      }).immediate();
    } catch (error) {
      for (const op of batch) op.reject(error);
      return;
    }
    batch.forEach((op, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) op.resolve(outcome.value);
      else op.reject(outcome?.error);
    });
  };

  const schedule = (): void => {
    scheduled = true;
    setImmediate(flush);
  };

  return function write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!scheduled) schedule();
    });
  };
}
