import type { SqlQueries } from "../platform/db/sql-queries.js";
import type { PayoutDestinationStore } from "./port.js";

/**
 * Sellers' payout destinations (one row per account and provider) on either store: its statements
 * are the same in both dialects. Each method is one statement, atomic on its own; setting is an
 * upsert, so two brokers setting at once leave one whole setting, and removing deletes the row.
 */
export function createPayoutDestinations(q: SqlQueries): PayoutDestinationStore {
  return {
    async setPayoutDestination({ accountId, provider, destination, updatedAt }) {
      if (destination === null) {
        await q.run("DELETE FROM payout_destinations WHERE account_id = ? AND provider = ?", [
          accountId,
          provider,
        ]);
        return;
      }
      await q.run(
        `INSERT INTO payout_destinations (account_id, provider, destination, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (account_id, provider) DO UPDATE SET destination = excluded.destination,
           updated_at = excluded.updated_at`,
        [accountId, provider, destination, updatedAt],
      );
    },

    async getPayoutDestination(accountId, provider) {
      const row = await q.get<{ destination: string; updated_at: string }>(
        "SELECT destination, updated_at FROM payout_destinations WHERE account_id = ? AND provider = ?",
        [accountId, provider],
      );
      return row && { accountId, provider, destination: row.destination, updatedAt: row.updated_at };
    },
  };
}
