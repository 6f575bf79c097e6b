/** The platform revenue and external accounts, which every ledger has from its start. */
export const LEDGER_SYSTEM_ACCOUNTS = `
  INSERT INTO ledger_accounts (id, kind, created_at) VALUES
    ('platform_revenue', 'platform_revenue', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
    ('external', 'external', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
`;

/** How many slot rows each non-wallet account's counters may be spread over. */
const SLOTS = 16;

/**
 * An INSERT that adds `rows` — `(account, debits pending, debits posted, credits pending, credits
 * posted)` — to this connection's slot of each account, in account order (so that two writers that
 * share a slot never wait for each other in a cycle). Rows of zeros are left out.
 */
export const addToSlots = (rows: string) => `
  INSERT INTO ledger_account_slots AS s (account_id, slot, debits_pending, debits_posted, credits_pending, credits_posted)
  SELECT v.account, pg_backend_pid() % ${SLOTS}, v.dq, v.dp, v.cq, v.cp
  FROM (VALUES ${rows}) AS v(account, dq, dp, cq, cp)
  WHERE (v.dq, v.dp, v.cq, v.cp) <> (0, 0, 0, 0)
  ORDER BY v.account
  ON CONFLICT (account_id, slot) DO UPDATE SET
    debits_pending = s.debits_pending + excluded.debits_pending, debits_posted = s.debits_posted + excluded.debits_posted,
    credits_pending = s.credits_pending + excluded.credits_pending, credits_posted = s.credits_posted + excluded.credits_posted`;

/**
 * The functions of the ledger's writes (see {@link LEDGER_SCHEMA}). A hold, a capture and a void
 * each lock what they check, read it, and then make every change in one statement: a transfer id
 * that is taken fails that statement whole (a unique_violation on the key of `transfers`, or of
 * `charges` for a hold), and the broker answers it as a replay or a conflict.
 */
