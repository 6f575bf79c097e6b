import * as z from "zod";
import { AgentId, Timestamp } from "./common.js";

/** A Slack incoming-webhook URL: https only (the broker also requires a public host outside dev mode). */
const SlackWebhookUrl = z
  .url({ protocol: /^https$/, error: "must be an https URL" })
  .max(2048)
  .describe("A Slack incoming-webhook URL (hooks.slack.com/services/…), https");

/**
 * `PUT /agents/{id}/alerts`: where the agent's owner is told when it goes down, comes back, or its
 * success rate drops. A field left out is kept; `null` removes it.
 */
export const SetAlertChannelsRequest = z
  .strictObject({
    slack_webhook_url: SlackWebhookUrl.nullable().optional(),
    email: z.email().max(254).nullable().optional().describe("Address the alerts are e-mailed to"),
    success_rate_threshold: z
      .number()
      .min(0)
      .max(1)
      .nullable()
      .optional()
      .describe(
        "Alert when the last hour's success rate (over at least 20 calls) falls below this, 0–1; null: never",
      ),
  })
  .refine(
    (patch) => Object.values(patch).some((value) => value !== undefined),
    "must set or clear at least one field",
  );

/** An agent's alert channels; every field null when none is set. */
export const AlertChannels = z.object({
  agent_id: AgentId,
  slack_webhook_url: z.string().nullable(),
  email: z.string().nullable(),
  success_rate_threshold: z.number().nullable(),
  updated_at: Timestamp.nullable().describe("When the channels last changed; null when none were ever set"),
});
