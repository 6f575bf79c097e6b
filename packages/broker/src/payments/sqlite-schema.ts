/**
 * Migration 3: where sellers are paid. One row per account and payment provider (a Stripe
 * connected account id for `stripe`); removing a destination deletes its row.
 */
export const PAYOUT_MIGRATION = {
  version: 3,
  name: "sellers' payout destinations",
  sql: `
    CREATE TABLE payout_destinations (
      account_id TEXT NOT NULL REFERENCES accounts(id),
      provider TEXT NOT NULL,
      destination TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      PRIMARY KEY (account_id, provider)
    ) STRICT, WITHOUT ROWID;
  `,
} as const;
