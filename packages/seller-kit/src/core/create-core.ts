import {
  type CallKeyResolver,
  challengeTokenOf,
  DEFAULT_REPLAY_WINDOW_SECONDS,
  DIRECT_HEADERS,
  directCallId,
  directError,
  exceedsJsonDepth,
  grantRefusalError,
  isMercatoError,
  MAX_JSON_DEPTH,
  MercatoError,
  SellerCallRequest,
  type VerifiedCall,
  verifyCallSignature,
} from "@mercato/protocol";
import { CONTRACT_PATH, deriveContract, type SellerContract } from "../contract/index.js";
import { createDirectMode, type DirectCredentials, type DirectMode, MAX_TIMER_MS } from "../direct/index.js";
import { createListingMatcher, wrongListing } from "../listing/index.js";
import {
  createMeter,
  PROMETHEUS_CONTENT_TYPE,
  type SellerKitStats,
  type SellerMeter,
} from "../metering/index.js";
import {
  type StandardSchemaV1,
  summarizeIssues,
  type ValidationIssue,
  validateWith,
} from "../validation/index.js";
import { createBrokerKeyResolver, createReplayGuard, type ReplayGuard } from "../verification/index.js";
import { createBadPortWarning } from "./bad-ports.js";
import { newRequestId } from "./request-id.js";
import type {
  DirectCallInfo,
  DirectFlushResult,
  SellerCallContext,
  SellerDirectOptions,
  SellerErrorContext,
  SellerErrorStage,
  SellerKitOptions,
  SellerKitRequest,
  SellerKitResponse,
  VerifiedCallInfo,
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
  /** What `GET …/.well-known/mercato-contract` serves: the JSON Schemas of `input` and `output`. */
  readonly contract: SellerContract;
  /** The meter's figures, with the direct calls' when direct mode is on. */
  stats(): SellerKitStats;
  /** Direct mode: redeems now and sends the usage reports now (nothing to do without it). */
  flush(): Promise<DirectFlushResult>;
  /** Direct mode: stops the timers and flushes once. */
  close(): Promise<void>;
}

/** The body of a call, as `SellerCallRequest` parses it. */
type CallRequest = ReturnType<typeof SellerCallRequest.parse>;

const JSON_TYPE = "application/json; charset=utf-8";
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const HEALTHY = '{"status":"ok"}';
const UNHEALTHY = '{"status":"unhealthy"}';
/** Issues of a refused output shown to the caller, at most (the broker shows as many). */
const MAX_OUTPUT_ISSUES = 10;

/**
 * Builds the core from the kit's options, checking them.
 *
 * @throws MercatoError `VALIDATION_ERROR` when an option is invalid: no handler, neither `broker` nor
 * `jwks` while verifying, a `broker` that is not an http(s) URL, a bad window, body limit or metrics
 * path, `direct` without `broker`, a bad `direct` option, or an `input` or `output` that is not a
 * Standard Schema.
 */