const LEDGER_FUNCTIONS = `
  -- Adds to an account's counters: a wallet's row (which the caller has locked), another account's
  -- slot of this connection.
  CREATE FUNCTION ledger_apply(p_account TEXT, p_dq BIGINT, p_dp BIGINT, p_cq BIGINT, p_cp BIGINT)
  RETURNS void LANGUAGE plpgsql AS $$
  BEGIN
    IF starts_with(p_account, 'wallet:') THEN
      UPDATE ledger_accounts a SET debits_pending = a.debits_pending + p_dq, debits_posted = a.debits_posted + p_dp,
        credits_pending = a.credits_pending + p_cq, credits_posted = a.credits_posted + p_cp
      WHERE a.id = p_account;
    ELSE
      ${addToSlots("(p_account, p_dq, p_dp, p_cq, p_cp)")};
    END IF;
  END $$;

  -- A posted transfer (a credit, a top-up, a payout), once per id: false when the id is taken
  -- (nothing moved; the caller compares the transfer that holds it).
  CREATE FUNCTION ledger_post(p_id TEXT, p_debit TEXT, p_credit TEXT, p_amount BIGINT, p_kind TEXT,
                              p_pending_id TEXT, p_reference TEXT, p_at TEXT)
  RETURNS boolean LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM 1 FROM ledger_accounts a WHERE a.id IN (p_debit, p_credit) AND a.kind = 'wallet'
      ORDER BY a.id FOR NO KEY UPDATE;
    INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, reference, created_at)
    VALUES (p_id, p_debit, p_credit, p_amount, p_kind, p_pending_id, p_reference, p_at)
    ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
      RETURN false;
    END IF;
    IF p_debit < p_credit THEN
      PERFORM ledger_apply(p_debit, 0, p_amount, 0, 0);
      PERFORM ledger_apply(p_credit, 0, 0, 0, p_amount);
    ELSE
      PERFORM ledger_apply(p_credit, 0, 0, 0, p_amount);
      PERFORM ledger_apply(p_debit, 0, p_amount, 0, 0);
    END IF;
    RETURN true;
  END $$;

  -- Places a hold: 'placed'; 'refused' with the figures it was checked against (those of
  -- refuseHold); 'taken' when it was refused and its id is taken. Locks the wallet, then the key's
  -- spending (creating its row), and reads the rest after them: each statement sees every write
  -- made under those locks before it.
  CREATE FUNCTION ledger_hold(p_id TEXT, p_buyer TEXT, p_seller TEXT, p_agent TEXT, p_key TEXT,
                              p_key_cap BIGINT, p_daily_cap BIGINT, p_amount BIGINT, p_month TEXT, p_day TEXT,
                              p_expires_at TEXT, p_at TEXT,
                              OUT outcome TEXT, OUT available BIGINT, OUT held BIGINT, OUT cap BIGINT,
                              OUT spent BIGINT, OUT spent_today BIGINT, OUT key_spent BIGINT)
  LANGUAGE plpgsql AS $$
  DECLARE
    v_wallet TEXT := 'wallet:' || p_buyer;
    v_earnings TEXT := 'earnings:' || p_seller;
  BEGIN
    SELECT a.credits_posted - a.debits_posted - a.debits_pending, a.debits_pending INTO available, held
    FROM ledger_accounts a WHERE a.id = v_wallet FOR NO KEY UPDATE;
    IF FOUND THEN
      WITH k AS (
        INSERT INTO key_spend AS k (key_id) SELECT p_key WHERE p_key IS NOT NULL
        ON CONFLICT (key_id) DO UPDATE SET pending = k.pending
        RETURNING k.carried + k.pending + k.captured AS spent)
      SELECT (SELECT l.monthly_cap FROM spend_limits l WHERE l.account_id = p_buyer),
             (SELECT m.captured FROM monthly_spend m WHERE m.account_id = p_buyer AND m.month = p_month),
             (SELECT d.captured FROM daily_spend d WHERE d.account_id = p_buyer AND d.day = p_day),
             (SELECT k.spent FROM k)
      INTO cap, spent, spent_today, key_spent;
    END IF;
    IF available IS NULL OR available < p_amount
       OR (cap IS NOT NULL AND COALESCE(spent, 0) + held + p_amount > cap)
       OR (p_daily_cap IS NOT NULL AND COALESCE(spent_today, 0) + held + p_amount > p_daily_cap)
       OR (p_key_cap IS NOT NULL AND COALESCE(key_spent, 0) + p_amount > p_key_cap) THEN
      -- A replay of a hold that was placed is answered even when it could not be placed now.
      outcome := CASE WHEN EXISTS (SELECT 1 FROM transfers t WHERE t.id = p_id) THEN 'taken' ELSE 'refused' END;
      RETURN;
    END IF;
    WITH t AS (
           INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, kind, reference, created_at)
           VALUES (p_id, v_wallet, v_earnings, p_amount, 'hold', p_agent, p_at)),
         w AS (UPDATE ledger_accounts a SET debits_pending = a.debits_pending + p_amount WHERE a.id = v_wallet),
         s AS (${addToSlots("(v_earnings, 0::bigint, 0::bigint, p_amount, 0::bigint)")}),
         k AS (UPDATE key_spend k SET pending = k.pending + p_amount WHERE k.key_id = p_key)
    INSERT INTO charges (id, buyer_id, seller_account_id, agent_id, key_id, held, status, expires_at, created_at)
    VALUES (p_id, p_buyer, p_seller, p_agent, p_key, p_amount, 'pending', p_expires_at, p_at);
    outcome := 'placed';
  END $$;

  -- Captures (p_amount, paying p_fee as p_fee_id) or voids a hold: 'done' with the charge after;
  -- 'refused' with the charge as it was (missing, resolved, expired, or smaller than p_amount), or
  -- 'taken' when it was refused and its id is taken. Locks the charge, the wallet, then the key's
  -- spending, as a hold does.
  CREATE FUNCTION ledger_resolve(p_kind TEXT, p_id TEXT, p_hold_id TEXT, p_amount BIGINT, p_fee BIGINT,
                                 p_fee_id TEXT, p_month TEXT, p_day TEXT, p_at TEXT,
                                 OUT outcome TEXT, OUT charge JSON)
  LANGUAGE plpgsql AS $$
  DECLARE
    c charges%ROWTYPE;
    v_wallet TEXT;
    v_earnings TEXT;
  BEGIN
    SELECT * INTO c FROM charges x WHERE x.id = p_hold_id FOR NO KEY UPDATE;
    IF NOT FOUND OR c.status <> 'pending'
       OR (p_kind = 'capture' AND (c.expires_at <= p_at OR p_amount > c.held)) THEN
      outcome := CASE WHEN EXISTS (SELECT 1 FROM transfers t WHERE t.id = p_id) THEN 'taken' ELSE 'refused' END;
      charge := CASE WHEN c.id IS NULL THEN NULL ELSE row_to_json(c) END;
      RETURN;
    END IF;
    v_wallet := 'wallet:' || c.buyer_id;
    v_earnings := 'earnings:' || c.seller_account_id;
    PERFORM 1 FROM ledger_accounts a WHERE a.id = v_wallet FOR NO KEY UPDATE;
    IF c.key_id IS NOT NULL THEN
      PERFORM 1 FROM key_spend k WHERE k.key_id = c.key_id FOR NO KEY UPDATE;
    END IF;
    IF p_kind = 'capture' THEN
      WITH t AS (
             INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, reference, created_at)
             VALUES (p_id, v_wallet, v_earnings, p_amount, 'capture', p_hold_id, c.agent_id, p_at)),
           f AS (
             INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, reference, created_at)
             SELECT p_fee_id, v_earnings, 'platform_revenue', p_fee, 'fee', p_hold_id, c.agent_id, p_at WHERE p_fee > 0),
           w AS (
             UPDATE ledger_accounts a SET debits_pending = a.debits_pending - c.held, debits_posted = a.debits_posted + p_amount
             WHERE a.id = v_wallet),
           s AS (${addToSlots("(v_earnings, 0::bigint, p_fee, -c.held, p_amount), ('platform_revenue', 0, 0, 0, p_fee)")}),
           m AS (
             INSERT INTO monthly_spend AS m (account_id, month, captured) VALUES (c.buyer_id, p_month, p_amount)
             ON CONFLICT (account_id, month) DO UPDATE SET captured = m.captured + excluded.captured),
           d AS (
             INSERT INTO daily_spend AS d (account_id, day, captured) VALUES (c.buyer_id, p_day, p_amount)
             ON CONFLICT (account_id, day) DO UPDATE SET captured = d.captured + excluded.captured),
           k AS (UPDATE key_spend k SET pending = k.pending - c.held, captured = k.captured + p_amount WHERE k.key_id = c.key_id)
      UPDATE charges x SET captured = p_amount, fee = p_fee, status = 'completed', resolved_at = p_at
      WHERE x.id = p_hold_id RETURNING row_to_json(x.*) INTO charge;
    ELSE
      WITH t AS (
             INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, reference, created_at)
             VALUES (p_id, v_wallet, v_earnings, c.held, 'void', p_hold_id, c.agent_id, p_at)),
           w AS (UPDATE ledger_accounts a SET debits_pending = a.debits_pending - c.held WHERE a.id = v_wallet),
           s AS (${addToSlots("(v_earnings, 0::bigint, 0::bigint, -c.held, 0::bigint)")}),
           k AS (UPDATE key_spend k SET pending = k.pending - c.held WHERE k.key_id = c.key_id)
      UPDATE charges x SET status = 'voided', resolved_at = p_at
      WHERE x.id = p_hold_id RETURNING row_to_json(x.*) INTO charge;
    END IF;
    outcome := 'done';
  END $$;
`;

