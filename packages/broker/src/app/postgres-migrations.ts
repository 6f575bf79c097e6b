import { GRANT_REPORTS_SCHEMA, GRANTS_SCHEMA, PREPAID_VOUCHERS_SCHEMA } from "../grants/pg-grants.js";
import { LEDGER_REFUSAL_CODES } from "../ledger/pg-refusal-codes.js";
import { LEDGER_SCHEMA } from "../ledger/pg-schema.js";
import { HEALTH_CLAIMS_SCHEMA } from "../metrics/pg-health-claims.js";
import { FIGURES_SCHEMA, METRICS_BUYERS_SCHEMA, METRICS_SCHEMA } from "../metrics/pg-schema.js";
import type { PgDb } from "../platform/db/pg-db.js";
import { CONTRACTS_SCHEMA } from "../registry/pg-contracts-schema.js";
import { ENDPOINT_PROOF_SCHEMA, REGISTRY_SCHEMA } from "../registry/pg-schema.js";

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
  { version: 3, name: "endpoint control proofs", sql: ENDPOINT_PROOF_SCHEMA },
  {
    version: 4,
    name: "client errors apart, and per-buyer weights for the capped ranking",
    sql: METRICS_BUYERS_SCHEMA,
  },
  { version: 5, name: "health-check claims per endpoint and per host", sql: HEALTH_CLAIMS_SCHEMA },
  {
    version: 6,
    name: "prepaid vouchers: a grant's best claim and the voucher behind it",
    sql: PREPAID_VOUCHERS_SCHEMA,
  },
  { version: 7, name: "usage report claims", sql: GRANT_REPORTS_SCHEMA },
  { version: 8, name: "listing contracts: input and output JSON Schemas", sql: CONTRACTS_SCHEMA },
  {
    version: 9,
    name: "measured figures apart from ranking ones, and category priors for the conservative ranking",
    sql: FIGURES_SCHEMA,
  },
  { version: 10, name: "ledger holds and resolutions answer their refusal code", sql: LEDGER_REFUSAL_CODES },
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
    const done = new Set(
      (await tx.query<{ version: number }>("SELECT version FROM schema_migrations")).map(
        (row) => row.version,
      ),
    );
    const current = Math.max(0, ...done);
    const latest = PG_MIGRATIONS.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new Error(
        `The database's schema version ${current} is newer than this broker knows (${latest}): upgrade the broker`,
      );
    }
    // Every migration not recorded yet, in order: a version missing below the newest one applied
    // (numbers kept for work that landed later) is applied too, never skipped.
    const applied: number[] = [];
    for (const migration of PG_MIGRATIONS) {
      if (done.has(migration.version)) continue;
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
