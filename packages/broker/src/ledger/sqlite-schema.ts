/** Migration 2: the double-entry ledger, charges, spend caps, top-ups, settlements, signing keys. */
export const LEDGER_MIGRATION = {
  version: 2,
  name: "ledger, charges, top-ups, settlements and signing keys",
  sql: `
    CREATE TABLE ledger_accounts (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL CHECK (kind IN ('wallet', 'earnings', 'platform_revenue', 'external')),
      owner_id TEXT REFERENCES accounts(id),
      debits_pending INTEGER NOT NULL DEFAULT 0,
      debits_posted INTEGER NOT NULL DEFAULT 0,
      credits_pending INTEGER NOT NULL DEFAULT 0,
      credits_posted INTEGER NOT NULL DEFAULT 0,
      created_at TEXT NOT NULL
    ) STRICT;
    INSERT INTO ledger_accounts (id, kind, created_at) VALUES
      ('platform_revenue', 'platform_revenue', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
      ('external', 'external', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

    -- Every marketplace account has its wallet and earnings account from its first moment, in the
    -- same transaction: the ledger's writes then only update rows, and a transfer naming an
    -- account that does not exist fails its foreign key before anything moves.
    CREATE TRIGGER accounts_open_ledger_accounts AFTER INSERT ON accounts BEGIN
      INSERT INTO ledger_accounts (id, kind, owner_id, created_at) VALUES
        ('wallet:' || NEW.id, 'wallet', NEW.id, NEW.created_at),
        ('earnings:' || NEW.id, 'earnings', NEW.id, NEW.created_at);
    END;
    INSERT INTO ledger_accounts (id, kind, owner_id, created_at)
      SELECT 'wallet:' || id, 'wallet', id, created_at FROM accounts
      UNION ALL SELECT 'earnings:' || id, 'earnings', id, created_at FROM accounts;

    -- Immutable: rows are only ever inserted. A hold is pending; a capture or void names it in
    -- pending_id, and the unique index lets a hold be resolved exactly once. Callers choose ids;
    -- the ledger's own transfers (fees, expiries, top-ups, payouts) have ids starting "ledger:",
    -- which callers may not use.
    CREATE TABLE transfers (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      debit_account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
      credit_account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
      amount INTEGER NOT NULL CHECK (amount >= 0),
      kind TEXT NOT NULL CHECK (kind IN ('topup', 'hold', 'capture', 'void', 'fee', 'payout', 'refund')),
      pending_id TEXT,
      reference TEXT,
      created_at TEXT NOT NULL
    ) STRICT;
    CREATE UNIQUE INDEX transfers_resolve_once ON transfers (pending_id) WHERE kind IN ('capture', 'void');

    -- One row per hold: who pays whom for which agent, and how it resolved.
    CREATE TABLE charges (
      id TEXT PRIMARY KEY,
      buyer_id TEXT NOT NULL,
      seller_account_id TEXT NOT NULL,
      agent_id TEXT NOT NULL,
      key_id TEXT,
      held INTEGER NOT NULL,
      captured INTEGER NOT NULL DEFAULT 0,
      fee INTEGER NOT NULL DEFAULT 0,
      status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'voided')),
      expires_at TEXT NOT NULL,
      created_at TEXT NOT NULL,
      resolved_at TEXT
    ) STRICT, WITHOUT ROWID;
    -- Listed newest first, by walking these backwards: new charges then land at the end of each
    -- account's run, which splits index pages less than landing at its start.
    CREATE INDEX charges_by_buyer ON charges (buyer_id, created_at, id);
    CREATE INDEX charges_by_seller ON charges (seller_account_id, created_at, id);
    CREATE INDEX charges_open ON charges (expires_at) WHERE status = 'pending';

    CREATE TABLE spend_limits (
      account_id TEXT PRIMARY KEY REFERENCES accounts(id),
      monthly_cap INTEGER CHECK (monthly_cap >= 0)
    ) STRICT;
    CREATE TABLE monthly_spend (
      account_id TEXT NOT NULL,
      month TEXT NOT NULL,
      captured INTEGER NOT NULL,
      PRIMARY KEY (account_id, month)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE topups (
      id TEXT PRIMARY KEY,
      account_id TEXT NOT NULL REFERENCES accounts(id),
      amount INTEGER NOT NULL CHECK (amount > 0),
      provider TEXT NOT NULL,
      provider_ref TEXT,
      checkout_url TEXT,
      status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
      created_at TEXT NOT NULL,
      completed_at TEXT
    ) STRICT;
    CREATE UNIQUE INDEX topups_by_provider_ref ON topups (provider, provider_ref);
    CREATE INDEX topups_by_account ON topups (account_id, created_at);

    CREATE TABLE settlements (
      id TEXT PRIMARY KEY,
      account_id TEXT NOT NULL REFERENCES accounts(id),
      settlement_date TEXT NOT NULL,
      amount INTEGER NOT NULL CHECK (amount > 0),
      provider TEXT NOT NULL,
      provider_ref TEXT,
      status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed')),
      failure TEXT,
      created_at TEXT NOT NULL,
      paid_at TEXT,
      UNIQUE (account_id, settlement_date)
    ) STRICT;
    CREATE INDEX settlements_unpaid ON settlements (created_at) WHERE status <> 'paid';

    CREATE TABLE signing_keys (
      kid TEXT PRIMARY KEY,
      private_jwk TEXT NOT NULL,
      public_jwk TEXT NOT NULL,
      created_at TEXT NOT NULL
    ) STRICT;
  `,
} as const;
