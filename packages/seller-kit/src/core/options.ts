import { DEFAULT_REPLAY_WINDOW_SECONDS, MercatoError } from "@mercato/protocol";
import { MAX_TIMER_MS } from "../direct/index.js";
import type { StandardSchemaV1 } from "../validation/index.js";
import { DEFAULT_MAX_REMEMBERED_CALLS } from "../verification/index.js";
import { pathOf } from "./get-routes.js";
import type { SellerDirectOptions, SellerKitOptions } from "./types.js";

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** The kit's options once checked, with their defaults. */
export interface CoreSettings {
  /** Calls proxied by the broker are checked for its signature (`verify`, default true). */
  verify: boolean;
  replayWindowSeconds: number;
  maxRememberedCalls: number;
  maxBodyBytes: number;
  /** The metrics path, when metrics are on. */
  metricsPath: string | undefined;
  /** The clock, ms since the epoch: signature timestamps, the replay window. */
  now: () => number;
  /** Times the handler, in ms. */
  clock: () => number;
  direct: SellerDirectOptions | undefined;
}

/**
 * Checks the kit's options (other than the listings it serves) and fills in the defaults.
 *
 * @throws MercatoError `VALIDATION_ERROR` when an option is invalid: no handler, neither `broker` nor
 * `jwks` while verifying, a `broker` that is not an http(s) URL, a bad window, body limit or metrics
 * path, `direct` without `broker`, a bad `direct` option, or an `input` or `output` that is not a
 * Standard Schema.
 */
export function checkOptions<Schema extends StandardSchemaV1, OutputSchema extends StandardSchemaV1>(
  options: SellerKitOptions<Schema, OutputSchema>,
): CoreSettings {
  if (typeof options.handler !== "function") throw invalidOption("handler must be a function");
  checkSchemaOption("input", options.input);
  checkSchemaOption("output", options.output);
  const verify = options.verify !== false;
  const replayWindowSeconds = options.replayWindowSeconds ?? DEFAULT_REPLAY_WINDOW_SECONDS;
  if (!Number.isFinite(replayWindowSeconds) || replayWindowSeconds <= 0) {
    throw invalidOption(`replayWindowSeconds must be a positive number, got ${replayWindowSeconds}`);
  }
  const maxRememberedCalls = options.maxRememberedCalls ?? DEFAULT_MAX_REMEMBERED_CALLS;
  if (!Number.isSafeInteger(maxRememberedCalls) || maxRememberedCalls <= 0) {
    throw invalidOption(`maxRememberedCalls must be a positive integer, got ${maxRememberedCalls}`);
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw invalidOption(`maxBodyBytes must be a positive integer, got ${maxBodyBytes}`);
  }
  const metricsPath = resolveMetricsPath(options.metrics);
  const now = options.now ?? Date.now;
  const clock = options.now ?? (() => performance.now());
  const direct = options.direct;
  if (direct !== undefined) checkDirectOptions(direct, options.broker);
  if ((verify || direct) && options.jwks === undefined) {
    if (options.broker === undefined) {
      throw invalidOption(
        "give the broker's URL (broker) or its keys (jwks), or set verify: false for local development",
      );
    }
    checkBrokerUrl(options.broker);
  }
  return { verify, replayWindowSeconds, maxRememberedCalls, maxBodyBytes, metricsPath, now, clock, direct };
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

function checkSchemaOption(name: "input" | "output", schema: StandardSchemaV1 | undefined): void {
  if (schema === undefined) return;
  const standard = (schema as Partial<StandardSchemaV1> | null)?.["~standard"];
  if (typeof standard?.validate !== "function") {
    throw invalidOption(`${name} must be a Standard Schema (zod 4, valibot, arktype, …)`);
  }
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
