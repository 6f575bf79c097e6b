import { createPgGrants } from "../grants/pg-grants.js";
import { createPgLedger } from "../ledger/pg-ledger.js";
import { createPgHealthClaims } from "../metrics/pg-health-claims.js";
import { createPgMetrics } from "../metrics/pg-metrics.js";
import { createPayoutDestinations } from "../payments/payout-destinations.js";
import { createPgDb, type PgDb } from "../platform/db/pg-db.js";
import { pgQueries } from "../platform/db/sql-queries.js";
import { createPgRegistry } from "../registry/pg-registry.js";
import { migratePostgres } from "./postgres-migrations.js";
import type { Store } from "./store.js";

/** Options of {@link createPostgresStore}. */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database` (`--postgres` / `MERCATO_DATABASE_URL`). */
  url: string;
  /** A schema to use instead of `public`, created if missing (tests use one each). */
  schema?: string;
  /** Connections in this process's pool (default 10). */
  poolSize?: number;
}

/**
 * The scale-out store: PostgreSQL through `pg`, migrated on open. Several broker processes may
 * share one database: the ledger's guarantees (no overdraft, a hold resolved once, idempotent
 * transfer ids, exactly-once credits) hold across them through row locks and unique constraints.
 *
 * @example
 * const store = await createPostgresStore({ url: "postgres://mercato@db:5432/mercato" });
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const db = createPgDb({
    url: options.url,
    ...(options.schema !== undefined && { schema: options.schema }),
    max: options.poolSize ?? 10,
  });
  try {
    await migratePostgres(db, options.schema);
  } catch (error) {
    await db.close();
    throw error;
  }
  return assemble(db);
}

function assemble(db: PgDb): Store {
  const registry = createPgRegistry(db);
  const ledger = createPgLedger(db);
  const metrics = createPgMetrics(db);
  return {
    ...registry,
    ...ledger,
    ...metrics,
    ...createPgGrants(db),
    ...createPgHealthClaims(db),
    ...createPayoutDestinations(pgQueries(db)),
    close: () => db.close(),
  };
}
