/**
 * Migration 7: fraud prevention.
 *
 * - `api_keys.suspended_at` and `suspend_reason`: an access key whose call rate burst far above its
 *   own baseline is suspended (it answers `KEY_SUSPENDED`) until its owner reinstates it.
 * - `daily_spend`: what each buyer's captured charges add up to per UTC day (the day of the
 *   capture), for the new-account daily limit. Like `monthly_spend`, the ledger adds to it once per
 *   batch from its in-memory sums; the audit checks it against the charges. Existing charges are
 *   counted in.
 */
export const FRAUD_MIGRATION = {
  version: 7,
  name: "key suspension and daily spending",
  sql: `
    ALTER TABLE api_keys ADD COLUMN suspended_at TEXT;
    ALTER TABLE api_keys ADD COLUMN suspend_reason TEXT;

    CREATE TABLE daily_spend (
      account_id TEXT NOT NULL,
      day TEXT NOT NULL,
      captured INTEGER NOT NULL,
      PRIMARY KEY (account_id, day)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO daily_spend (account_id, day, captured)
      SELECT buyer_id, substr(resolved_at, 1, 10), SUM(captured)
      FROM charges WHERE status = 'completed' GROUP BY buyer_id, substr(resolved_at, 1, 10);
  `,
} as const;
