import { addToSlots } from "./pg-schema.js";

/**
 * PostgreSQL migration: `ledger_hold` and `ledger_resolve` answer why they refused, as the result
 * code of ledger-rules.ts (its table states the precedence), instead of 'refused': the broker maps
 * the code to its error rather than working out again why the function refused. Same signatures,
 * same locks and writes as the functions of LEDGER_SCHEMA they replace.
 *
 * `ledger_hold`'s outcome: 'placed'; 'insufficient_funds', 'monthly_cap', 'daily_cap' or 'key_cap'
 * with the figures it was checked against; 'taken' when it was refused and its id is taken.
 * `ledger_resolve`'s outcome: 'done' with the charge after; 'no_hold', 'resolved', 'expired' or
 * 'exceeds_hold' with the charge as it was; 'taken' when it was refused and its id is taken.
 */
export const LEDGER_REFUSAL_CODES = `
  CREATE OR REPLACE FUNCTION ledger_hold(p_id TEXT, p_buyer TEXT, p_seller TEXT, p_agent TEXT, p_key TEXT,
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
    -- The hold rule, in the precedence of ledger-rules.ts.
    outcome := CASE
      WHEN available IS NULL OR available < p_amount THEN 'insufficient_funds'
      WHEN cap IS NOT NULL AND COALESCE(spent, 0) + held + p_amount > cap THEN 'monthly_cap'
      WHEN p_daily_cap IS NOT NULL AND COALESCE(spent_today, 0) + held + p_amount > p_daily_cap THEN 'daily_cap'
      WHEN p_key_cap IS NOT NULL AND COALESCE(key_spent, 0) + p_amount > p_key_cap THEN 'key_cap'
    END;
    IF outcome IS NOT NULL THEN
      -- A replay of a hold that was placed is answered even when it could not be placed now.
      IF EXISTS (SELECT 1 FROM transfers t WHERE t.id = p_id) THEN
        outcome := 'taken';
      END IF;
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

  CREATE OR REPLACE FUNCTION ledger_resolve(p_kind TEXT, p_id TEXT, p_hold_id TEXT, p_amount BIGINT, p_fee BIGINT,
                                 p_fee_id TEXT, p_month TEXT, p_day TEXT, p_at TEXT,
                                 OUT outcome TEXT, OUT charge JSON)
  LANGUAGE plpgsql AS $$
  DECLARE
    c charges%ROWTYPE;
    v_wallet TEXT;
    v_earnings TEXT;
  BEGIN
    SELECT * INTO c FROM charges x WHERE x.id = p_hold_id FOR NO KEY UPDATE;
    -- The resolution rule, in the precedence of ledger-rules.ts.
    outcome := CASE
      WHEN c.id IS NULL THEN 'no_hold'
      WHEN c.status <> 'pending' THEN 'resolved'
      WHEN p_kind = 'capture' AND c.expires_at <= p_at THEN 'expired'
      WHEN p_kind = 'capture' AND p_amount > c.held THEN 'exceeds_hold'
    END;
    IF outcome IS NOT NULL THEN
      IF EXISTS (SELECT 1 FROM transfers t WHERE t.id = p_id) THEN
        outcome := 'taken';
      END IF;
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
