import { LEDGER_SCHEMA } from "./ledger-schema.js";
import { METRICS_BUYERS_SCHEMA, METRICS_SCHEMA } from "./metrics-schema.js";
import type { PgDb } from "./pg-db.js";
import { GRANTS_SCHEMA } from "./pg-grants.js";
import { REGISTRY_SCHEMA } from "./registry-schema.js";

/**
 * Versioned schema migrations of the PostgreSQL store, applied in order, each in its own
 * transaction, and recorded in `schema_migrations`. Never edit a migration that has shipped: add a
 * new one. Version 1 is the SQLite store's seven migrations as one schema.
 */
export const PG_MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: "accounts, keys, registry, ledger, metrics, alerts, payouts",
    sql: REGISTRY_SCHEMA + LEDGER_SCHEMA + METRICS_SCHEMA,
  },
  { version: 2, name: "direct-mode grants", sql: GRANTS_SCHEMA },
  {
    version: 4,
    name: "client errors apart, and per-buyer weights for the capped ranking",
    sql: METRICS_BUYERS_SCHEMA,
  },
];

/** Any value: the advisory lock several brokers starting at once take to migrate one at a time. */
const MIGRATION_LOCK = 7_246_511_001;

/**
 * Brings the database (or `schema`) to the newest version; returns the versions it applied.
 * Brokers starting together wait for each other on an advisory lock, so each migration runs once.
 */
export async function migratePostgres(db: PgDb, schema?: string): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.run("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    // Under the lock: CREATE SCHEMA IF NOT EXISTS run by two brokers at once can fail on the
    // catalog's unique index.
    if (schema !== undefined) await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await tx.exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
    const row = await tx.one<{ version: number | null }>(
      "SELECT max(version) AS version FROM schema_migrations",
    );
    const current = row?.version ?? 0;
    const latest = PG_MIGRATIONS.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new Error(
        `The database's schema version ${current} is newer than this broker knows (${latest}): upgrade the broker`,
      );
    }
    const applied: number[] = [];
    for (const migration of PG_MIGRATIONS) {
      if (migration.version <= current) continue;
      await tx.exec(migration.sql);
      await tx.run("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
        migration.version,
        migration.name,
      ]);
      applied.push(migration.version);
    }
    return applied;
  });
}
