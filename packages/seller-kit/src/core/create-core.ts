import type { CallKeyResolver } from "@mercato/protocol";
import { deriveContract, type SellerContract } from "../contract/index.js";
import { createDirectMode, type DirectMode } from "../direct/index.js";
import { createListingMatcher } from "../listing/index.js";
import { createMeter, type SellerKitStats, type SellerMeter } from "../metering/index.js";
import type { StandardSchemaV1 } from "../validation/index.js";
import { createBrokerKeyResolver, createReplayGuard } from "../verification/index.js";
import { createBadPortWarning } from "./bad-ports.js";
import { createRequestHandler } from "./dispatch.js";
import { createGetRoutes } from "./get-routes.js";
import { checkOptions } from "./options.js";
import { createRefusals, failRequest, tooLargeError } from "./refuse.js";
import { createErrorReport } from "./report.js";
import { newRequestId } from "./request-id.js";
import { createCallRunner } from "./run-call.js";
import { createCallServer } from "./serve-call.js";
import { createDirectCallServer } from "./serve-direct.js";
import { warnVerifyOff } from "./signature.js";
import type {
  DirectFlushResult,
  SellerCallContext,
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
  /** What `GET …/.well-known/mercato-contract` serves: the JSON Schemas of `input` and `output`. */
  readonly contract: SellerContract;
  /** The meter's figures, with the direct calls' when direct mode is on. */
  stats(): SellerKitStats;
  /** Direct mode: redeems now and sends the usage reports now (nothing to do without it). */
  flush(): Promise<DirectFlushResult>;
  /** Direct mode: stops the timers and flushes once. */
  close(): Promise<void>;
}

/**
 * Builds the core from the kit's options, checking them (see `checkOptions`), then composes its
 * steps: the listings it serves, the broker's keys and the replay guard, direct mode, the handler's
 * run, and the routes a request is dispatched to.
 *
 * @throws MercatoError `VALIDATION_ERROR` when an option is invalid: no handler, neither `broker` nor
 * `jwks` while verifying, a `broker` that is not an http(s) URL, a bad window, body limit or metrics
 * path, `direct` without `broker`, a bad `direct` option, or an `input` or `output` that is not a
 * Standard Schema.
 */
export function createSellerCore<Schema extends StandardSchemaV1, OutputSchema extends StandardSchemaV1>(
  options: SellerKitOptions<Schema, OutputSchema>,
): SellerCore {
  const settings = checkOptions(options);
  const { verify, maxBodyBytes, metricsPath, now, clock, direct: directOptions } = settings;

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
  const replay = verify
    ? createReplayGuard(settings.replayWindowSeconds, settings.maxRememberedCalls)
    : undefined;
  if (!verify) warnVerifyOff((message) => console.warn(message));

  // The port the world reaches the kit at is known only from the requests that arrive.
  const warnOfBadPort = createBadPortWarning((message) => console.warn(message));
  // Derived once: the schemas do not change while the kit runs.
  const contract = deriveContract(options.input, options.output, (message) => console.warn(message));
  const report = createErrorReport(options.onError);
  const meter = createMeter(now());
  const refusals = createRefusals({ meter, report });

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

  const runCall = createCallRunner({
    handler: options.handler as (input: unknown, context: SellerCallContext) => unknown,
    inputSchema: options.input,
    outputSchema: options.output,
    meter,
    clock,
    report,
  });
  const verification =
    resolveKey && replay
      ? { resolveKey, replay, listing, windowSeconds: settings.replayWindowSeconds, now }
      : undefined;
  const directCalls = createDirectCallServer({ direct, maxBodyBytes, meter, report, runCall, clock });
  const handle = createRequestHandler({
    warnOfBadPort,
    serveCall: createCallServer({ maxBodyBytes, verification, refusals, runCall }),
    direct: directCalls,
    serveGet: createGetRoutes({
      listing,
      contractBody: JSON.stringify(contract),
      health: options.health,
      metricsPath,
      meter,
      report,
    }),
    report,
  });

  return {
    handle,
    tooLarge: () => refusals.refuse(tooLargeError(maxBodyBytes), newRequestId()),
    fail: (error, stage) => failRequest(refusals, report, error, stage, newRequestId()),
    maxBodyBytes,
    metricsPath,
    meter,
    contract,
    stats() {
      const stats = meter.stats();
      const directStats = directCalls.stats();
      if (directStats) stats.direct = directStats;
      return stats;
    },
    flush: () => (direct ? direct.flush() : Promise.resolve({ redeemed: 0, failed: 0, reported: 0 })),
    close: () => (direct ? direct.close() : Promise.resolve()),
  };
}
