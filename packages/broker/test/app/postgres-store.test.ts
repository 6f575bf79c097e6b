import { afterAll, describe, expect, it } from "vitest";
import { migratePostgres, PG_MIGRATIONS } from "../../src/app/postgres-migrations.js";
import { createPostgresStore } from "../../src/app/postgres-store.js";
import { countPgMetricBuckets } from "../../src/metrics/pg-metrics.js";
import { createPgDb } from "../../src/platform/db/pg-db.js";
import { describeStoreConformance } from "../conformance/conformance.js";
import { describeEndpointConformance } from "../conformance/endpoint-conformance.js";
import { describeGrantConformance } from "../conformance/grant-conformance.js";
import { describeLedgerConformance } from "../conformance/ledger-conformance.js";
import { describeMetricsConformance } from "../conformance/metrics-conformance.js";
import { createTestPostgresStore, createTestSchema, type TestSchema } from "../support/postgres.js";
import { apiKeyRecord } from "../support/records.js";

// The same suites as the SQLite store's, on a PostgreSQL schema of their own per store.
describeStoreConformance("postgres", () => createTestPostgresStore());
describeLedgerConformance("postgres", () => createTestPostgresStore());
describeGrantConformance("postgres", () => createTestPostgresStore());
describeEndpointConformance("postgres", () => createTestPostgresStore());
let metricsTarget: TestSchema | undefined;
describeMetricsConformance(
  "postgres",
  () => {
    metricsTarget = createTestSchema();
    return createTestPostgresStore({ target: metricsTarget });
  },
  {
    // In the schema of the store made last, the one the test is using.
    async countBuckets(agentId) {
      const target = metricsTarget as TestSchema;
      const db = createPgDb({ url: target.url, schema: target.schema, max: 1 });
      try {
        return await countPgMetricBuckets(db, agentId);
      } finally {
        await db.close();
      }
    },
  },
);

describe("postgres migrations", () => {
  const target = createTestSchema();
  afterAll(() => target.drop());

  it("migrate once, even when several brokers open the same database at once", async () => {
    const stores = await Promise.all(
      Array.from({ length: 4 }, () =>
        createPostgresStore({ url: target.url, schema: target.schema, poolSize: 2 }),
      ),
    );
    const db = createPgDb({ url: target.url, schema: target.schema, max: 1 });
    try {
      const rows = await db.query<{ version: number }>(
        "SELECT version FROM schema_migrations ORDER BY version",
      );
      expect(rows.map((row) => row.version)).toEqual(PG_MIGRATIONS.map((migration) => migration.version));
      expect(await migratePostgres(db, target.schema)).toEqual([]);
    } finally {
      await db.close();
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it("keeps data across reopenings, and every account has its ledger accounts from its first moment", async () => {
    const first = await createPostgresStore({ url: target.url, schema: target.schema });
    const at = "2026-01-01T00:00:00.000Z";
    await first.createAccount(
      { id: "acct_pgkept0001", name: "Kept", email: null, createdAt: at },
      apiKeyRecord({ id: "key_pgkept0001", accountId: "acct_pgkept0001" }),
    );
    await first.close();
    const second = await createPostgresStore({ url: target.url, schema: target.schema });
    try {
      expect(await second.getAccount("acct_pgkept0001")).toEqual({
        id: "acct_pgkept0001",
        name: "Kept",
        email: null,
        createdAt: at,
      });
      expect((await second.getBalance("acct_pgkept0001", at)).available).toBe(0);
    } finally {
      await second.close();
    }
  });

  it("migration 3 gives listings made before endpoint proofs a 14-day grace period", async () => {
    const at = "2026-01-01T00:00:00.000Z";
    const before = await createPostgresStore({ url: target.url, schema: target.schema });
    await before.createAccount(
      { id: "acct_pgv2", name: "v2", email: null, createdAt: at },
      apiKeyRecord({ id: "key_pgv2", accountId: "acct_pgv2", hash: "2".repeat(64) }),
    );
    await before.insertAgent({
      id: "agent_pgv2",
      ownerId: "acct_pgv2",
      name: "Old listing",
      description: "",
      category: "crypto",
      tags: [],
      version: "1.0.0",
      apiEndpoint: "https://old.example.com/agent",
      status: "active",
      pricing: { model: "per_call", priceMicros: 20_000, currency: "USD", tier: "basic", minCalls: 1 },
      createdAt: at,
    });
    await before.close();
    const db = createPgDb({ url: target.url, schema: target.schema, max: 1 });
    try {
      await db.exec(`DROP INDEX agents_endpoint_unproven;
        ALTER TABLE agents DROP COLUMN endpoint_verified_at, DROP COLUMN endpoint_challenge,
          DROP COLUMN endpoint_grace_until, DROP COLUMN endpoint_checked_at, DROP COLUMN endpoint_check_error;
        DELETE FROM schema_migrations WHERE version = 3;`);
    } finally {
      await db.close();
    }
    const migratedAt = Date.now();
    const after = await createPostgresStore({ url: target.url, schema: target.schema });
    try {
      const agent = await after.getAgent("agent_pgv2");
      expect(agent).toMatchObject({ status: "active", endpoint: { verifiedAt: null, challenge: null } });
      const graceMs = Date.parse(agent?.endpoint.graceUntil ?? "") - migratedAt;
      expect(Math.abs(graceMs - 14 * 86_400_000)).toBeLessThan(60_000);
      expect(
        (await after.listGraceEndpoints(new Date(migratedAt).toISOString(), 10)).map((a) => a.id),
      ).toEqual(["agent_pgv2"]);
    } finally {
      await after.close();
    }
  });
});
