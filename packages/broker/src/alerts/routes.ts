import { isMercatoError, MercatoError } from "@mercato/protocol";
import { z } from "zod";
import { checkSellerEndpoint } from "../platform/endpoint-policy.js";
import { figure } from "../platform/http/figures.js";
import { type Route, routeDefiner } from "../platform/http/route.js";
import { DEFAULT_MONITORING_SETTINGS, SUCCESS_RATE_MIN_CALLS } from "../platform/settings.js";
import type { AlertedAgent, AlertsDeps } from "./deps.js";
import type { AlertChannelsRecord } from "./port.js";

const defineRoute = routeDefiner<AlertsDeps>();

const AgentParams = z.object({ id: z.string().max(64).describe("Agent id (agent_…)") });

/** An agent's alert channels: where its owner hears that it went down, came back or fails too often. */
export const alertRoutes: Route<AlertsDeps>[] = [
  defineRoute({
    method: "GET",
    url: "/agents/:id/alerts",
    operationId: "getAgentAlerts",
    tag: "Agents",
    summary: "An agent's alert channels",
    description: "Where alerts about the agent go. Owner only.",
    auth: "account",
    params: AgentParams,
    errors: ["AGENT_NOT_FOUND"],
    success: { status: 200, schema: "AlertChannels", description: "The alert channels" },
    async handler({ deps, caller, params }) {
      const agent = await ownAgent(deps, caller.account.id, params.id);
      return presentAlertChannels(agent.id, await deps.store.getAlertChannels(agent.id));
    },
  }),
  defineRoute({
    method: "PUT",
    url: "/agents/:id/alerts",
    operationId: "setAgentAlerts",
    tag: "Agents",
    summary: "Set an agent's alert channels",
    description: `Owner only. The broker checks each agent's \`GET {api_endpoint}/health\` every ${figure(DEFAULT_MONITORING_SETTINGS.healthIntervalMs / 1000)} s (default; the broker's \`--health-interval\`) and alerts once per change of state: when the agent fails ${DEFAULT_MONITORING_SETTINGS.failuresBeforeDown} checks in a row (down), when it answers again (recovered), and when the last hour's success rate over at least ${SUCCESS_RATE_MIN_CALLS} calls falls below \`success_rate_threshold\`. Alerts go to a Slack incoming webhook (https; a public host outside dev mode) and by e-mail (when the broker has an SMTP server). A field left out is kept; null removes it.`,
    auth: "account",
    params: AgentParams,
    body: "SetAlertChannelsRequest",
    errors: ["AGENT_NOT_FOUND"],
    success: { status: 200, schema: "AlertChannels", description: "The alert channels now in force" },
    async handler({ deps, caller, params, body }) {
      const agent = await ownAgent(deps, caller.account.id, params.id);
      if (typeof body.slack_webhook_url === "string") await checkWebhookUrl(body.slack_webhook_url, deps);
      const current = await deps.store.getAlertChannels(agent.id);
      const next = {
        slackWebhookUrl:
          body.slack_webhook_url === undefined ? (current?.slackWebhookUrl ?? null) : body.slack_webhook_url,
        email: body.email === undefined ? (current?.email ?? null) : body.email,
        successRateThreshold:
          body.success_rate_threshold === undefined
            ? (current?.successRateThreshold ?? null)
            : body.success_rate_threshold,
      };
      const empty =
        next.slackWebhookUrl === null && next.email === null && next.successRateThreshold === null;
      await deps.store.setAlertChannels(
        agent.id,
        empty ? null : { ...next, updatedAt: deps.clock.now().toISOString() },
      );
      return presentAlertChannels(agent.id, await deps.store.getAlertChannels(agent.id));
    },
  }),
];

function presentAlertChannels(agentId: string, channels: AlertChannelsRecord | undefined) {
  return {
    agent_id: agentId,
    slack_webhook_url: channels?.slackWebhookUrl ?? null,
    email: channels?.email ?? null,
    success_rate_threshold: channels?.successRateThreshold ?? null,
    updated_at: channels?.updatedAt ?? null,
  };
}

async function ownAgent(deps: AlertsDeps, accountId: string, id: string): Promise<AlertedAgent> {
  const agent = await deps.store.getAgent(id);
  if (!agent) throw new MercatoError("AGENT_NOT_FOUND", `No agent ${id}`);
  if (agent.ownerId !== accountId) {
    throw new MercatoError("FORBIDDEN", "Only the agent's owner can see or change its alerts");
  }
  return agent;
}

/**
 * The broker posts to the webhook, so it is held to the seller endpoints' policy: https (the
 * schema), no credentials, and outside dev mode a host whose every address is public.
 *
 * @throws MercatoError `VALIDATION_ERROR` on `slack_webhook_url`.
 */
async function checkWebhookUrl(url: string, deps: AlertsDeps): Promise<void> {
  try {
    await checkSellerEndpoint(url, { dev: deps.config.dev, resolveHost: deps.resolveHost });
  } catch (error) {
    if (!isMercatoError(error) || error.code !== "INVALID_ENDPOINT") throw error;
    const reason = error.message.replace(/^api_endpoint /, "");
    throw new MercatoError("VALIDATION_ERROR", `Invalid body: slack_webhook_url: ${reason}`, {
      details: { issues: [{ path: "slack_webhook_url", message: reason }] },
      cause: error,
    });
  }
}
