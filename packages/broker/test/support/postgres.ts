import { randomBytes } from "node:crypto";
import { createPostgresStore } from "../../src/app/postgres-store.js";
import type { Store } from "../../src/app/store.js";
import { createPgDb } from "../../src/platform/db/pg-db.js";

/**
 * The PostgreSQL server tests use: `MERCATO_TEST_DATABASE_URL`, else the local one with trust auth
 * (as on the development machine and CI).
 */
export const TEST_DATABASE_URL =
  process.env.MERCATO_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A schema of its own for one test, and how to drop it. */
export interface TestSchema {
  url: string;
  schema: string;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

let counter = 0;

/** A fresh, empty schema name in the test database; nothing is created until a store opens it. */
export function createTestSchema(): TestSchema {
  const schema = `mercato_t${process.pid}_${++counter}_${randomBytes(3).toString("hex")}`;
  return {
    url: TEST_DATABASE_URL,
    schema,
    async drop() {
      const db = createPgDb({ url: TEST_DATABASE_URL, max: 1 });
      try {
        await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await db.close();
      }
    },
  };
}

/**
 * A PostgreSQL store on a schema of its own (`target`, or a fresh one), dropped when the store is
 * closed.
 */
export async function createTestPostgresStore(
  options: { poolSize?: number; target?: TestSchema } = {},
): Promise<Store> {
  const { target = createTestSchema(), ...storeOptions } = options;
  const store = await createPostgresStore({ url: target.url, schema: target.schema, ...storeOptions });
  return {
    ...store,
    async close() {
      await store.close();
      await target.drop();
    },
  };
}
