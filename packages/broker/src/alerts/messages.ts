import { healthUrl } from "../platform/health-url.js";
import type { AlertEvent } from "./types.js";

/** An alert as people read it: a one-line subject and a plain-text body. */
export interface AlertMessage {
  subject: string;
  body: string;
}

/** What the notifier looked up about an event's subject, for the message. */
export interface AlertContext {
  /** The agent's name and endpoint, when the event names an agent that still exists. */
  agent?: { id: string; name: string; apiEndpoint: string };
  /** The suspended key's visible prefix and name (key events). */
  key?: { prefix: string; name: string | null };
}

/**
 * Writes an alert: what happened, when, to which agent or key, and what to do about it. Plain
 * text, so that the same words serve e-mail and Slack.
 */
export function renderAlert(event: AlertEvent, context: AlertContext = {}): AlertMessage {
  const message = render(event, context);
  if (event.kind === "key_suspended") return message;
  return {
    subject: message.subject,
    body: `${message.body}\n\nYou get this alert because the agent's owner set this channel (PUT /agents/${event.agentId}/alerts changes or removes it).`,
  };
}

function render(event: AlertEvent, context: AlertContext): AlertMessage {
  switch (event.kind) {
    case "agent_down": {
      const agent = agentLabel(event.agentId, context);
      return {
        subject: `[Mercato] Agent ${agent.short} is down`,
        body: [
          `Agent ${agent.long} is down: its health check failed ${event.consecutiveFailures} times in a row, the last at ${event.at}.`,
          "",
          `The broker checks GET ${healthUrlOf(context)} and expects an HTTP 2xx answer in time; an error status, a timeout or a refused connection counts as a failure. The marketplace shows the agent as down until a check succeeds again.`,
          "",
          "What to do: make sure the service behind the endpoint is running and that its /health path answers 2xx (the seller kit serves it for you). The broker keeps checking and tells you once it is back up. You will not be alerted again while it stays down.",
        ].join("\n"),
      };
    }
    case "agent_recovered": {
      const agent = agentLabel(event.agentId, context);
      return {
        subject: `[Mercato] Agent ${agent.short} is back up`,
        body: [
          `Agent ${agent.long} is back up: its health check at ${healthUrlOf(context)} succeeded at ${event.at}.`,
          "",
          "The marketplace lists it as active again. Nothing to do, unless you want to find out why it went down.",
        ].join("\n"),
      };
    }
    case "low_success_rate": {
      const agent = agentLabel(event.agentId, context);
      const rate = percent(event.successRate);
      const threshold = percent(event.threshold);
      return {
        subject: `[Mercato] Agent ${agent.short}: success rate ${rate} in the last hour`,
        body: [
          `Agent ${agent.long} succeeded on ${rate} of its ${event.calls} calls in the hour up to ${event.at}, below your alert threshold of ${threshold}.`,
          "",
          "Failed calls are not charged to buyers, and a lower success rate raises the agent's cost per success, which moves it down in search.",
          "",
          "What to do: look at your service's logs for the errors or timeouts of the last hour (a non-2xx answer, a body without an \"output\" field, or an answer slower than the caller's timeout all count as failures). You will be alerted again only after the rate has recovered above the threshold and dropped once more.",
        ].join("\n"),
      };
    }
    case "key_suspended": {
      const key = context.key
        ? `${context.key.prefix}…${context.key.name ? ` ("${context.key.name}")` : ""} (${event.keyId})`
        : event.keyId;
      const agent = event.agentId === null ? undefined : agentLabel(event.agentId, context);
      return {
        subject: `[Mercato] Access key ${context.key ? `${context.key.prefix}…` : event.keyId} was suspended`,
        body: [
          `Your access key ${key}${agent ? ` for agent ${agent.long}` : ""} was suspended at ${event.at}.`,
          `Reason: ${event.reason}`,
          "",
          "Calls with this key are refused with KEY_SUSPENDED until it is reinstated; no money moves on a refused call.",
          "",
          `What to do: if the calls were yours, reinstate the key with POST /keys/${event.keyId}/reinstate (with your account key). If they were not, the key may have leaked: revoke or rotate it (DELETE /keys/${event.keyId}, POST /keys/${event.keyId}/rotate) and check where the old key was stored.`,
        ].join("\n"),
      };
    }
  }
}

function agentLabel(agentId: string, context: AlertContext): { short: string; long: string } {
  const name = context.agent?.id === agentId ? context.agent.name : undefined;
  return name === undefined
    ? { short: agentId, long: agentId }
    : { short: JSON.stringify(name), long: `${JSON.stringify(name)} (${agentId})` };
}

function healthUrlOf(context: AlertContext): string {
  if (!context.agent) return "{api_endpoint}/health";
  try {
    return healthUrl(context.agent.apiEndpoint);
  } catch {
    return `${context.agent.apiEndpoint}/health`;
  }
}

function percent(rate: number): string {
  return `${(Math.round(rate * 1000) / 10).toString()}%`;
}
