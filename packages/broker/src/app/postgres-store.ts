import { RANKING } from "@mercato/protocol";
import { type CarryPgKeySpend, createPgAccounts } from "../accounts/pg-accounts.js";
import { createAlertChannels } from "../alerts/alert-channels.js";
import { createPgGrants } from "../grants/pg-grants.js";
import { createPgLedger } from "../ledger/pg-ledger.js";
import { priorOf, scoresOf } from "../metrics/metrics-math.js";
import { createPgHealthClaims } from "../metrics/pg-health-claims.js";
import {
  createPgMetrics,
  storedPriors,
  windowTotals,
  writeScores,
  ZERO_RANKED,
} from "../metrics/pg-metrics.js";
import { createPayoutDestinations } from "../payments/payout-destinations.js";
import { createPgDb, type PgDb } from "../platform/db/pg-db.js";
import { pgQueries } from "../platform/db/sql-queries.js";
import { createPgRegistry, type PgAgentScoring } from "../registry/pg-registry.js";
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
  return {
    ...createPgAccounts(db, carryKeySpend),
    ...createPgRegistry(db, AGENT_SCORING),
    ...createPgLedger(db),
    ...createPgMetrics(db),
    ...createPgGrants(db),
    ...createPgHealthClaims(db),
    // Alert channels and payout destinations: the statements both stores share.
    ...createAlertChannels(pgQueries(db)),
    ...createPayoutDestinations(pgQueries(db)),
    close: () => db.close(),
  };
}

/**
 * A rotated key's spending, carried to its replacement (captured, held and carried), so that
 * rotating never resets a spend cap. `key_spend` belongs to the ledger's schema; accounts, below
 * the ledger, is handed this.
 */
const carryKeySpend: CarryPgKeySpend = async (tx, oldId, newId) => {
  await tx.run(
    `INSERT INTO key_spend (key_id, carried, carried_from)
       SELECT $2, carried + pending + captured, key_id FROM key_spend
       WHERE key_id = $1 AND carried + pending + captured > 0
     ON CONFLICT (key_id) DO UPDATE SET carried = excluded.carried, carried_from = excluded.carried_from`,
    [oldId, newId],
  );
};

/** The metrics' figures of a listing, for the registry (below the metrics) to write with it. */
const AGENT_SCORING: PgAgentScoring = {
  async priorOf(db, category) {
    const prior = await db.one<{ prior: number }>("SELECT prior FROM category_priors WHERE category = $1", [
      category,
    ]);
    return prior?.prior ?? RANKING.fallbackPrior;
  },
  async rescore(tx, seq, agent, at) {
    const totals = (await windowTotals(tx, [seq])).get(seq) ?? ZERO_RANKED;
    const prior = priorOf(await storedPriors(tx), agent.category);
    await writeScores(
      tx,
      [{ seq, scores: scoresOf(agent.pricing.priceMicros, totals, totals.buyers, prior) }],
      at,
    );
  },
};
