import {
  type CallKeyResolver,
  DEFAULT_REPLAY_WINDOW_SECONDS,
  isMercatoError,
  MercatoError,
  SellerCallRequest,
  type VerifiedCall,
  verifyCallSignature,
} from "@mercato/protocol";
import { createMeter, PROMETHEUS_CONTENT_TYPE, type SellerMeter } from "../metering/index.js";
import {
  type StandardSchemaV1,
  summarizeIssues,
  type ValidationIssue,
  validateWith,
} from "../validation/index.js";
import { createBrokerKeyResolver, createReplayGuard, type ReplayGuard } from "../verification/index.js";
import type {
  SellerCallContext,
  SellerErrorContext,
  SellerErrorStage,
  SellerKitOptions,
  SellerKitRequest,
  SellerKitResponse,
} from "./types.js";

/** The kit's engine: the adapters only move bytes in and out of it. */
export interface SellerCore {
  /** Answers one request; never rejects. */
  handle(call: SellerKitRequest): Promise<SellerKitResponse>;
  /** The answer to a body an adapter stopped reading past `maxBodyBytes`. Counted as rejected. */
  tooLarge(): SellerKitResponse;
  /**
   * The answer to a request an adapter could not turn into a call: a `MercatoError` below 500 is
   * shown as is (counted as rejected), anything else is reported to `onError` and answered 500.
   */
  fail(error: unknown, stage: SellerErrorStage): SellerKitResponse;
  readonly maxBodyBytes: number;
  /** The metrics path (matched at the end of request paths), when metrics are on. */
  readonly metricsPath: string | undefined;
  readonly meter: SellerMeter;
}

/** Timers past 2^31 − 1 ms fire at once, so a longer `timeout_ms` is held at about 24 days. */
const MAX_TIMER_MS = 2_147_483_647;
const JSON_TYPE = "application/json; charset=utf-8";
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const HEALTHY = '{"status":"ok"}';
const UNHEALTHY = '{"status":"unhealthy"}';

/**
 * Builds the core from the kit's options, checking them.
 *
 * @throws MercatoError `VALIDATION_ERROR` when an option is invalid: no handler, neither `broker` nor
 * `jwks` while verifying, a `broker` that is not an http(s) URL, a bad window, body limit or metrics path.
 */
