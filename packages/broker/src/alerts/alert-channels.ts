import type { SqlQueries } from "../platform/db/sql-queries.js";
import type { AlertChannelsRecord, AlertChannelsStore } from "./port.js";

/** An `alert_channels` row. */
export interface AlertChannelsRow {
  agent_id: string;
  slack_webhook_url: string | null;
  email: string | null;
  success_rate_threshold: number | null;
  updated_at: string;
}

/** The record of an `alert_channels` row. */
export function toAlertChannels(row: AlertChannelsRow): AlertChannelsRecord {
  return {
    agentId: row.agent_id,
    slackWebhookUrl: row.slack_webhook_url,
    email: row.email,
    successRateThreshold: row.success_rate_threshold,
    updatedAt: row.updated_at,
  };
}

/**
 * Sellers' alert channels (one row per agent that set any) on either store: its statements are the
 * same in both dialects. Each method is one statement, atomic on its own; setting is an upsert, so
 * two brokers setting at once leave one whole setting, and removing deletes the row.
 */
export function createAlertChannels(q: SqlQueries): AlertChannelsStore {
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
  };
}
