/**
 * PostgreSQL schema of accounts, API keys, the agent registry, alert channels and payout
 * destinations: the SQLite migrations 1, 3, 4 (api_keys.spend_cap), 6 and 7 (suspension) in one.
 * Timestamps are ISO 8601 text, as in SQLite: they compare in time order, and the store interface
 * speaks strings. Money is BIGINT micro-USD.
 */
export const REGISTRY_SCHEMA = `
  CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    created_at TEXT NOT NULL
  );

  CREATE TABLE api_keys (
    -- Insertion order, for listing newest first among keys created in the same millisecond.
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    kind TEXT NOT NULL CHECK (kind IN ('account', 'access')),
    name TEXT,
    prefix TEXT NOT NULL,
    hashed_key TEXT NOT NULL UNIQUE,
    agent_id TEXT,
    rate_limit INTEGER,
    spend_cap BIGINT CHECK (spend_cap >= 0),
    suspended_at TEXT,
    suspend_reason TEXT,
    expires_at TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
  );
  CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at);

  CREATE TABLE agents (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    price_micros BIGINT NOT NULL CHECK (price_micros > 0),
    currency TEXT NOT NULL,
    tier TEXT NOT NULL,
    min_calls INTEGER NOT NULL,
    calls BIGINT NOT NULL DEFAULT 0,
    successes BIGINT NOT NULL DEFAULT 0,
    total_response_time_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
    health_checks BIGINT NOT NULL DEFAULT 0,
    healthy_checks BIGINT NOT NULL DEFAULT 0,
    success_rate DOUBLE PRECISION NOT NULL,
    avg_response_time_ms DOUBLE PRECISION NOT NULL,
    uptime_24h DOUBLE PRECISION NOT NULL,
    trust_score DOUBLE PRECISION NOT NULL,
    cost_per_success DOUBLE PRECISION NOT NULL,
    metrics_updated_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX agents_by_owner ON agents (owner_id);
  -- One index per sort order, with and without a category, over listed agents only: search walks
  -- them in order and pages by keyset ((key, seq) > cursor, an index condition). Trust sorts
  -- descending with ties in ascending seq, so its key is the negated score.
  CREATE INDEX agents_cps ON agents (cost_per_success, seq) WHERE status <> 'inactive';
  CREATE INDEX agents_trust ON agents ((-trust_score), seq) WHERE status <> 'inactive';
  CREATE INDEX agents_price ON agents (price_micros, seq) WHERE status <> 'inactive';
  CREATE INDEX agents_rt ON agents (avg_response_time_ms, seq) WHERE status <> 'inactive';
  CREATE INDEX agents_cat_cps ON agents (category, cost_per_success, seq) WHERE status <> 'inactive';
  CREATE INDEX agents_cat_trust ON agents (category, (-trust_score), seq) WHERE status <> 'inactive';
  CREATE INDEX agents_cat_price ON agents (category, price_micros, seq) WHERE status <> 'inactive';
  CREATE INDEX agents_cat_rt ON agents (category, avg_response_time_ms, seq) WHERE status <> 'inactive';

  CREATE TABLE agent_tags (
    tag TEXT NOT NULL,
    agent_seq BIGINT NOT NULL REFERENCES agents(seq),
    PRIMARY KEY (tag, agent_seq)
  );
  -- An agent's tags: for rewriting them, and for checking a tag filter on the agents a search
  -- walks, from the index alone.
  CREATE INDEX agent_tags_by_agent ON agent_tags (agent_seq, tag);

  -- Full text: each agent's search tokens (see search-terms.ts: the same as SQLite's FTS5
  -- unicode61 tokenizer makes of the name, description and tags), matched as prefixes by a GIN
  -- index. A table of its own, rewritten only when those fields change: the agents row is
  -- rewritten on every metrics flush, and the GIN index would be written with it.
  CREATE TABLE agent_search (
    agent_seq BIGINT PRIMARY KEY REFERENCES agents(seq),
    terms TSVECTOR NOT NULL
  );
  CREATE INDEX agent_search_terms ON agent_search USING gin (terms) WITH (fastupdate = off);

  CREATE TABLE price_history (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents(id),
    price_micros BIGINT NOT NULL,
    currency TEXT NOT NULL,
    tier TEXT NOT NULL,
    min_calls INTEGER NOT NULL,
    effective_from TEXT NOT NULL,
    effective_to TEXT
  );
  CREATE INDEX price_history_by_agent ON price_history (agent_id, effective_from);

  CREATE TABLE alert_channels (
    agent_id TEXT PRIMARY KEY REFERENCES agents(id),
    slack_webhook_url TEXT,
    email TEXT,
    success_rate_threshold DOUBLE PRECISION CHECK (success_rate_threshold BETWEEN 0 AND 1),
    updated_at TEXT NOT NULL
  );

  CREATE TABLE payout_destinations (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    provider TEXT NOT NULL,
    destination TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (account_id, provider)
  );
`;

/**
 * Migration 3: endpoint control proofs (SQLite migration 9). Listings made before it keep working
 * for 14 days (`endpoint_grace_until`) while the broker verifies their endpoints.
 */
export const ENDPOINT_PROOF_SCHEMA = `
  ALTER TABLE agents ADD COLUMN endpoint_verified_at TEXT;
  ALTER TABLE agents ADD COLUMN endpoint_challenge TEXT;
  ALTER TABLE agents ADD COLUMN endpoint_grace_until TEXT;
  ALTER TABLE agents ADD COLUMN endpoint_checked_at TEXT;
  ALTER TABLE agents ADD COLUMN endpoint_check_error TEXT;
  UPDATE agents SET endpoint_grace_until =
    to_char((now() + interval '14 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
  CREATE INDEX agents_endpoint_unproven ON agents (endpoint_checked_at, seq)
    WHERE endpoint_verified_at IS NULL AND endpoint_grace_until IS NOT NULL;
`;