export function createSellerCore<Schema extends StandardSchemaV1>(
  options: SellerKitOptions<Schema>,
): SellerCore {
  if (typeof options.handler !== "function") throw invalidOption("handler must be a function");
  const verify = options.verify !== false;
  const windowSeconds = options.replayWindowSeconds ?? DEFAULT_REPLAY_WINDOW_SECONDS;
  if (!Number.isFinite(windowSeconds) || windowSeconds <= 0) {
    throw invalidOption(`replayWindowSeconds must be a positive number, got ${windowSeconds}`);
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw invalidOption(`maxBodyBytes must be a positive integer, got ${maxBodyBytes}`);
  }
  const metricsPath = resolveMetricsPath(options.metrics);
  const now = options.now ?? Date.now;
  const clock = options.now ?? (() => performance.now());

  let resolveKey: CallKeyResolver | undefined;
  let replay: ReplayGuard | undefined;
  if (verify) {
    if (options.jwks === undefined) {
      if (options.broker === undefined) {
        throw invalidOption(
          "give the broker's URL (broker) or its keys (jwks), or set verify: false for local development",
        );
      }
      if (!/^https?:\/\/[^/]/i.test(options.broker)) {
        throw invalidOption(`broker must be an http(s) URL, got ${options.broker}`);
      }
    }
    resolveKey = createBrokerKeyResolver({
      broker: options.broker,
      jwks: options.jwks,
      fetch: options.fetch,
      now,
    });
    replay = createReplayGuard(windowSeconds);
  } else {
    console.warn(
      "\n!!! mercato seller kit: verify is false. Calls are NOT checked for the broker's signature:\n" +
        "!!! anyone who can reach this endpoint can call your handler, and replays are not refused.\n" +
        "!!! Use verify: false for local development only.\n",
    );
  }

  const handler = options.handler as (input: unknown, context: SellerCallContext) => unknown;
  const inputSchema = options.input;
  const health = options.health;
  const onError = options.onError ?? defaultOnError;
  const meter = createMeter(now());

  const report = (error: unknown, context: SellerErrorContext) => {
    try {
      const result = onError(error, context);
      // A rejected promise from an async reporter must not become an unhandled rejection.
      if (result && typeof (result as Promise<void>).then === "function") {
        (result as Promise<void>).then(undefined, () => undefined);
      }
    } catch {
      // A failing error reporter must not turn the answer into a crash.
    }
  };

  const refuse = (error: MercatoError, requestId: string): SellerKitResponse => {
    meter.rejected();
    return failure(error, requestId);
  };

  const serveGet = async (target: string, requestId: string): Promise<SellerKitResponse | undefined> => {
    const path = pathOf(target);
    if (path.endsWith("/health")) {
      let healthy = true;
      if (health) {
        try {
          healthy = (await health()) !== false;
        } catch (error) {
          healthy = false;
          report(error, { stage: "health", requestId, callId: undefined, timeoutMs: undefined });
        }
      }
      return respond(healthy ? 200 : 503, healthy ? HEALTHY : UNHEALTHY, requestId);
    }
    if (metricsPath !== undefined && path.endsWith(metricsPath)) {
      return {
        status: 200,
        headers: headersFor(requestId, PROMETHEUS_CONTENT_TYPE),
        body: meter.prometheus(),
      };
    }
    return undefined;
  };

  const serveCall = async (call: SellerKitRequest, requestId: string): Promise<SellerKitResponse> => {
    if (call.body.byteLength > maxBodyBytes) return refuse(tooLargeError(maxBodyBytes), requestId);

    let verified: VerifiedCall | undefined;
    if (resolveKey && replay) {
      try {
        verified = await verifyCallSignature(
          { method: call.method, path: call.target, body: call.body, header: call.headers },
          { resolveKey, now: now(), windowSeconds },
        );
      } catch (error) {
        if (isMercatoError(error) && error.code === "UNAUTHENTICATED") return refuse(error, requestId);
        report(error, { stage: "verification", requestId, callId: undefined, timeoutMs: undefined });
        return refuse(
          new MercatoError("SERVICE_UNAVAILABLE", "The seller cannot check the call's signature right now", {
            details: { reason: "keys_unavailable" },
          }),
          requestId,
        );
      }
      if (!replay.remember(verified.callId, verified.timestamp, now())) {
        return refuse(replayed(verified.callId), requestId);
      }
    }

    let body: unknown;
    try {
      body = JSON.parse(utf8Decoder.decode(call.body));
    } catch {
      return refuse(new MercatoError("INVALID_JSON", "The body is not valid JSON"), requestId);
    }
    const parsed = SellerCallRequest.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join("."),
        message: issue.message,
      }));
      return refuse(
        new MercatoError("VALIDATION_ERROR", `Invalid call: ${summarizeIssues(issues, "body")}`, {
          details: { issues },
        }),
        requestId,
      );
    }
    const { input, call_id: callId, timeout_ms: timeoutMs } = parsed.data;
    if (verified && verified.callId !== callId) {
      return refuse(
        new MercatoError("UNAUTHENTICATED", "The body's call_id is not the signed mercato-call-id", {
          details: { reason: "bad_signature" },
        }),
        requestId,
      );
    }

    const started = clock();
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(
          new DOMException(`The call's timeout_ms (${timeoutMs} ms) has passed`, "TimeoutError"),
        ),
      Math.min(timeoutMs, MAX_TIMER_MS),
    );
    const external = call.signal;
    const onGone = () => controller.abort(new DOMException("The caller went away", "AbortError"));
    if (external) {
      if (external.aborted) onGone();
      else external.addEventListener("abort", onGone, { once: true });
    }
    const context: SellerCallContext = {
      callId,
      timeoutMs,
      signal: controller.signal,
      verified: verified && { kid: verified.kid, timestamp: verified.timestamp },
      requestId,
    };

    try {
      let value = input;
      if (inputSchema) {
        const checked = await validateWith(inputSchema, input);
        if (!checked.ok) {
          meter.call("failure", clock() - started);
          return failure(invalidInput(checked.issues), requestId);
        }
        value = checked.value;
      }
      const output = await handler(value, context);
      if (typeof output === "function" || typeof output === "symbol") {
        throw new TypeError(`The handler returned a ${typeof output}, which JSON cannot carry`);
      }
      // Serialised here so that an output JSON cannot carry (a bigint, a cycle) counts as a failure.
      const text = JSON.stringify({ output: output === undefined ? null : output });
      meter.call("success", clock() - started);
      return respond(200, text, requestId);
    } catch (error) {
      meter.call("failure", clock() - started);
      if (isMercatoError(error) && error.status >= 400 && error.status < 500) {
        // The seller chose to show this error to the caller.
        return failure(error, requestId);
      }
      report(error, { stage: "handler", requestId, callId, timeoutMs });
      return failure(new MercatoError("INTERNAL_ERROR", "The seller's handler failed"), requestId);
    } finally {
      clearTimeout(timer);
      external?.removeEventListener("abort", onGone);
    }
  };

  const handle = async (call: SellerKitRequest): Promise<SellerKitResponse> => {
    const requestId = newRequestId();
    try {
      const method = call.method.toUpperCase();
      if (method === "POST") return await serveCall(call, requestId);
      if (method === "GET") {
        const served = await serveGet(call.target, requestId);
        if (served) return served;
      }
      return failure(
        new MercatoError("METHOD_NOT_ALLOWED", `${method} is not served here: POST a call`),
        requestId,
        "POST",
      );
    } catch (error) {
      // Unreachable unless the kit has a bug; the caller still gets an envelope.
      report(error, { stage: "request", requestId, callId: undefined, timeoutMs: undefined });
      return failure(new MercatoError("INTERNAL_ERROR", "The seller kit failed"), requestId);
    }
  };

  return {
    handle,
    tooLarge: () => refuse(tooLargeError(maxBodyBytes), newRequestId()),
    fail(error, stage) {
      const requestId = newRequestId();
      if (isMercatoError(error) && error.status < 500) return refuse(error, requestId);
      report(error, { stage, requestId, callId: undefined, timeoutMs: undefined });
      const shown =
        isMercatoError(error) && error.code === "INTERNAL_ERROR"
          ? error
          : new MercatoError("INTERNAL_ERROR", "The seller kit failed");
      return failure(shown, requestId);
    },
    maxBodyBytes,
    metricsPath,
    meter,
  };
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

