import { MercatoError, SellerCallRequest } from "@mercato/protocol";

/** What a seller's handler learns about the call besides its input. */
export interface SellerCallContext {
  /** The call's id (`call_id`), the same on every retry of the call. */
  callId: string;
  /** How long the caller waits for the answer (`timeout_ms`). */
  timeoutMs: number;
  /** Aborts when `timeoutMs` has passed or the caller goes away: stop work and throw. */
  signal: AbortSignal;
}

/**
 * The seller's own code: takes the buyer's input (any JSON value, unchecked: validate it) and
 * returns the output, any JSON value (`undefined` is sent as `null`).
 */
export type SellerCallHandler = (input: unknown, context: SellerCallContext) => unknown;

/** A Web-standard fetch handler, as Deno, Bun, Cloudflare Workers, Hono and `node:http` adapters take. */
export type SellerFetchHandler = (request: Request) => Promise<Response>;

/** Options of {@link createSellerHandler}. */
export interface CreateSellerHandlerOptions {
  /** The seller's code, called once per valid call. */
  handler: SellerCallHandler;
  /**
   * Sees every error the handler throws (the caller only gets a generic 500). By default it is
   * written with `console.error`.
   */
  onError?: (error: unknown, context: SellerCallContext) => void;
}

const MAX_TIMER_MS = 2_147_483_647;
const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

/**
 * Wraps a seller's handler in the seller protocol: `POST <api_endpoint>` with
 * `{"input", "call_id", "timeout_ms"}` answers `{"output"}`, and `GET <api_endpoint>/health`
 * answers `{"status": "ok"}` for the broker's health checks. A body that is not JSON answers 400
 * `INVALID_JSON`, one that does not match the protocol 400 `VALIDATION_ERROR`, a handler that
 * throws 500 `INTERNAL_ERROR` without its message or stack; every error is the protocol's envelope.
 *
 * Not done yet: the caller is NOT verified. Any client that can reach the endpoint can call the
 * handler; the broker's request signatures, grants and vouchers are checked from the invoke issue
 * on. Until then, do not expose a handler that costs money to the public internet.
 *
 * @example
 * import { createSellerHandler } from "@mercato/seller-kit";
 *
 * const handle = createSellerHandler({
 *   handler: async (input) => ({ echo: input }),
 * });
 * // Deno.serve(handle), Bun.serve({ fetch: handle }), or export default { fetch: handle } in a worker.
 */
export function createSellerHandler(options: CreateSellerHandlerOptions): SellerFetchHandler {
  const onError =
    options.onError ??
    ((error: unknown, context: SellerCallContext) => {
      console.error(`mercato seller handler failed on call ${context.callId}`, error);
    });

  return async (request) => {
    const requestId = `req_${crypto.randomUUID().replaceAll("-", "")}`;
    const path = new URL(request.url).pathname.replace(/\/+$/, "");

    if (request.method === "GET" && (path === "/health" || path.endsWith("/health"))) {
      return respond(200, JSON.stringify({ status: "ok" }), requestId);
    }
    if (request.method !== "POST") {
      return failure(
        new MercatoError("METHOD_NOT_ALLOWED", `${request.method} is not served here: POST a call`),
        requestId,
        { allow: "POST" },
      );
    }

    let body: unknown;
    try {
      body = JSON.parse(await request.text());
    } catch {
      return failure(new MercatoError("INVALID_JSON", "The body is not valid JSON"), requestId);
    }
    const parsed = SellerCallRequest.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join("."),
        message: issue.message,
      }));
      const summary = issues.map((issue) => `${issue.path || "body"}: ${issue.message}`).join("; ");
      return failure(
        new MercatoError("VALIDATION_ERROR", `Invalid call: ${summary}`, { details: { issues } }),
        requestId,
      );
    }

    const { input, call_id: callId, timeout_ms: timeoutMs } = parsed.data;
    const context: SellerCallContext = {
      callId,
      timeoutMs,
      // Timers past 2^31 - 1 ms fire at once in Node, so a huge timeout is held at about 24 days.
      signal: AbortSignal.any([request.signal, AbortSignal.timeout(Math.min(timeoutMs, MAX_TIMER_MS))]),
    };
    let text: string;
    try {
      const output = await options.handler(input, context);
      // Serialised here so that an output JSON cannot carry (a bigint, a cycle) counts as a failure.
      text = JSON.stringify({ output: output ?? null });
    } catch (error) {
      try {
        onError(error, context);
      } catch {
        // A failing error reporter must not turn the 500 into an unhandled rejection.
      }
      return failure(new MercatoError("INTERNAL_ERROR", "The seller's handler failed"), requestId);
    }
    return respond(200, text, requestId);
  };
}

function failure(error: MercatoError, requestId: string, headers: Record<string, string> = {}): Response {
  return respond(error.status, JSON.stringify(error.toEnvelope(requestId)), requestId, headers);
}

function respond(
  status: number,
  text: string,
  requestId: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(text, { status, headers: { ...JSON_HEADERS, "x-request-id": requestId, ...headers } });
}
