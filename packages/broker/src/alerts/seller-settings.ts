import type { Store } from "../app/store.js";
import type { PayoutDestinationStore } from "../payments/port.js";
import { type AlertChannelsRow, toAlertChannels } from "../registry/rows.js";

/**
 * The two calls {@link createSellerSettings} needs of a store: SQL with `?` placeholders, which
 * the PostgreSQL store numbers. Its statements are the same in both dialects.
 */
export interface SettingsQueries {
  run(sql: string, params: readonly unknown[]): Promise<void>;
  get<R extends object>(sql: string, params: readonly unknown[]): Promise<R | undefined>;
}

/** What sellers set about their agents and accounts: alert channels and payout destinations. */
export type SellerSettings = Pick<Store, "setAlertChannels" | "getAlertChannels"> & PayoutDestinationStore;

/**
 * Sellers' alert channels (one row per agent that set any) and payout destinations (one row per
 * account and provider) on either store. Each method is one statement, atomic on its own; setting
 * is an upsert, so two brokers setting at once leave one whole setting, and removing deletes the row.
 */
export function createSellerSettings(q: SettingsQueries): SellerSettings {
  return {
    async setAlertChannels(agentId, channels) {
      if (channels === null) {
        await q.run("DELETE FROM alert_channels WHERE agent_id = ?", [agentId]);
        return;
      }
      await q.run(
        `INSERT INTO alert_channels (agent_id, slack_webhook_url, email, success_rate_threshold, updated_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (agent_id) DO UPDATE SET slack_webhook_url = excluded.slack_webhook_url,
           email = excluded.email, success_rate_threshold = excluded.success_rate_threshold,
           updated_at = excluded.updated_at`,
        [
          agentId,
          channels.slackWebhookUrl,
          channels.email,
          channels.successRateThreshold,
          channels.updatedAt,
        ],
      );
    },

    async getAlertChannels(agentId) {
      const row = await q.get<AlertChannelsRow>(
        `SELECT agent_id, slack_webhook_url, email, success_rate_threshold, updated_at FROM alert_channels
         WHERE agent_id = ?`,
        [agentId],
      );
      return row && toAlertChannels(row);
    },

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
