/**
 * Migration 6: where sellers want alerts about their agents. One row per agent that set any
 * channel; removing the channels deletes the row.
 */
export const ALERTS_MIGRATION = {
  version: 6,
  name: "agents' alert channels",
  sql: `
    CREATE TABLE alert_channels (
      agent_id TEXT PRIMARY KEY REFERENCES agents(id),
      slack_webhook_url TEXT,
      email TEXT,
      success_rate_threshold REAL CHECK (success_rate_threshold BETWEEN 0 AND 1),
      updated_at TEXT NOT NULL
    ) STRICT, WITHOUT ROWID;
  `,
} as const;
