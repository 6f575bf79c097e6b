import { closeSync, fsync, openSync } from "node:fs";
import type Database from "better-sqlite3";

/**
 * Makes what a SQLite connection in WAL mode has committed durable, off the event loop: an fsync of
 * the write-ahead log on libuv's thread pool. A commit at `synchronous = NORMAL` writes its frames
 * to the WAL without syncing it; once this resolves, every frame written before it was called is on
 * disk, which is what `synchronous = FULL` waits for inside the commit, on the thread that commits.
 *
 * Concurrent callers share syncs: a call made while one is running waits for the next, which
 * starts as soon as the running one ends and covers every commit made before it starts.
 */
export interface WalSync {
  /** Resolves once every WAL frame written before this call is on disk. */
  sync(): Promise<void>;
  /** Closes the WAL's file descriptor (the store closes the database after). */
  close(): void;
}

/**
 * The sync of `db`'s write-ahead log; undefined for an in-memory database, one not in WAL mode, or
 * one whose WAL file cannot be opened (its commits then stay as the connection's `synchronous` says).
 */
export function createWalSync(db: Database.Database): WalSync | undefined {
  if (db.memory || String(db.pragma("journal_mode", { simple: true })).toLowerCase() !== "wal") {
    return undefined;
  }
  // SQLite keeps the WAL file (the same inode, truncated or rewritten from its start after a
  // checkpoint) for as long as a connection has the database open; it exists once the connection
  // has read, which migrating it did.
  let fd: number;
  try {
    fd = openSync(`${db.name}-wal`, "r");
  } catch {
    return undefined;
  }
  let open = true;
  let running = false;
  let waiting: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];

  const run = (): void => {
    running = true;
    const group = waiting;
    waiting = [];
    fsync(fd, (error) => {
      for (const waiter of group) {
        if (error) waiter.reject(error);
        else waiter.resolve();
      }
      running = false;
      if (waiting.length > 0) run();
    });
  };

  return {
    sync() {
      return new Promise<void>((resolve, reject) => {
        if (!open) return reject(new Error("The database is closed"));
        waiting.push({ resolve, reject });
        if (!running) run();
      });
    },
    close() {
      if (!open) return;
      open = false;
      // A sync in flight keeps the descriptor until it ends.
      const closeWhenIdle = () => (running ? setImmediate(closeWhenIdle) : closeSync(fd));
      closeWhenIdle();
    },
  };
}