export function createSellerCore<Schema extends StandardSchemaV1, OutputSchema extends StandardSchemaV1>(
  options: SellerKitOptions<Schema, OutputSchema>,
): SellerCore {
  if (typeof options.handler !== "function") throw invalidOption("handler must be a function");
  checkSchemaOption("input", options.input);
  checkSchemaOption("output", options.output);
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
  const directOptions = options.direct;
  if (directOptions !== undefined) checkDirectOptions(directOptions, options.broker);
  if ((verify || directOptions) && options.jwks === undefined) {
    if (options.broker === undefined) {
      throw invalidOption(
        "give the broker's URL (broker) or its keys (jwks), or set verify: false for local development",
      );
    }
    checkBrokerUrl(options.broker);
  }

  // The listings this kit serves: a call or grant for any other is refused before the handler.
  const listing = createListingMatcher({
    owner: options.owner,
    agents: options.agents,
    directAgentId: directOptions?.agentId,
    required: verify || directOptions !== undefined,
  });

  // Grants are signed by the broker's keys, as calls are: one resolver serves both.
  const resolveKey: CallKeyResolver | undefined =
    verify || directOptions
      ? createBrokerKeyResolver({ broker: options.broker, jwks: options.jwks, fetch: options.fetch, now })
      : undefined;
  let replay: ReplayGuard | undefined;
  if (verify) {
    replay = createReplayGuard(windowSeconds);
  } else {
    console.warn(
      "\n!!! mercato seller kit: verify is false. Calls are NOT checked for the broker's signature:\n" +
        "!!! anyone who can reach this endpoint can call your handler, and replays are not refused.\n" +
        "!!! Use verify: false for local development only.\n",
    );
  }

  // The port the world reaches the kit at is known only from the requests that arrive.
  const warnOfBadPort = createBadPortWarning((message) => console.warn(message));
  const handler = options.handler as (input: unknown, context: SellerCallContext) => unknown;
  const inputSchema = options.input;
  const outputSchema = options.output;
  // Derived once: the schemas do not change while the kit runs.
  const contract = deriveContract(inputSchema, outputSchema, (message) => console.warn(message));
  const contractBody = JSON.stringify(contract);
  const health = options.health;
  const onError = options.onError ?? defaultOnError;
  const meter = createMeter(now());
  let directCalls = 0;
  let directRefused = 0;

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

  const direct: DirectMode | undefined =
    directOptions && resolveKey
      ? createDirectMode({
          direct: directOptions,
          broker: options.broker as string,
          resolveKey,
          fetch: options.fetch,
          now,
          onError: report,
          servesListing: listing.serves,
          namesListing: listing.configured && (options.owner !== undefined || options.agents !== undefined),
        })
      : undefined;

  /** Answers a request refused before the handler; `isDirect` counts it among the direct calls refused. */
  const refuse = (error: MercatoError, requestId: string, isDirect = false): SellerKitResponse => {
    meter.rejected();
    if (isDirect) directRefused++;
    return failure(error, requestId);
  };

  /** Refuses a call whose credentials failed: shown when it is the caller's fault, 503 when the keys could not be loaded. */
  const refuseUnverified = (error: unknown, requestId: string, isDirect: boolean): SellerKitResponse => {
    if (isMercatoError(error) && error.status < 500) return refuse(error, requestId, isDirect);
    report(error, { stage: "verification", requestId, callId: undefined, timeoutMs: undefined });
    return refuse(
      new MercatoError("SERVICE_UNAVAILABLE", "The seller cannot check the call's signature right now", {
        details: { reason: "keys_unavailable" },
      }),
      requestId,
      isDirect,
    );
  };

  const serveGet = async (target: string, requestId: string): Promise<SellerKitResponse | undefined> => {
    const token = listing.configured ? challengeTokenOf(target) : undefined;
    // The broker's endpoint challenge: this endpoint serves these listings (see ENDPOINT_CHALLENGE_PATH).
    if (token !== undefined) return respond(200, JSON.stringify(listing.challengeAnswer(token)), requestId);
    const path = pathOf(target);
    // The listing's contract, for `mercato agents register --from-kit`: public, as the listing is.
    if (path.endsWith(CONTRACT_PATH)) return respond(200, contractBody, requestId);
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

  /** The call's body, or the error to refuse it with. */
  const parseCall = (bytes: Uint8Array): CallRequest | MercatoError => {
    let body: unknown;
    try {
      body = JSON.parse(utf8Decoder.decode(bytes));
    } catch {
      return new MercatoError("INVALID_JSON", "The body is not valid JSON");
    }
    const parsed = SellerCallRequest.safeParse(body);
    if (parsed.success) return parsed.data;
    const issues = parsed.error.issues.map((issue) => ({
      path: issue.path.map(String).join("."),
      message: issue.message,
    }));
    return new MercatoError("VALIDATION_ERROR", `Invalid call: ${summarizeIssues(issues, "body")}`, {
      details: { issues },
    });
  };

  /**
   * Runs the handler on an accepted call: input schema, `timeout_ms` signal, output serialisation.
   * A direct call (`paidBy`) that ends after its `timeout_ms` is answered 504 `SELLER_TIMEOUT`: the
   * buyer has given up on it and will not pay for it.
   */
  const runCall = async (
    request: CallRequest,
    call: SellerKitRequest,
    requestId: string,
    verified: VerifiedCallInfo | undefined,
    paidBy: DirectCallInfo | undefined,
  ): Promise<SellerKitResponse> => {
    const { input, call_id: callId, timeout_ms: timeoutMs } = request;
    const started = clock();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        controller.abort(
          new DOMException(`The call's timeout_ms (${timeoutMs} ms) has passed`, "TimeoutError"),
        );
      },
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
      verified,
      direct: paidBy,
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
      const returned = await handler(value, context);
      if (typeof returned === "function" || typeof returned === "symbol") {
        throw new TypeError(`The handler returned a ${typeof returned}, which JSON cannot carry`);
      }
      let output: unknown = returned === undefined ? null : returned;
      if (outputSchema) {
        // The seller's promise, checked before anything is counted: a broken one is its failure, unpaid.
        const checked = await validateWith(outputSchema, output);
        if (!checked.ok) {
          meter.call("failure", clock() - started);
          const error = outputMismatch(checked.issues);
          report(error, { stage: "output", requestId, callId, timeoutMs });
          return failure(error, requestId);
        }
        output = checked.value;
      }
      // Serialised here so that an output JSON cannot carry (a bigint, a cycle) counts as a failure.
      const text = JSON.stringify({ output: output === undefined ? null : output });
      // The broker refuses a deeper output as a failed call: the kit fails it the same way, unpaid.
      if (exceedsJsonDepth(output, MAX_JSON_DEPTH)) {
        throw new RangeError(`The handler's output nests deeper than ${MAX_JSON_DEPTH} levels`);
      }
      if (paidBy && (timedOut || clock() - started > timeoutMs)) {
        meter.call("failure", clock() - started);
        return failure(sellerTimeout(timeoutMs), requestId);
      }
      meter.call("success", clock() - started);
      return respond(200, text, requestId);
    } catch (error) {
      meter.call("failure", clock() - started);
      if (paidBy && timedOut) return failure(sellerTimeout(timeoutMs), requestId);
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
        return refuseUnverified(error, requestId, false);
      }
      // A call for another's listing of this endpoint (an impostor's): refused before any work.
      if (!listing.serves(verified.agentId, verified.agentOwner)) {
        return refuse(wrongListing(verified.agentId, verified.agentOwner), requestId);
      }
      if (!replay.remember(verified.callId, verified.timestamp, now())) {
        return refuse(replayed(verified.callId), requestId);
      }
    }

    const request = parseCall(call.body);
    if (request instanceof MercatoError) return refuse(request, requestId);
    if (verified && verified.callId !== request.call_id) {
      return refuse(
        new MercatoError("UNAUTHENTICATED", "The body's call_id is not the signed mercato-call-id", {
          details: { reason: "bad_signature" },
        }),
        requestId,
      );
    }
    return runCall(
      request,
      call,
      requestId,
      verified && {
        kid: verified.kid,
        timestamp: verified.timestamp,
        agentId: verified.agentId,
        agentOwner: verified.agentOwner,
        priceMicros: verified.priceMicros,
      },
      undefined,
    );
  };

  /**
   * A direct call: a grant and a voucher instead of the broker's signature. Checked in the order of
   * docs/direct-mode.md; an admitted call is settled in the ledger before it is answered, so that
   * the buyer's next call (sent after this answer) finds it settled.
   */
  const serveDirect = async (
    call: SellerKitRequest,
    token: string,
    requestId: string,
  ): Promise<SellerKitResponse> => {
    if (!direct) {
      return refuse(
        directError(
          "direct_not_accepted",
          "This seller does not take direct calls: call it through the broker",
        ),
        requestId,
      );
    }
    if (call.body.byteLength > maxBodyBytes) return refuse(tooLargeError(maxBodyBytes), requestId, true);
    let credentials: DirectCredentials;
    try {
      credentials = await direct.authenticate(token, call.headers(DIRECT_HEADERS.voucher));
    } catch (error) {
      return refuseUnverified(error, requestId, true);
    }
    const request = parseCall(call.body);
    if (request instanceof MercatoError) return refuse(request, requestId, true);
    const { grant, voucher } = credentials;
    const expected = directCallId(grant.grant_id, voucher.sequence);
    if (request.call_id !== expected) {
      return refuse(
        directError("call_id_mismatch", `The body's call_id must be ${expected} (grant:sequence)`),
        requestId,
        true,
      );
    }
    const refusal = direct.admit(credentials);
    if (refusal) return refuse(grantRefusalError(refusal), requestId, true);

    directCalls++;
    const started = clock();
    let answer: SellerKitResponse | undefined;
    try {
      answer = await runCall(request, call, requestId, undefined, {
        grantId: grant.grant_id,
        buyerId: grant.buyer_id,
        sequence: voucher.sequence,
      });
      return answer;
    } finally {
      // A success the caller never received (it went away) is not one: it will not pay for it.
      // A 400 is input the kit (or the handler) refused as invalid: the buyer's fault.
      const outcome =
        answer?.status === 200 && call.signal?.aborted !== true
          ? "success"
          : answer?.status === 400
            ? "client_error"
            : "failure";
      direct.settle(credentials, outcome, clock() - started);
    }
  };

  const handle = async (call: SellerKitRequest): Promise<SellerKitResponse> => {
    const requestId = newRequestId();
    warnOfBadPort(call.headers("host"));
    try {
      const method = call.method.toUpperCase();
      if (method === "POST") {
        const grant = call.headers(DIRECT_HEADERS.grant);
        if (grant !== null && grant !== undefined) return await serveDirect(call, grant, requestId);
        return await serveCall(call, requestId);
      }
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
    contract,
    stats() {
      const stats = meter.stats();
      if (direct) {
        stats.direct = { calls: directCalls, refused: directRefused, grants: direct.grants };
      }
      return stats;
    },
    flush: () => (direct ? direct.flush() : Promise.resolve({ redeemed: 0, failed: 0, reported: 0 })),
    close: () => (direct ? direct.close() : Promise.resolve()),
  };
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

function defaultOnError(error: unknown, context: SellerErrorContext): void {
  const call =
    context.callId !== undefined
      ? ` on call ${context.callId}`
      : context.grantId !== undefined
        ? ` for grant ${context.grantId}`
        : "";
  console.error(`mercato seller kit: ${context.stage} failed${call} (request ${context.requestId})`, error);
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

/** The seller's output broke its own `output` schema: its failure, shown with the first issues. */
function outputMismatch(issues: ValidationIssue[]): MercatoError {
  return new MercatoError("INTERNAL_ERROR", "The seller's output does not match its output schema", {
    details: { reason: "output_schema", issues: issues.slice(0, MAX_OUTPUT_ISSUES) },
  });
}

function checkSchemaOption(name: "input" | "output", schema: StandardSchemaV1 | undefined): void {
  if (schema === undefined) return;
  const standard = (schema as Partial<StandardSchemaV1> | null)?.["~standard"];
  if (typeof standard?.validate !== "function") {
    throw invalidOption(`${name} must be a Standard Schema (zod 4, valibot, arktype, …)`);
  }
}

function tooLargeError(maxBodyBytes: number): MercatoError {
  return new MercatoError("PAYLOAD_TOO_LARGE", `The body is larger than ${maxBodyBytes} bytes`, {
    details: { max_bytes: maxBodyBytes },
  });
}

function sellerTimeout(timeoutMs: number): MercatoError {
  return new MercatoError("SELLER_TIMEOUT", `The call did not end within its timeout_ms (${timeoutMs} ms)`);
}

function checkBrokerUrl(broker: string): void {
  if (!/^https?:\/\/[^/]/i.test(broker)) throw invalidOption(`broker must be an http(s) URL, got ${broker}`);
}

function checkDirectOptions(direct: SellerDirectOptions, broker: string | undefined): void {
  if (broker === undefined) {
    throw invalidOption("direct mode redeems vouchers at the broker: give its URL (broker)");
  }
  checkBrokerUrl(broker);
  const { agentId, redeemIntervalMs, apiKey } = direct;
  if (
    agentId !== undefined &&
    typeof agentId !== "function" &&
    (typeof agentId !== "string" || agentId === "")
  ) {
    throw invalidOption("direct.agentId must be the agent's id or a function answering it");
  }
  if (
    redeemIntervalMs !== undefined &&
    (!Number.isFinite(redeemIntervalMs) || redeemIntervalMs <= 0 || redeemIntervalMs > MAX_TIMER_MS)
  ) {
    throw invalidOption(`direct.redeemIntervalMs must be a positive number of ms, got ${redeemIntervalMs}`);
  }
  if (apiKey !== undefined && (typeof apiKey !== "string" || apiKey === "")) {
    throw invalidOption("direct.apiKey must be the seller's account key (mk_…)");
  }
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
