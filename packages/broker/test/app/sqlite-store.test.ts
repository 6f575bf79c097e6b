import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/app/sqlite-migrations.js";
import { createSqliteStore } from "../../src/app/sqlite-store.js";
import type { Store } from "../../src/app/store.js";
import { settleGrant } from "../../src/grants/settle.js";
import { countMetricBuckets } from "../../src/metrics/sqlite-metrics.js";
import { describeStoreConformance } from "../conformance/conformance.js";
import { describeEndpointConformance } from "../conformance/endpoint-conformance.js";
import { describeGrantConformance } from "../conformance/grant-conformance.js";
import { describeLedgerConformance } from "../conformance/ledger-conformance.js";
import { describeMetricsConformance } from "../conformance/metrics-conformance.js";
import { apiKeyRecord } from "../support/records.js";

const dir = mkdtempSync(join(tmpdir(), "mercato-sqlite-"));
/** Undoes migration 9, for the tests that take a database back to an older version. */
const UNDO_ENDPOINT_PROOFS = `DROP INDEX agents_endpoint_unproven;
  ALTER TABLE agents DROP COLUMN endpoint_verified_at; ALTER TABLE agents DROP COLUMN endpoint_challenge;
  ALTER TABLE agents DROP COLUMN endpoint_grace_until; ALTER TABLE agents DROP COLUMN endpoint_checked_at;
  ALTER TABLE agents DROP COLUMN endpoint_check_error;`;
const UNDO_HEALTH_CLAIMS = "DROP TABLE health_endpoints; DROP TABLE health_hosts;";
const UNDO_GRANT_REPORTS = `DROP INDEX grant_reports_pending; DROP INDEX grants_reports_to_finalize;
  ALTER TABLE grant_reports DROP COLUMN source; ALTER TABLE grant_reports DROP COLUMN outcome;
  ALTER TABLE grant_reports DROP COLUMN response_time_ms; ALTER TABLE grant_reports DROP COLUMN counted;
  ALTER TABLE grants DROP COLUMN reported_client_errors; ALTER TABLE grants DROP COLUMN buyer_claims;
  ALTER TABLE grants DROP COLUMN seller_claims; ALTER TABLE grants DROP COLUMN reports_final;`;
const UNDO_PREPAID_VOUCHERS = "ALTER TABLE grants DROP COLUMN best_voucher_owed_micros;";
const UNDO_METRICS_BUYERS = `DROP TABLE agent_buyer_hours; DROP TABLE agent_buyer_windows;
  ALTER TABLE agent_metric_minutes DROP COLUMN client_errors; ALTER TABLE agent_metric_hours DROP COLUMN client_errors;
  ALTER TABLE agent_metric_windows DROP COLUMN units_30d; ALTER TABLE agent_metric_windows DROP COLUMN success_units_30d;`;
const UNDO_CONTRACTS =
  "ALTER TABLE agents DROP COLUMN input_schema; ALTER TABLE agents DROP COLUMN output_schema;";
const UNDO_FIGURES = `DROP TABLE category_priors;
  ALTER TABLE agents DROP COLUMN success_lower_bound; ALTER TABLE agents DROP COLUMN category_prior;
  ALTER TABLE agents DROP COLUMN ranked_calls; ALTER TABLE agents DROP COLUMN ranked_successes;
  ALTER TABLE agents DROP COLUMN measured_success_rate; ALTER TABLE agents DROP COLUMN measured_response_time_ms;
  ALTER TABLE agents DROP COLUMN measured_uptime;`;
/** Undoes every migration after 8, newest first, for tests that start from a version 8 database. */
const UNDO_ABOVE_8 = [
  UNDO_FIGURES,
  UNDO_CONTRACTS,
  UNDO_GRANT_REPORTS,
  UNDO_PREPAID_VOUCHERS,
  UNDO_HEALTH_CLAIMS,
  UNDO_METRICS_BUYERS,
  UNDO_ENDPOINT_PROOFS,
].join("\n");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

describeStoreConformance("sqlite in memory", () => createSqliteStore({ path: ":memory:" }));
describeStoreConformance("sqlite file (WAL)", () => createSqliteStore({ path: join(dir, `c${++files}.db`) }));
describeLedgerConformance("sqlite in memory", () => createSqliteStore({ path: ":memory:" }));
describeEndpointConformance("sqlite in memory", () => createSqliteStore({ path: ":memory:" }));
describeEndpointConformance("sqlite file (WAL)", () =>
  createSqliteStore({ path: join(dir, `e${++files}.db`) }),
);
describeGrantConformance("sqlite in memory", () => createSqliteStore({ path: ":memory:" }));
describeLedgerConformance("sqlite file (WAL)", () =>
  createSqliteStore({ path: join(dir, `l${++files}.db`) }),
);

