import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { describeStoreConformance } from "../conformance.js";
import { MIGRATIONS } from "./migrations.js";
import { createSqliteStore } from "./sqlite-store.js";

const dir = mkdtempSync(join(tmpdir(), "mercato-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

describeStoreConformance("sqlite in memory", () => createSqliteStore({ path: ":memory:" }));
describeStoreConformance("sqlite file (WAL)", () => createSqliteStore({ path: join(dir, `c${++files}.db`) }));

describe("sqlite store on disk", () => {
  it("creates its folder, migrates once, and keeps data across reopenings", async () => {
    const path = join(dir, "nested", "deeper", "mercato.db");
    const first = createSqliteStore({ path });
    await first.createAccount(
      { id: "acct_persist01", name: "Kept", email: null, createdAt: "2026-01-01T00:00:00.000Z" },
      {
        id: "key_persist001",
        accountId: "acct_persist01",
        kind: "account",
        name: null,
        prefix: "mk_abcdef",
        hash: "a".repeat(64),
        agentId: null,
        rateLimit: null,
        expiresAt: null,
        createdAt: "2026-01-01T00:00:00.000Z",
        revokedAt: null,
      },
    );
    await first.close();

    const second = createSqliteStore({ path });
    expect((await second.getAccount("acct_persist01"))?.name).toBe("Kept");
    await second.close();

    const raw = new Database(path);
    expect(raw.pragma("user_version", { simple: true })).toBe(MIGRATIONS.at(-1)?.version);
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    raw.close();
  });

  it("refuses a database from a newer broker instead of corrupting it", () => {
    const path = join(dir, "future.db");
    const raw = new Database(path);
    raw.pragma("user_version = 999");
    raw.close();
    expect(() => createSqliteStore({ path })).toThrow(/newer than this broker knows/);
  });
});
