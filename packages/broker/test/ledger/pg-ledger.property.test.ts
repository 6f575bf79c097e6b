import { afterAll, beforeAll } from "vitest";
import { createPostgresStore } from "../../src/app/postgres-store.js";
import type { Store } from "../../src/app/store.js";
import { LEDGER_SYSTEM_ACCOUNTS } from "../../src/ledger/pg-schema.js";
import { createPgDb, type PgDb } from "../../src/platform/db/pg-db.js";
import { describeLedgerProperties } from "../conformance/ledger-properties.js";
import { createTestSchema } from "../support/postgres.js";

// The ledger's property tests on PostgreSQL. A schema per run would cost ~100 ms of DDL, so the runs
// share one store and schema, emptied between runs: every table but the migrations', referencing
// tables first, then the ledger's two system accounts put back. DELETE on these few rows takes about
// 1.5 ms; TRUNCATE, which makes new files for every table, about 50.
const target = createTestSchema();
let store: Store;
let admin: PgDb;
let empty: string;

beforeAll(async () => {
  store = await createPostgresStore({ url: target.url, schema: target.schema });
  admin = createPgDb({ url: target.url, schema: target.schema, max: 1 });
  const tables = await admin.query<{ name: string }>(
    "SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'",
    [target.schema],
  );
  const references = await admin.query<{ child: string; parent: string }>(
    `SELECT child.relname AS child, parent.relname AS parent FROM pg_constraint c
     JOIN pg_class child ON child.oid = c.conrelid JOIN pg_class parent ON parent.oid = c.confrelid
     JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE c.contype = 'f' AND n.nspname = $1 AND c.conrelid <> c.confrelid`,
    [target.schema],
  );
  const order = childrenFirst(
    tables.map((table) => table.name),
    references,
  );
  empty = `BEGIN; ${order.map((table) => `DELETE FROM ${table};`).join(" ")} ${LEDGER_SYSTEM_ACCOUNTS} COMMIT;`;
});

afterAll(async () => {
  await store?.close();
  await admin?.close();
  await target.drop();
});

describeLedgerProperties(
  "PostgreSQL",
  async () => {
    await admin.exec(empty);
    // The runs share the store: closing it after one is a no-op.
    return { ...store, close: async () => undefined };
  },
  { modelRuns: 150, concurrentRuns: 200 },
);

/** The tables in an order in which each comes before every table it references. */
function childrenFirst(tables: string[], references: Array<{ child: string; parent: string }>): string[] {
  const order: string[] = [];
  let left = tables;
  while (left.length > 0) {
    const referenced = new Set(references.filter((r) => left.includes(r.child)).map((r) => r.parent));
    const next = left.filter((table) => !referenced.has(table));
    if (next.length === 0) throw new Error(`The tables reference each other in a cycle: ${left.join(", ")}`);
    order.push(...next);
    left = left.filter((table) => referenced.has(table));
  }
  return order;
}
