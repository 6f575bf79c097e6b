// The alerts module owns sellers' alert channels (an agent's Slack webhook, e-mail and success-rate
// threshold): the record and the store interface here, their SQL (`alert-channels.ts`), the routes
// that set them, and the notifier that renders and delivers alerts (agent down, recovered, low
// success rate; key suspended) with retries. What raises an alert lives above (metrics, fraud).

/** Where a seller wants alerts about an agent. */
export interface AlertChannelsRecord {
  agentId: string;
  /** A Slack incoming-webhook URL. */
  slackWebhookUrl: string | null;
  email: string | null;
  /** Alert when the last hour's success rate falls below this (0–1); null: never. */
  successRateThreshold: number | null;
  updatedAt: string;
}

/** Sellers' alert channels, per agent. */
export interface AlertChannelsStore {
  /** Sets (or with null removes) an agent's alert channels. */
  setAlertChannels(agentId: string, channels: Omit<AlertChannelsRecord, "agentId"> | null): Promise<void>;
  getAlertChannels(agentId: string): Promise<AlertChannelsRecord | undefined>;
}