function defaultOnError(error: unknown, context: SellerErrorContext): void {
  const call = context.callId === undefined ? "" : ` on call ${context.callId}`;
  console.error(`mercato seller kit: ${context.stage} failed${call} (request ${context.requestId})`, error);
}

function newRequestId(): string {
  return `req_${crypto.randomUUID().replaceAll("-", "")}`;
}

/** The path of a request target, without its query and trailing slashes. */
function pathOf(target: string): string {
  const query = target.indexOf("?");
  let path = query === -1 ? target : target.slice(0, query);
  while (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  return path;
}

function resolveMetricsPath(metrics: SellerKitOptions["metrics"]): string | undefined {
  if (!metrics) return undefined;
  if (metrics === true) return "/metrics";
  const path = pathOf(metrics.path);
  if (!path.startsWith("/") || path === "/") {
    throw invalidOption(`metrics.path must be a path such as /metrics, got ${metrics.path}`);
  }
  return path;
}

function replayed(callId: string): MercatoError {
  return new MercatoError(
    "UNAUTHENTICATED",
    `The call ${callId} was already received: a call is served once`,
    {
      details: { reason: "replayed" },
    },
  );
}

function invalidInput(issues: ValidationIssue[]): MercatoError {
  return new MercatoError("VALIDATION_ERROR", `Invalid input: ${summarizeIssues(issues, "input")}`, {
    details: { issues },
  });
}

function tooLargeError(maxBodyBytes: number): MercatoError {
  return new MercatoError("PAYLOAD_TOO_LARGE", `The body is larger than ${maxBodyBytes} bytes`, {
    details: { max_bytes: maxBodyBytes },
  });
}

function invalidOption(message: string): MercatoError {
  return new MercatoError("VALIDATION_ERROR", `sellerKit: ${message}`);
}

function headersFor(requestId: string, contentType = JSON_TYPE): Record<string, string> {
  return { "content-type": contentType, "x-request-id": requestId };
}

function respond(status: number, body: string, requestId: string): SellerKitResponse {
  return { status, headers: headersFor(requestId), body };
}

function failure(error: MercatoError, requestId: string, allow?: string): SellerKitResponse {
  const response = respond(error.status, JSON.stringify(error.toEnvelope(requestId)), requestId);
  if (allow) response.headers.allow = allow;
  return response;
}
