import type Database from "better-sqlite3";
import { ALERTS_MIGRATION } from "../alerts/sqlite-schema.js";
import { FRAUD_MIGRATION } from "../fraud/sqlite-schema.js";
import {
  GRANT_REPORTS_MIGRATION,
  GRANTS_MIGRATION,
  PREPAID_VOUCHERS_MIGRATION,
} from "../grants/sqlite-grants.js";
import { KEY_SPEND_MIGRATION } from "../ledger/sqlite-key-spend.js";
import { LEDGER_MIGRATION } from "../ledger/sqlite-schema.js";
import { HEALTH_CLAIMS_MIGRATION } from "../metrics/sqlite-health-claims.js";
import { FIGURES_MIGRATION, METRICS_BUYERS_MIGRATION, METRICS_MIGRATION } from "../metrics/sqlite-metrics.js";
import { PAYOUT_MIGRATION } from "../payments/sqlite-schema.js";
import { CONTRACTS_MIGRATION } from "../registry/sqlite-contracts-schema.js";
import { ENDPOINT_PROOF_MIGRATION } from "../registry/sqlite-endpoint-proof-schema.js";

/**
 * Versioned schema migrations. Each runs once, in order, inside a transaction; the schema's
 * version is SQLite's `user_version`. Never edit a migration that has shipped: add a new one.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: "accounts, keys and the agent registry",
    sql: `
      CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT,
        created_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        kind TEXT NOT NULL CHECK (kind IN ('account', 'access')),
        name TEXT,
        prefix TEXT NOT NULL,
        hashed_key TEXT NOT NULL UNIQUE,
        agent_id TEXT,
        rate_limit INTEGER,
        expires_at TEXT,
        created_at TEXT NOT NULL,
        revoked_at TEXT
      ) STRICT;
      CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at);

      CREATE TABLE agents (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        owner_id TEXT NOT NULL REFERENCES accounts(id),
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        category TEXT NOT NULL,
        tags TEXT NOT NULL,
        version TEXT NOT NULL,
        api_endpoint TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'down', 'inactive')),
        pricing_model TEXT NOT NULL,
        price_micros INTEGER NOT NULL CHECK (price_micros > 0),
        currency TEXT NOT NULL,
        tier TEXT NOT NULL,
        min_calls INTEGER NOT NULL,
        calls INTEGER NOT NULL DEFAULT 0,
        successes INTEGER NOT NULL DEFAULT 0,
        total_response_time_ms REAL NOT NULL DEFAULT 0,
        health_checks INTEGER NOT NULL DEFAULT 0,
        healthy_checks INTEGER NOT NULL DEFAULT 0,
        success_rate REAL NOT NULL,
        avg_response_time_ms REAL NOT NULL,
        uptime_24h REAL NOT NULL,
        trust_score REAL NOT NULL,
        cost_per_success REAL NOT NULL,
        metrics_updated_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX agents_by_owner ON agents (owner_id);

      -- One index per sort order, with and without a category, over listed agents only. Search walks
      -- them in order, so each also carries the filter columns it is not sorted by (price, trust):
      -- a max_price or min_trust filter is then checked on the index entry, and only the rows of the
      -- page are read from the table.
      CREATE INDEX agents_cps ON agents (cost_per_success, seq, price_micros, trust_score)
        WHERE status <> 'inactive';
      CREATE INDEX agents_trust ON agents (trust_score DESC, seq, price_micros) WHERE status <> 'inactive';
      CREATE INDEX agents_price ON agents (price_micros, seq, trust_score) WHERE status <> 'inactive';
      CREATE INDEX agents_rt ON agents (avg_response_time_ms, seq, price_micros, trust_score)
        WHERE status <> 'inactive';
      CREATE INDEX agents_cat_cps ON agents (category, cost_per_success, seq, price_micros, trust_score)
        WHERE status <> 'inactive';
      CREATE INDEX agents_cat_trust ON agents (category, trust_score DESC, seq, price_micros)
        WHERE status <> 'inactive';
      CREATE INDEX agents_cat_price ON agents (category, price_micros, seq, trust_score)
        WHERE status <> 'inactive';
      CREATE INDEX agents_cat_rt ON agents (category, avg_response_time_ms, seq, price_micros, trust_score)
        WHERE status <> 'inactive';

      CREATE TABLE agent_tags (
        tag TEXT NOT NULL,
        agent_seq INTEGER NOT NULL REFERENCES agents(seq),
        PRIMARY KEY (tag, agent_seq)
      ) STRICT, WITHOUT ROWID;
      -- An agent's tags, for rewriting them (without it every registration scans all tags).
      CREATE INDEX agent_tags_by_agent ON agent_tags (agent_seq);

      CREATE TABLE price_history (
        agent_id TEXT NOT NULL REFERENCES agents(id),
        price_micros INTEGER NOT NULL,
        currency TEXT NOT NULL,
        tier TEXT NOT NULL,
        min_calls INTEGER NOT NULL,
        effective_from TEXT NOT NULL,
        effective_to TEXT
      ) STRICT;
      CREATE INDEX price_history_by_agent ON price_history (agent_id, effective_from);

      -- Search words match as prefixes. The prefix index serves prefixes of 1 to 4 characters as
      -- single index terms: without it FTS5 merges the list of every word a prefix starts on each
      -- query ("s" merges thousands of them). Longer prefixes start few words and merge cheaply.
      CREATE VIRTUAL TABLE agents_fts USING fts5 (
        name, description, tags,
        content = 'agents', content_rowid = 'seq',
        tokenize = 'unicode61 remove_diacritics 2',
        prefix = '1 2 3 4'
      );
      CREATE TRIGGER agents_fts_insert AFTER INSERT ON agents BEGIN
        INSERT INTO agents_fts (rowid, name, description, tags)
        VALUES (new.seq, new.name, new.description, new.tags);
      END;
      CREATE TRIGGER agents_fts_update AFTER UPDATE OF name, description, tags ON agents BEGIN
        INSERT INTO agents_fts (agents_fts, rowid, name, description, tags)
        VALUES ('delete', old.seq, old.name, old.description, old.tags);
        INSERT INTO agents_fts (rowid, name, description, tags)
        VALUES (new.seq, new.name, new.description, new.tags);
      END;
    `,
  },
  LEDGER_MIGRATION,
  PAYOUT_MIGRATION,
  KEY_SPEND_MIGRATION,
  METRICS_MIGRATION,
  ALERTS_MIGRATION,
  FRAUD_MIGRATION,
  GRANTS_MIGRATION,
  ENDPOINT_PROOF_MIGRATION,
  METRICS_BUYERS_MIGRATION,
  HEALTH_CLAIMS_MIGRATION,
  PREPAID_VOUCHERS_MIGRATION,
  GRANT_REPORTS_MIGRATION,
  CONTRACTS_MIGRATION,
  FIGURES_MIGRATION,
];

/** Brings a database to the newest schema version; returns the versions it applied. */
export function migrate(db: Database.Database): number[] {
  const current = db.pragma("user_version", { simple: true }) as number;
  const latest = MIGRATIONS.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(
      `The database's schema version ${current} is newer than this broker knows (${latest}): upgrade the broker`,
    );
  }
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
    applied.push(migration.version);
  }
  return applied;
}
