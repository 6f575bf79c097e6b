// The group-commit batcher's promise to its callers: nobody hears of a durable write before it is on
// disk. With a WAL sync, the disk sync runs off the event loop, and a write's answer waits for it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createCommitBatcher } from "../../../src/platform/db/commit-batcher.js";
import { createWalSync, type WalSync } from "../../../src/platform/db/wal-sync.js";

let dir: string;
let db: Database.Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mercato-batcher-"));
  db = new Database(join(dir, "batcher.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A WAL sync the test finishes by hand: `pending` holds each sync's completion. */
function manualSync() {
  const pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  const sync: WalSync = {
    sync: () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject })),
    close() {},
  };
  return { sync, pending };
}

const rows = () => (db.prepare("SELECT count(*) FROM t").pluck().get() as number) ?? 0;
const insert = (v: string) => () => db.prepare("INSERT INTO t (v) VALUES (?)").run(v).lastInsertRowid;
const settled = async (promise: Promise<unknown>) => {
  let done = false;
  void promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  // Let every pending callback and immediate run: the batcher flushes on setImmediate.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe("the commit batcher with a WAL sync", () => {
  it("answers a durable write only once the WAL is synced, though it is committed before", async () => {
    const { sync, pending } = manualSync();
    const write = createCommitBatcher(db, undefined, undefined, sync);
    const first = write(insert("a"));
    expect(await settled(first)).toBe(false);
    // Committed (a reader sees it) but not yet answered: the sync has not finished.
    expect(rows()).toBe(1);
    expect(pending).toHaveLength(1);
    pending[0]?.resolve();
    await expect(first).resolves.toBe(1);
  });

  it("answers a batch of writes not marked durable at once, without a sync", async () => {
    const { sync, pending } = manualSync();
    const write = createCommitBatcher(db, undefined, undefined, sync);
    await expect(write(insert("hold"), { durable: false })).resolves.toBe(1);
    expect(pending).toHaveLength(0);
  });

  it("fails every write of a batch whose sync fails, and answers none of them as done", async () => {
    const { sync, pending } = manualSync();
    const write = createCommitBatcher(db, undefined, undefined, sync);
    const a = write(insert("a"));
    const b = write(insert("b"), { durable: false });
    await settled(a);
    pending[0]?.reject(new Error("EIO"));
    await expect(a).rejects.toThrow("EIO");
    await expect(b).rejects.toThrow("EIO");
  });

  it("still refuses a failing write alone, after the sync, and commits the rest", async () => {
    const { sync, pending } = manualSync();
    const write = createCommitBatcher(db, undefined, undefined, sync);
    const ok = write(insert("a"));
    const bad = write(() => {
      throw new Error("refused");
    });
    await settled(ok);
    pending[0]?.resolve();
    await expect(ok).resolves.toBe(1);
    await expect(bad).rejects.toThrow("refused");
  });
});

describe("createWalSync", () => {
  it("fsyncs the WAL of a file database, sharing one sync among callers that wait at once", async () => {
    const walSync = createWalSync(db);
    expect(walSync).toBeDefined();
    const write = createCommitBatcher(db, undefined, undefined, walSync);
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => write(insert(`v${i}`))));
    expect(new Set(ids).size).toBe(50);
    expect(rows()).toBe(50);
    walSync?.close();
    await expect(walSync?.sync()).rejects.toThrow("closed");
  });

  it("is not made for an in-memory database", () => {
    const memory = new Database(":memory:");
    expect(createWalSync(memory)).toBeUndefined();
    memory.close();
  });
});
