import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { createSqliteAccounts } from "../accounts/sqlite-accounts.js";
import { createAlertChannels } from "../alerts/alert-channels.js";
import { createSqliteGrants } from "../grants/sqlite-grants.js";
import { carryKeySpend } from "../ledger/sqlite-key-spend.js";
import { createSqliteLedger } from "../ledger/sqlite-ledger.js";
import { createSqliteHealthClaims } from "../metrics/sqlite-health-claims.js";
import { createSqliteMetrics } from "../metrics/sqlite-metrics.js";
import { createPayoutDestinations } from "../payments/payout-destinations.js";
import { sqliteQueries } from "../platform/db/sql-queries.js";
import { createWalSync } from "../platform/db/wal-sync.js";
import { createSqliteRegistry } from "../registry/sqlite-registry.js";
import { migrate } from "./sqlite-migrations.js";
import type { Store } from "./store.js";

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** Database file; its folder is created if missing. `:memory:` for a throw-away store. */
  path: string;
}

/**
 * The embedded store: one SQLite file through better-sqlite3, in WAL mode, migrated on open. Each
 * module's adapter shares the one connection and its cache of prepared statements.
 *
 * @example
 * const store = createSqliteStore({ path: ".mercato/mercato.db" });
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma("journal_mode = WAL");
  // FULL: a commit is on disk before any caller hears of it (the ledger answers after commit).
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  // 64 MiB of page cache: the registry's indexes stay in memory at 100,000 agents.
  db.pragma("cache_size = -65536");
  db.pragma("busy_timeout = 5000");
  migrate(db);

  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string): Database.Statement => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };

  // Call outcomes, health checks, window metrics and the ranking figures derived from them.
  const metrics = createSqliteMetrics(db, prepare);

  // The ledger's commits reach the disk through an fsync on the thread pool, not on the event loop.
  const walSync = createWalSync(db);

  return {
    ...createSqliteLedger(db, prepare, walSync),
    ...createSqliteGrants(db, prepare),
    // Alert channels and payout destinations: the statements both stores share.
    ...createAlertChannels(sqliteQueries(prepare)),
    ...createPayoutDestinations(sqliteQueries(prepare)),
    // A rotated key's spending (the ledger's) carries over to its replacement in the rotation.
    ...createSqliteAccounts(db, prepare, (oldId, newId) => carryKeySpend(prepare, oldId, newId)),
    ...metrics.store,
    ...createSqliteHealthClaims(db, prepare),
    // Listings are scored at their category's prior, and rescored when re-priced, by the metrics.
    ...createSqliteRegistry(db, prepare, { priorOf: metrics.priorOf, rescore: metrics.rescore }),

    async close() {
      if (db.open) {
        walSync?.close();
        db.pragma("optimize");
        db.close();
      }
    },
  };
}
