import { isErrorCode, MercatoError } from "@mercato/protocol";
import { BROKER_TIMEOUT_MS, brokerUrl, type FetchLike } from "../verification/index.js";

/** The broker's answer to a POST: its status and its JSON body (`undefined` when it is not JSON). */
export interface BrokerAnswer {
  status: number;
  ok: boolean;
  body: unknown;
}

/**
 * POSTs `body` as JSON to a broker route (`/grants/…/redeem`), with the kit's `requestId` as
 * `x-request-id` and, when given, the seller's account key. Rejects only when the broker cannot be
 * reached (or takes longer than 10 s); an error answer resolves.
 */
export type BrokerPost = (
  path: string,
  body: unknown,
  requestId: string,
  apiKey: string | undefined,
) => Promise<BrokerAnswer>;

/** A {@link BrokerPost} for the broker at `broker`, through `fetch` (default: the global one). */
export function createBrokerPost(broker: string, fetch: FetchLike | undefined): BrokerPost {
  const send = fetch ?? (globalThis.fetch as FetchLike);
  return async (path, body, requestId, apiKey) => {
    const headers: Record<string, string> = {
      accept: "application/json",
      "content-type": "application/json",
      "x-request-id": requestId,
    };
    if (apiKey !== undefined) headers.authorization = `Bearer ${apiKey}`;
    const response = await send(brokerUrl(broker, path), {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(BROKER_TIMEOUT_MS),
    });
    let json: unknown;
    try {
      json = await response.json();
    } catch {
      json = undefined;
    }
    return { status: response.status, ok: response.ok, body: json };
  };
}

interface EnvelopeLike {
  error?: { code?: unknown; message?: unknown; details?: unknown; request_id?: unknown };
}

/** `details.reason` of an error envelope, if the body is one. */
export function reasonOf(body: unknown): unknown {
  const details = (body as EnvelopeLike | null | undefined)?.error?.details;
  return details !== null && typeof details === "object"
    ? (details as { reason?: unknown }).reason
    : undefined;
}

/** A broker error answer as a `MercatoError` for `onError`: the envelope's code, message and details. */
export function brokerFailure(route: string, answer: BrokerAnswer): MercatoError {
  const error = (answer.body as EnvelopeLike | null | undefined)?.error;
  const message = typeof error?.message === "string" ? `: ${error.message}` : "";
  const details = error?.details;
  return new MercatoError(
    isErrorCode(error?.code) ? error.code : "SERVICE_UNAVAILABLE",
    `The broker answered ${route} with HTTP ${answer.status}${message}`,
    {
      status: answer.status,
      ...(details !== null && typeof details === "object"
        ? { details: details as Record<string, unknown> }
        : {}),
      ...(typeof error?.request_id === "string" ? { requestId: error.request_id } : {}),
    },
  );
}