/**
 * PostgreSQL schema of the ledger: the SQLite migrations 2, 4 (key_spend) and 7 (daily_spend) in
 * one, and the functions the ledger's writes are made of. Money is BIGINT micro-USD. Every
 * marketplace account gets its wallet and earnings ledger accounts in the transaction that creates
 * it (a trigger), as on SQLite.
 *
 * Unlike SQLite, several brokers write at once, and a row being updated is locked until its
 * transaction commits. Two choices follow:
 *
 * - A wallet keeps its counters in its `ledger_accounts` row: every write to a wallet locks that row
 *   first (FOR NO KEY UPDATE, which leaves other transactions' foreign-key checks alone), so holds
 *   on one wallet are checked and placed one after the other, from any process. A CHECK refuses an
 *   overdrawn wallet besides.
 * - Every other account (earnings, platform revenue, external) is written by many buyers' charges
 *   at once: the one platform revenue row would make every capture in the marketplace wait for the
 *   one before it to commit. Their changes go to `ledger_account_slots` instead, into the slot of
 *   the writing connection (its backend pid modulo 16), so concurrent writers rarely meet; an
 *   account's counters are its row plus its slots (`ledger_balances`).
 *
 * A hold, a capture and a void are each one call of a function below: one round trip, and one
 * transaction, in which each statement sees what committed before it (read committed). They take
 * their locks in one order: the charge (to resolve it), the wallet, the key's spending; then they
 * write, in one statement, taking only rows no other writer of that wallet or key waits on (the
 * transfer id, the slots in account order). The rule that decides a hold is `refuseHold`'s
 * (ledger-rules.ts), written in SQL; the broker builds the refusal from the figures the function
 * returns with `refuseHold` itself, and a function refusing what `refuseHold` allows is a fault.
 */
