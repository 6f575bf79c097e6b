import type { AlertMessage } from "./messages.js";

/** The `fetch` the Slack sender uses (the standard one by default; tests pass their own). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** A delivery that did not go through; the notifier retries it. */
export class DeliveryError extends Error {
  override readonly name = "DeliveryError";
}

/**
 * Posts an alert to a Slack incoming webhook: `{"text": …}` as JSON, the subject in bold on the
 * first line. Redirects are not followed (Slack does not redirect webhooks; following one could
 * lead anywhere).
 *
 * @throws DeliveryError when Slack does not answer 2xx in time or cannot be reached.
 */
export async function sendSlackAlert(
  fetch: FetchLike,
  webhookUrl: string,
  message: AlertMessage,
  timeoutMs: number,
): Promise<void> {
  let response: Response;
  try {
    response = await fetch(webhookUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: slackText(message) }),
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    const reason =
      cause instanceof Error && cause.name === "TimeoutError" ? "timed out" : "could not connect";
    throw new DeliveryError(`Slack webhook ${reason}`, { cause });
  }
  // The body is short ("ok" or an error word); read it so the connection is reused, and say it.
  const text = await response.text().catch(() => "");
  if (response.status < 200 || response.status >= 300) {
    throw new DeliveryError(`Slack webhook answered HTTP ${response.status}: ${text.slice(0, 200)}`);
  }
}

/** The message as Slack's mrkdwn text. */
export function slackText(message: AlertMessage): string {
  return `*${escapeSlack(message.subject)}*\n${escapeSlack(message.body)}`;
}

/** Slack reads `&`, `<` and `>` as markup: escaped as its docs ask. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
