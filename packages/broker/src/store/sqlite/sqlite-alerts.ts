import type Database from "better-sqlite3";
import type { AlertChannelsRecord, Store } from "../types.js";

type Prepare = (sql: string) => Database.Statement;

interface AlertChannelsRow {
  agent_id: string;
  slack_webhook_url: string | null;
  email: string | null;
  success_rate_threshold: number | null;
  updated_at: string;
}

/** Agents' alert channels on SQLite (migration 6): single statements, each atomic on its own. */
export function createSqliteAlertChannels(
  prepare: Prepare,
): Pick<Store, "setAlertChannels" | "getAlertChannels"> {
  return {
    async setAlertChannels(agentId, channels) {
      if (channels === null) {
        prepare("DELETE FROM alert_channels WHERE agent_id = ?").run(agentId);
        return;
      }
      prepare(
        `INSERT INTO alert_channels (agent_id, slack_webhook_url, email, success_rate_threshold, updated_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (agent_id) DO UPDATE SET slack_webhook_url = excluded.slack_webhook_url,
           email = excluded.email, success_rate_threshold = excluded.success_rate_threshold,
           updated_at = excluded.updated_at`,
      ).run(
        agentId,
        channels.slackWebhookUrl,
        channels.email,
        channels.successRateThreshold,
        channels.updatedAt,
      );
    },

    async getAlertChannels(agentId) {
      const row = prepare("SELECT * FROM alert_channels WHERE agent_id = ?").get(agentId) as
        | AlertChannelsRow
        | undefined;
      return (row && {
        agentId: row.agent_id,
        slackWebhookUrl: row.slack_webhook_url,
        email: row.email,
        successRateThreshold: row.success_rate_threshold,
        updatedAt: row.updated_at,
      }) satisfies AlertChannelsRecord | undefined;
    },
  };
}
