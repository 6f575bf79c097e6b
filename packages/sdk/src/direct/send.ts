import { DIRECT_HEADERS, directCallId } from "@mercato/protocol/direct";
import { MercatoError } from "@mercato/protocol/errors";
import { isDirectFailure } from "../call/retry-policy.js";
import { abortReason, type FetchFunction, MAX_TIMEOUT_MS } from "../client/request.js";
import type { Grant } from "../client/types.js";

/**
 * How much longer than the seller's timeout a direct call waits for the answer: the seller kit
 * answers `SELLER_TIMEOUT` itself when its handler overruns, and that answer needs time to arrive.
 */
export const DIRECT_TIMEOUT_MARGIN_MS = 1_000;

/** What became of one direct call. */
export type DirectOutcome =
  /** The seller answered 2xx with an output: the call is owed. */
  | { kind: "ok"; output: unknown }
  /** The seller answered a failure, which it counts as one too: nothing is owed. */
  | { kind: "failed"; error: MercatoError }
  /** The seller refused the grant or the voucher (`reason`) and did not run the call. */
  | { kind: "refused"; reason: string; error: MercatoError }
  /** No answer in time, or one that cannot be read: the seller may have counted a success. */
  | { kind: "unknown"; error: MercatoError };

/** One direct call to send. */
export interface DirectRequest {
  grant: Grant;
  sequence: number;
  /** The `Mercato-Voucher` header of this call. */
  voucher: string;
  input: unknown;
  /** The seller's time, ms; the request waits {@link DIRECT_TIMEOUT_MARGIN_MS} longer. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/**
 * Sends a direct call to the grant's endpoint and sorts the answer. Never throws, but the signal's
 * reason when the caller aborts (the outcome is then unknown too).
 */
export async function sendDirectCall(fetch: FetchFunction, call: DirectRequest): Promise<DirectOutcome> {
  const { grant, sequence, signal } = call;
  const details = { agent_id: grant.agent_id, grant_id: grant.grant_id, sequence, cost_usd: "0.000000" };
  const fail = (
    kind: "failed" | "unknown",
    code: "SELLER_ERROR" | "SELLER_TIMEOUT" | "SELLER_UNAVAILABLE",
    message: string,
    extra: Record<string, unknown> = {},
    cause?: unknown,
  ): DirectOutcome => ({
    kind,
    error: new MercatoError(code, `${message}; you were not charged`, {
      details: { ...details, ...extra },
      cause,
    }),
  });

  const timeout = AbortSignal.timeout(Math.min(call.timeoutMs + DIRECT_TIMEOUT_MARGIN_MS, MAX_TIMEOUT_MS));
  let response: Response;
  let text: string;
  try {
    response = await fetch(grant.endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        [DIRECT_HEADERS.grant]: grant.token,
        [DIRECT_HEADERS.voucher]: call.voucher,
      },
      body: JSON.stringify({
        // JSON has no undefined: an absent input is sent as null, as in proxy mode.
        input: call.input === undefined ? null : call.input,
        call_id: directCallId(grant.grant_id, sequence),
        timeout_ms: call.timeoutMs,
      }),
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
    });
    text = await response.text();
  } catch (cause) {
    if (signal?.aborted) throw abortReason(signal);
    return timeout.aborted
      ? fail("unknown", "SELLER_TIMEOUT", `The seller did not answer within ${call.timeoutMs} ms`, {}, cause)
      : fail(
          "unknown",
          "SELLER_UNAVAILABLE",
          `The seller could not be reached (${cause instanceof Error ? cause.message : String(cause)})`,
          {},
          cause,
        );
  }

  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // Read below as an answer without an output or an error without an envelope.
  }
  const status = response.status;
  if (response.ok) {
    if (typeof body === "object" && body !== null && "output" in body)
      return { kind: "ok", output: body.output };
    return fail("unknown", "SELLER_ERROR", `The seller answered HTTP ${status} without an output`, {
      seller_status: status,
    });
  }
  const error = MercatoError.fromResponse(status, body);
  const envelope = (body as { error?: { code?: unknown } } | undefined)?.error;
  const reason = error.details?.reason;
  if (envelope !== undefined && isDirectFailure(reason)) {
    return {
      kind: "refused",
      reason,
      error: new MercatoError(error.code, error.message, {
        status,
        details: { ...error.details, ...details },
      }),
    };
  }
  if (envelope?.code === "SELLER_TIMEOUT") return fail("failed", "SELLER_TIMEOUT", error.message);
  // A seller kit that caught its own output outside its schema says so: failing over beats retrying.
  const schemaMiss = envelope !== undefined && reason === "output_schema";
  return fail("failed", "SELLER_ERROR", `The seller answered HTTP ${status}`, {
    seller_status: status,
    ...(envelope !== undefined && { seller_error_code: envelope.code }),
    ...(schemaMiss && {
      reason,
      ...(Array.isArray(error.details?.issues) && { issues: error.details.issues }),
    }),
  });
}
