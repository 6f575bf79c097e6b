import type Database from "better-sqlite3";
import type { PayoutDestinationStore } from "../types.js";

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

type Prepare = (sql: string) => Database.Statement;

/** The payout destinations on SQLite: single statements, each atomic on its own. */
export function createSqlitePayoutDestinations(prepare: Prepare): PayoutDestinationStore {
  return {
    async setPayoutDestination({ accountId, provider, destination, updatedAt }) {
      if (destination === null) {
        prepare("DELETE FROM payout_destinations WHERE account_id = ? AND provider = ?").run(
          accountId,
          provider,
        );
        return;
      }
      prepare(
        `INSERT INTO payout_destinations (account_id, provider, destination, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (account_id, provider) DO UPDATE SET destination = excluded.destination, updated_at = excluded.updated_at`,
      ).run(accountId, provider, destination, updatedAt);
    },

    async getPayoutDestination(accountId, provider) {
      const row = prepare(
        "SELECT destination, updated_at FROM payout_destinations WHERE account_id = ? AND provider = ?",
      ).get(accountId, provider) as { destination: string; updated_at: string } | undefined;
      return row && { accountId, provider, destination: row.destination, updatedAt: row.updated_at };
    },
  };
}