export const LEDGER_SCHEMA = `
  CREATE TABLE ledger_accounts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('wallet', 'earnings', 'platform_revenue', 'external')),
    owner_id TEXT REFERENCES accounts(id),
    debits_pending BIGINT NOT NULL DEFAULT 0,
    debits_posted BIGINT NOT NULL DEFAULT 0,
    credits_pending BIGINT NOT NULL DEFAULT 0,
    credits_posted BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    CONSTRAINT wallet_not_overdrawn CHECK (kind <> 'wallet' OR credits_posted - debits_posted - debits_pending >= 0)
  );
  ${LEDGER_SYSTEM_ACCOUNTS}

  CREATE TABLE ledger_account_slots (
    account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
    slot SMALLINT NOT NULL,
    debits_pending BIGINT NOT NULL DEFAULT 0,
    debits_posted BIGINT NOT NULL DEFAULT 0,
    credits_pending BIGINT NOT NULL DEFAULT 0,
    credits_posted BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, slot)
  );
  CREATE VIEW ledger_balances AS
    SELECT a.id, a.kind, a.owner_id,
           a.debits_pending + s.debits_pending AS debits_pending, a.debits_posted + s.debits_posted AS debits_posted,
           a.credits_pending + s.credits_pending AS credits_pending, a.credits_posted + s.credits_posted AS credits_posted
    FROM ledger_accounts a
    CROSS JOIN LATERAL (
      SELECT COALESCE(SUM(x.debits_pending), 0)::bigint AS debits_pending, COALESCE(SUM(x.debits_posted), 0)::bigint AS debits_posted,
             COALESCE(SUM(x.credits_pending), 0)::bigint AS credits_pending, COALESCE(SUM(x.credits_posted), 0)::bigint AS credits_posted
      FROM ledger_account_slots x WHERE x.account_id = a.id
    ) s;

  CREATE FUNCTION open_ledger_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO ledger_accounts (id, kind, owner_id, created_at) VALUES
      ('wallet:' || NEW.id, 'wallet', NEW.id, NEW.created_at),
      ('earnings:' || NEW.id, 'earnings', NEW.id, NEW.created_at);
    RETURN NEW;
  END $$;
  CREATE TRIGGER accounts_open_ledger_accounts AFTER INSERT ON accounts
    FOR EACH ROW EXECUTE FUNCTION open_ledger_accounts();

  CREATE TABLE transfers (
    id TEXT PRIMARY KEY,
    debit_account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
    credit_account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
    amount BIGINT NOT NULL CHECK (amount >= 0),
    kind TEXT NOT NULL CHECK (kind IN ('topup', 'hold', 'capture', 'void', 'fee', 'payout', 'refund')),
    pending_id TEXT,
    reference TEXT,
    created_at TEXT NOT NULL
  );
  CREATE UNIQUE INDEX transfers_resolve_once ON transfers (pending_id) WHERE kind IN ('capture', 'void');

  CREATE TABLE charges (
    id TEXT PRIMARY KEY,
    buyer_id TEXT NOT NULL,
    seller_account_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    key_id TEXT,
    held BIGINT NOT NULL,
    captured BIGINT NOT NULL DEFAULT 0,
    fee BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'voided')),
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    resolved_at TEXT
  );
  CREATE INDEX charges_by_buyer ON charges (buyer_id, created_at, id);
  CREATE INDEX charges_by_seller ON charges (seller_account_id, created_at, id);
  CREATE INDEX charges_open ON charges (expires_at) WHERE status = 'pending';

  CREATE TABLE spend_limits (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id),
    monthly_cap BIGINT CHECK (monthly_cap >= 0)
  );
  CREATE TABLE monthly_spend (
    account_id TEXT NOT NULL,
    month TEXT NOT NULL,
    captured BIGINT NOT NULL,
    PRIMARY KEY (account_id, month)
  );
  CREATE TABLE daily_spend (
    account_id TEXT NOT NULL,
    day TEXT NOT NULL,
    captured BIGINT NOT NULL,
    PRIMARY KEY (account_id, day)
  );
  CREATE TABLE key_spend (
    key_id TEXT PRIMARY KEY,
    pending BIGINT NOT NULL DEFAULT 0,
    captured BIGINT NOT NULL DEFAULT 0,
    carried BIGINT NOT NULL DEFAULT 0 CHECK (carried >= 0),
    carried_from TEXT
  );

  CREATE TABLE topups (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    provider TEXT NOT NULL,
    provider_ref TEXT,
    checkout_url TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    created_at TEXT NOT NULL,
    completed_at TEXT
  );
  CREATE UNIQUE INDEX topups_by_provider_ref ON topups (provider, provider_ref);
  CREATE INDEX topups_by_account ON topups (account_id, created_at);

  CREATE TABLE settlements (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    settlement_date TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    provider TEXT NOT NULL,
    provider_ref TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed')),
    failure TEXT,
    created_at TEXT NOT NULL,
    paid_at TEXT,
    UNIQUE (account_id, settlement_date)
  );
  CREATE INDEX settlements_unpaid ON settlements (created_at) WHERE status <> 'paid';

  CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
${LEDGER_FUNCTIONS}`;