describeMetricsConformance("sqlite in memory", () => createSqliteStore({ path: ":memory:" }));
let metricsFile = "";
describeMetricsConformance(
  "sqlite file (WAL)",
  () => {
    metricsFile = join(dir, `m${++files}.db`);
    return createSqliteStore({ path: metricsFile });
  },
  { countBuckets: (agentId) => countMetricBuckets(metricsFile, agentId) },
);

describe("sqlite store on disk", () => {
  it("keeps every charge across a reopening, holds committed without an fsync included", async () => {
    const path = join(dir, "synced.db");
    const store = createSqliteStore({ path });
    const at = "2026-01-01T00:00:00.000Z";
    for (const id of ["acct_syncbuyer1", "acct_syncselle1"]) {
      await store.createAccount(
        { id, name: id, email: null, createdAt: at },
        apiKeyRecord({ id: `key_${id.slice(5)}`, accountId: id, hash: id.padEnd(64, "0"), createdAt: at }),
      );
    }
    await store.credit({
      id: "topup-1",
      accountId: "acct_syncbuyer1",
      amount: 1_000_000,
      reference: "t",
      at,
    });
    // Holds (relaxed commits) and captures (durable commits) in many overlapping batches.
    const charges = Array.from({ length: 200 }, async (_, i) => {
      const hold = {
        id: `h${i}`,
        buyerId: "acct_syncbuyer1",
        sellerAccountId: "acct_syncselle1",
        agentId: "agent_sync01",
      };
      await store.hold({ ...hold, amount: 1000, expiresAt: "2026-01-02T00:00:00.000Z", at });
      return store.capture({ id: `c${i}`, holdId: `h${i}`, amount: 1000, at });
    });
    await Promise.all(charges);
    await store.close();
    const reopened = createSqliteStore({ path });
    expect((await reopened.getBalance("acct_syncbuyer1", at)).available).toBe(800_000);
    expect((await reopened.audit()).ok).toBe(true);
    await reopened.close();
  });

  it("creates its folder, migrates once, and keeps data across reopenings", async () => {
    const path = join(dir, "nested", "deeper", "mercato.db");
    const first = createSqliteStore({ path });
    await first.createAccount(
      { id: "acct_persist01", name: "Kept", email: null, createdAt: "2026-01-01T00:00:00.000Z" },
      apiKeyRecord({
        id: "key_persist001",
        accountId: "acct_persist01",
        hash: "a".repeat(64),
        createdAt: "2026-01-01T00:00:00.000Z",
      }),
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

  it("migrates a version 3 database: keys have no cap, and the charges made so far count as their keys' spending", async () => {
    const path = join(dir, "v3.db");
    const T0 = "2026-01-10T12:00:00.000Z";
    const before = createSqliteStore({ path });
    for (const id of ["acct_v3buyer", "acct_v3seller"]) {
      await before.createAccount(
        { id, name: id, email: null, createdAt: T0 },
        apiKeyRecord({
          id: `key_${id}`,
          accountId: id,
          hash: id.padEnd(64, "0").replace(/[^0-9a-f]/g, "e"),
          rateLimit: 60,
          createdAt: T0,
        }),
      );
    }
    await before.credit({
      id: "credit_v3",
      accountId: "acct_v3buyer",
      amount: 5_000_000,
      reference: "t",
      at: T0,
    });
    const hold = (id: string, keyId: string) =>
      before.hold({
        id,
        buyerId: "acct_v3buyer",
        sellerAccountId: "acct_v3seller",
        agentId: "agent_v3",
        keyId,
        amount: 1_000_000,
        expiresAt: "2026-01-10T13:00:00.000Z",
        at: T0,
      });
    await hold("txn_v3_captured", "key_v3_a");
    await before.capture({ id: "cap_v3", holdId: "txn_v3_captured", amount: 400_000, at: T0 });
    await hold("txn_v3_pending", "key_v3_a");
    await hold("txn_v3_voided", "key_v3_b");
    await before.voidHold({ id: "void_v3", holdId: "txn_v3_voided", at: T0 });
    await before.close();
    // Back to version 3: without migration 4's table and column.
    const raw = new Database(path);
    raw.exec(UNDO_FIGURES);
    raw.exec(UNDO_CONTRACTS);
    raw.exec(UNDO_ENDPOINT_PROOFS);
    raw.exec(
      "DROP TABLE daily_spend; ALTER TABLE api_keys DROP COLUMN suspended_at; ALTER TABLE api_keys DROP COLUMN suspend_reason;",
    );
    raw.exec(
      "DROP TABLE agent_buyer_hours; DROP TABLE agent_buyer_windows; DROP TABLE agent_metric_minutes; DROP TABLE agent_metric_hours; DROP TABLE agent_metric_windows;",
    );
    raw.exec("DROP TABLE health_endpoints; DROP TABLE health_hosts;");
    raw.exec("DROP TABLE grant_reports; DROP TABLE grants; DROP TABLE alert_channels;");
    raw.exec("DROP TABLE key_spend; ALTER TABLE api_keys DROP COLUMN spend_cap; PRAGMA user_version = 3;");
    raw.close();

    const after = createSqliteStore({ path });
    expect(await after.getApiKey("key_acct_v3buyer")).toMatchObject({ rateLimit: 60, spendCap: null });
    expect(await after.getKeySpend(["key_v3_a", "key_v3_b"])).toEqual(
      new Map([
        ["key_v3_a", 1_400_000],
        ["key_v3_b", 0],
      ]),
    );
    expect(await after.audit()).toMatchObject({ ok: true, violations: [] });
    await after.close();
  });

  it("migrates a version 6 database: no key is suspended, and the charges captured so far count as their days' spending", async () => {
    const path = join(dir, "v6.db");
    const T0 = "2026-01-10T12:00:00.000Z";
    const before = createSqliteStore({ path });
    for (const id of ["acct_v6buyer", "acct_v6seller"]) {
      await before.createAccount(
        { id, name: id, email: null, createdAt: T0 },
        apiKeyRecord({
          id: `key_${id}`,
          accountId: id,
          hash: id.padEnd(64, "0").replace(/[^0-9a-f]/g, "e"),
          createdAt: T0,
        }),
      );
    }
    await before.credit({
      id: "credit_v6",
      accountId: "acct_v6buyer",
      amount: 10_000_000,
      reference: "t",
      at: T0,
    });
    const charge = async (id: string, capturedAt: string | null) => {
      await before.hold({
        id,
        buyerId: "acct_v6buyer",
        sellerAccountId: "acct_v6seller",
        agentId: "agent_v6",
        amount: 1_000_000,
        expiresAt: "2026-01-12T13:00:00.000Z",
        at: T0,
      });
      if (capturedAt) await before.capture({ id: `${id}.cap`, holdId: id, amount: 600_000, at: capturedAt });
    };
    await charge("txn_v6_a", T0);
    await charge("txn_v6_b", "2026-01-11T00:00:01.000Z");
    await charge("txn_v6_c", "2026-01-11T09:00:00.000Z");
    await charge("txn_v6_pending", null);
    await before.close();
    // Back to version 6: without migration 7's table and columns.
    const raw = new Database(path);
    raw.exec(UNDO_FIGURES);
    raw.exec(UNDO_CONTRACTS);
    raw.exec(UNDO_ENDPOINT_PROOFS);
    raw.exec(
      `DROP TABLE health_endpoints; DROP TABLE health_hosts;
       DROP TABLE agent_buyer_hours; DROP TABLE agent_buyer_windows;
       ALTER TABLE agent_metric_minutes DROP COLUMN client_errors; ALTER TABLE agent_metric_hours DROP COLUMN client_errors;
       ALTER TABLE agent_metric_windows DROP COLUMN units_30d; ALTER TABLE agent_metric_windows DROP COLUMN success_units_30d;
       DROP TABLE grant_reports; DROP TABLE grants;
       DROP TABLE daily_spend; ALTER TABLE api_keys DROP COLUMN suspended_at;
       ALTER TABLE api_keys DROP COLUMN suspend_reason; PRAGMA user_version = 6;`,
    );
    raw.close();

    const after = createSqliteStore({ path });
    expect(await after.getApiKey("key_acct_v6buyer")).toMatchObject({
      suspendedAt: null,
      suspendReason: null,
    });
    expect(await after.audit()).toMatchObject({ ok: true, violations: [] });
    // 1.2 USD captured on the 11th and 1 USD in flight: 0.8 USD left of a 3 USD day.
    const hold = (id: string, amount: number) =>
      after.hold({
        id,
        buyerId: "acct_v6buyer",
        sellerAccountId: "acct_v6seller",
        agentId: "agent_v6",
        amount,
        dailyCap: 3_000_000,
        expiresAt: "2026-01-12T13:00:00.000Z",
        at: "2026-01-11T10:00:00.000Z",
      });
    await expect(hold("txn_v6_over", 800_001)).rejects.toMatchObject({ code: "SPEND_CAP_EXCEEDED" });
    expect((await hold("txn_v6_last", 800_000)).status).toBe("pending");
    await after.close();
  });

  it("migrates a version 8 database: calls reported before keep their outcome, settled grants are final", async () => {
    const path = join(dir, "v8.db");
    const T0 = "2026-01-10T12:00:00.000Z";
    const before = createSqliteStore({ path });
    for (const id of ["acct_v8buyer", "acct_v8seller"]) {
      await before.createAccount(
        { id, name: id, email: null, createdAt: T0 },
        apiKeyRecord({
          id: `key_${id}`,
          accountId: id,
          hash: id.padEnd(64, "0").replace(/[^0-9a-f]/g, "e"),
          createdAt: T0,
        }),
      );
    }
    await before.insertAgent({
      id: "agent_v8",
      ownerId: "acct_v8seller",
      name: "v8",
      description: "v8",
      category: "crypto",
      tags: [],
      version: "1.0.0",
      apiEndpoint: "https://seller.example/agent",
      status: "active",
      pricing: { model: "per_call", priceMicros: 20_000, currency: "USD", tier: "basic", minCalls: 1 },
      createdAt: T0,
    });
    await before.credit({
      id: "credit_v8",
      accountId: "acct_v8buyer",
      amount: 5_000_000,
      reference: "t",
      at: T0,
    });
    for (const id of ["grt_v8open0000", "grt_v8settled0"]) {
      await before.hold({
        id,
        buyerId: "acct_v8buyer",
        sellerAccountId: "acct_v8seller",
        agentId: "agent_v8",
        amount: 1_000_000,
        expiresAt: "2026-01-12T13:00:00.000Z",
        at: T0,
      });
      await before.insertGrant({
        id,
        agentId: "agent_v8",
        buyerId: "acct_v8buyer",
        sellerAccountId: "acct_v8seller",
        keyId: null,
        endpoint: "https://seller.example/agent",
        priceMicros: 20_000,
        budgetMicros: 1_000_000,
        buyerPublicKey: "k".repeat(43),
        token: "token",
        issuedAt: T0,
        expiresAt: "2026-01-10T13:00:00.000Z",
      });
    }
    await before.closeGrant("grt_v8settled0", T0);
    await settleGrant(before, "grt_v8settled0", T0);
    await before.close();
    // Back to version 8: without migration 13's columns; call 1 of the open grant counted then.
    const raw = new Database(path);
    raw.exec(
      `${UNDO_ABOVE_8}
       INSERT INTO grant_reports (grant_id, sequence) VALUES ('grt_v8open0000', 1);
       UPDATE grants SET reported_successes = 1 WHERE id = 'grt_v8open0000';
       PRAGMA user_version = 8;`,
    );
    raw.close();

    const after = createSqliteStore({ path });
    const report = (sequence: number, source: "buyer" | "seller") => ({
      grantId: "grt_v8open0000",
      sequence,
      source,
      outcome: "failure" as const,
      responseTimeMs: 5,
    });
    // Call 1 was decided before the migration: the seller's report of it does not count it again.
    expect((await after.countGrantReports([report(1, "seller"), report(2, "seller")])).verdicts).toEqual([
      "ignored",
      "counted",
    ]);
    expect(await after.getGrant("grt_v8open0000")).toMatchObject({
      reportedSuccesses: 1,
      reportedFailures: 1,
    });
    // The grant settled before the migration has nothing left to weigh.
    expect(await after.releaseSettledGrantReports(10)).toEqual([]);
    expect(await after.audit()).toMatchObject({ ok: true, violations: [] });
    await after.close();
  });

  it("migrates a version 8 database: listings made before endpoint proofs get a 14-day grace period", async () => {
    const path = join(dir, "v8-proofs.db");
    const T0 = "2026-01-10T12:00:00.000Z";
    const before = createSqliteStore({ path });
    await before.createAccount(
      { id: "acct_v8", name: "v8", email: null, createdAt: T0 },
      apiKeyRecord({ id: "key_acct_v8", accountId: "acct_v8", hash: "8".repeat(64), createdAt: T0 }),
    );
    await before.insertAgent({
      id: "agent_v8",
      ownerId: "acct_v8",
      name: "Old listing",
      description: "",
      category: "crypto",
      tags: [],
      version: "1.0.0",
      apiEndpoint: "https://old.example.com/agent",
      status: "active",
      pricing: { model: "per_call", priceMicros: 20_000, currency: "USD", tier: "basic", minCalls: 1 },
      createdAt: T0,
    });
    await before.close();
    const raw = new Database(path);
    raw.exec(`${UNDO_ABOVE_8} PRAGMA user_version = 8;`);
    raw.close();

    const migratedAt = Date.now();
    const after = createSqliteStore({ path });
    const agent = await after.getAgent("agent_v8");
    expect(agent).toMatchObject({ status: "active", endpoint: { verifiedAt: null, challenge: null } });
    const graceMs = Date.parse(agent?.endpoint.graceUntil ?? "") - migratedAt;
    expect(Math.abs(graceMs - 14 * 86_400_000)).toBeLessThan(60_000);
    expect((await after.listGraceEndpoints(new Date(migratedAt).toISOString(), 10)).map((a) => a.id)).toEqual(
      ["agent_v8"],
    );
    await after.close();
  });

  it("migrates grants recorded before prepaid vouchers: their best claim was their voucher's whole amount", async () => {
    const path = join(dir, "v8-prepaid.db");
    const before = createSqliteStore({ path });
    await before.close();
    // Back to version 8: grants without the column of migration 12, one grant recorded.
    const raw = new Database(path);
    raw.pragma("foreign_keys = OFF");
    raw.exec(
      `${UNDO_ABOVE_8}
       INSERT INTO grants (id, agent_id, buyer_id, seller_account_id, endpoint, price_micros, budget_micros,
         buyer_public_key, token, issued_at, expires_at, best_owed_micros, best_sequence, best_signature)
       VALUES ('grt_v8grant0001', 'agent_v8', 'acct_v8buyer', 'acct_v8seller', 'https://s.example', 20000,
         1000000, '${"A".repeat(43)}', 'a.b.c', '2026-01-10T12:00:00.000Z', '2026-01-11T13:00:00.000Z', 60000, 4, 'sig4');
       PRAGMA user_version = 8;`,
    );
    raw.close();
    const after = createSqliteStore({ path });
    expect(await after.getGrant("grt_v8grant0001")).toMatchObject({
      bestOwedMicros: 60_000,
      bestVoucherOwedMicros: 60_000,
      bestSequence: 4,
      bestSignature: "sig4",
    });
    await after.close();
  });

  it("refuses a database from a newer broker instead of corrupting it", () => {
    const path = join(dir, "future.db");
    const raw = new Database(path);
    raw.pragma("user_version = 999");
    raw.close();
    expect(() => createSqliteStore({ path })).toThrow(/newer than this broker knows/);
  });
});

describe("sqlite ledger audit", () => {
  const T0 = "2026-01-10T12:00:00.000Z";
  const account = async (store: Store, id: string) => {
    await store.createAccount(
      { id, name: id, email: null, createdAt: T0 },
      apiKeyRecord({
        id: `key_${id}`,
        accountId: id,
        hash: id.padEnd(64, "0").replace(/[^0-9a-f]/g, "c"),
        createdAt: T0,
      }),
    );
  };
  /** A file store with one captured and one pending charge, and a raw second connection to it. */
  const ledgerOnDisk = async () => {
    const path = join(dir, `audit${++files}.db`);
    const store = createSqliteStore({ path });
    await account(store, "acct_buyer");
    await account(store, "acct_seller");
    await store.credit({
      id: "credit_1",
      accountId: "acct_buyer",
      amount: 10_000_000,
      reference: "t",
      at: T0,
    });
    const hold = (id: string) =>
      store.hold({
        id,
        buyerId: "acct_buyer",
        sellerAccountId: "acct_seller",
        agentId: "agent_x",
        keyId: "key_access_buyer",
        amount: 1_000_000,
        expiresAt: "2026-01-10T13:00:00.000Z",
        at: T0,
      });
    await hold("txn_captured");
    await store.capture({ id: "cap_1", holdId: "txn_captured", amount: 700_000, at: T0 });
    await hold("txn_pending");
    expect(await store.audit()).toMatchObject({ ok: true, violations: [] });
    return { store, raw: new Database(path) };
  };

  it("finds a balance changed behind the ledger's back", async () => {
    const { store, raw } = await ledgerOnDisk();
    raw
      .prepare("UPDATE ledger_accounts SET credits_posted = credits_posted + 5 WHERE id = ?")
      .run("wallet:acct_buyer");
    raw.close();
    const audit = await store.audit();
    expect(audit.ok).toBe(false);
    expect(audit.violations.map((v) => v.rule).sort()).toEqual([
      "balance-equals-transfers",
      "money-in-equals-money-held",
      "sum-of-balances-is-zero",
    ]);
    expect(audit.violations[0]?.detail).toContain("wallet:acct_buyer");
    await store.close();
  });

  it("finds a key's spending changed behind the ledger's back, and spending carried over that no rotation explains", async () => {
    const { store, raw } = await ledgerOnDisk();
    raw.prepare("UPDATE key_spend SET captured = captured + 1 WHERE key_id = 'key_access_buyer'").run();
    raw.prepare("INSERT INTO key_spend (key_id, carried) VALUES ('key_from_nowhere', 5)").run();
    raw
      .prepare(
        "INSERT INTO key_spend (key_id, carried, carried_from) VALUES ('key_overcarried', 2000001, 'key_access_buyer')",
      )
      .run();
    raw.close();
    const audit = await store.audit();
    expect(audit.ok).toBe(false);
    expect(audit.violations.map((v) => [v.rule, v.detail.split(":")[0]])).toEqual([
      ["key-spend-matches-charges", "key_access_buyer"],
      ["key-spend-matches-charges", "key_from_nowhere"],
      ["key-spend-matches-charges", "key_overcarried"],
    ]);
    await store.close();
  });

  it("finds a day's spending changed behind the ledger's back, or missing", async () => {
    const { store, raw } = await ledgerOnDisk();
    raw.prepare("UPDATE daily_spend SET captured = captured + 1 WHERE account_id = 'acct_buyer'").run();
    raw
      .prepare("INSERT INTO daily_spend (account_id, day, captured) VALUES ('acct_seller', '2026-01-09', 5)")
      .run();
    raw.close();
    const audit = await store.audit();
    expect(audit.violations).toEqual([
      {
        rule: "daily-spend-matches-charges",
        detail: "acct_buyer on 2026-01-10: stored 700001, charges say 700000",
      },
      { rule: "daily-spend-matches-charges", detail: "acct_seller on 2026-01-09: stored 5, charges say 0" },
    ]);
    const again = new Database(raw.name);
    again.prepare("DELETE FROM daily_spend").run();
    again.close();
    expect((await store.audit()).violations).toEqual([
      {
        rule: "daily-spend-matches-charges",
        detail: "acct_buyer on 2026-01-10: nothing stored, charges say 700000",
      },
    ]);
    await store.close();
  });

  it("finds an overdrawn wallet, unbalanced pending amounts, charges that disagree with their transfers and a top-up never credited", async () => {
    const { store, raw } = await ledgerOnDisk();
    raw
      .prepare("UPDATE ledger_accounts SET debits_pending = debits_pending + 20000000 WHERE id = ?")
      .run("wallet:acct_buyer");
    raw.prepare("UPDATE charges SET status = 'pending' WHERE id = 'txn_captured'").run();
    raw.prepare("UPDATE charges SET fee = fee + 1 WHERE id = 'txn_pending'").run();
    raw
      .prepare(
        `INSERT INTO topups (id, account_id, amount, provider, status, created_at)
         VALUES ('tp_never_paid', 'acct_buyer', 5000000, 'stripe', 'succeeded', ?)`,
      )
      .run(T0);
    raw.close();
    const audit = await store.audit();
    expect(audit.ok).toBe(false);
    expect(new Set(audit.violations.map((v) => v.rule))).toEqual(
      new Set([
        "balance-equals-transfers",
        "wallet-not-negative",
        "pending-debits-equal-credits",
        "charge-matches-transfers",
        // The charge marked pending again now disagrees with its key's spending too, and its day's.
        "key-spend-matches-charges",
        "daily-spend-matches-charges",
        "topup-credited-once",
      ]),
    );
    expect(audit.violations.filter((v) => v.rule === "charge-matches-transfers")).toHaveLength(2);
    await store.close();
  });
});
