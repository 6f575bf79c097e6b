import type { StandardSchemaV1 } from "../validation/index.js";
import type { FetchLike, JsonWebKeySetLike } from "../verification/index.js";

/** The signed facts of a verified call. */
export interface VerifiedCallInfo {
  /** The `kid` of the broker key that signed the call. */
  kid: string;
  /** When the broker signed the call, unix seconds. */
  timestamp: number;
  /** The listing the call is for (`agent_…`): one this kit serves. */
  agentId: string;
  /** The listing's owner (`acct_…`), whose earnings the call's charge credits. */
  agentOwner: string;
  /** The call's price, integer micro-USD: what the buyer pays when the call succeeds. */
  priceMicros: number;
}

/** The facts of a direct call (a buyer calling with a grant and a voucher, the broker off the path). */
export interface DirectCallInfo {
  /** The grant (`grt_…`) the call is paid from. */
  grantId: string;
  /** The buyer's account (`acct_…`), who holds the grant. */
  buyerId: string;
  /** The voucher's sequence: 1 for the grant's first call, growing by at least one per call. */
  sequence: number;
}

/** What a seller's handler learns about the call besides its input. */
export interface SellerCallContext {
  /** The call's id (`call_id`); with verification on, the signed `mercato-call-id`. Unique per call. */
  callId: string;
  /** How long the caller waits for the answer (`timeout_ms`). */
  timeoutMs: number;
  /** Aborts when `timeoutMs` has passed (reason: a `TimeoutError`) or the caller goes away: stop work and throw. */
  signal: AbortSignal;
  /** Who signed the call; `undefined` when the kit runs with `verify: false`, and for direct calls. */
  verified: VerifiedCallInfo | undefined;
  /** The grant and voucher that pay for a direct call; `undefined` for a call proxied by the broker. */
  direct?: DirectCallInfo | undefined;
  /** The id of this request in the kit's answers (`x-request-id`) and in `onError`. */
  requestId: string;
}

/**
 * The seller's own code: takes the buyer's input (checked by the `input` schema when one is given,
 * otherwise any JSON value) and returns the output, any JSON value (`undefined` is sent as `null`),
 * checked by the `output` schema when one is given. Throw a `MercatoError` with a 4xx status to
 * answer the caller with that error; any other throw is answered with a 500 that reveals nothing.
 */
export type SellerCallHandler<Input = unknown, Output = unknown> = (
  input: Input,
  context: SellerCallContext,
) => Output | Promise<Output>;

/** Where an error reported to `onError` happened. */
export type SellerErrorStage =
  /** The handler threw (other than a 4xx `MercatoError`) or returned what JSON cannot carry. */
  | "handler"
  /** The handler's output does not match the `output` schema (answered 500, `details.reason` `output_schema`). */
  | "output"
  /** The broker's keys could not be loaded, so the call could not be verified (answered 503). */
  | "verification"
  /** `health()` threw (answered 503). */
  | "health"
  /** The request could not be read (e.g. Express had already parsed the body). */
  | "request"
  /** Direct mode: a grant's best voucher could not be redeemed at the broker (retried at the next round). */
  | "redeem"
  /** Direct mode: outcomes of direct calls could not be reported to the broker (they are dropped). */
  | "report";

/** What `onError` learns about the failed request. */
export interface SellerErrorContext {
  stage: SellerErrorStage;
  /**
   * The id of the failed request in the kit's answers (`x-request-id`). For the `redeem` and
   * `report` stages, the id of the kit's own request to the broker, sent as its `x-request-id`.
   */
  requestId: string;
  /** The call's id, when the request got far enough to have one. */
  callId: string | undefined;
  /** The call's `timeout_ms`, when the request got far enough to have one. */
  timeoutMs: number | undefined;
  /** The grant (`grt_…`) a `redeem` failure is about. */
  grantId?: string | undefined;
}

/** Direct mode: the kit also takes calls that carry a broker-signed grant and a buyer's voucher. */
export interface SellerDirectOptions {
  /**
   * @deprecated Give the kit's `owner` or `agents` instead: they apply to direct grants too. Kept
   * for kits written before them: the agent this kit serves (its id from registration), or a
   * function answering it (`undefined` while not yet registered: direct calls are then refused with
   * 401 `direct_not_accepted`). It is added to the listings the kit serves. A grant for a listing
   * the kit does not serve is refused with 401 `grant_wrong_agent`.
   */
  agentId?: string | (() => string | undefined);
  /**
   * Redeem grants whose earnings grew every this many ms (default 30_000). Keep it well below
   * the broker's settlement grace period (120 s): a voucher redeemed after its grant settled is lost.
   */
  redeemIntervalMs?: number;
  /**
   * The seller's account key (`mk_…`). When given, the kit also reports the outcomes of direct calls
   * to `POST {broker}/usage/reports` in batches, for the agent's trust metrics.
   */
  apiKey?: string;
}

/** What `kit.flush()` did. */
export interface DirectFlushResult {
  /** Grants whose claim (best voucher and what the seller earned) the broker accepted. */
  redeemed: number;
  /** Redemptions that failed (network, broker errors); they are retried at the next round. */
  failed: number;
  /** Outcomes of direct calls the broker acknowledged. */
  reported: number;
}

/** Options of `sellerKit`. */
export interface SellerKitOptions<
  Schema extends StandardSchemaV1 = StandardSchemaV1,
  OutputSchema extends StandardSchemaV1 = StandardSchemaV1,
> {
  /**
   * The broker's base URL (`https://broker.example`). Its keys are fetched from
   * `${broker}/.well-known/jwks.json` on the first call, kept, and fetched again when a call names
   * an unknown key (at most every 30 s). Required unless `jwks` is given or `verify` is false, and
   * always with `direct` (vouchers are redeemed at `${broker}/grants/{id}/redeem`).
   */
  broker?: string;
  /** The seller's code, called once per valid call. */
  handler: SellerCallHandler<StandardSchemaV1.InferOutput<Schema>, StandardSchemaV1.InferInput<OutputSchema>>;
  /**
   * The seller's account (`acct_…`, from `mercato account create` or `GET /accounts/me`): the kit
   * serves every listing of this account and refuses a call (or a direct grant) for any other
   * listing with 401 `UNAUTHENTICATED`, `details.reason` `wrong_listing`, before the handler runs —
   * so that nobody can list this endpoint as their own agent and be paid for its work. It also
   * answers the broker's endpoint challenge (`…/.well-known/mercato-challenge/{token}`) naming this
   * account, which is how a listing of this endpoint goes active. `owner` or `agents` is required
   * (unless `verify: false` without `direct`).
   */
  owner?: string;
  /**
   * The listings (`agent_…`) this kit serves, instead of (or beside) every listing of an `owner`:
   * a call for any other listing is refused as with `owner`. Use it when the kit serves some of an
   * account's listings only; a new listing is then served once its id is added here.
   */
  agents?: readonly string[];
  /**
   * A Standard Schema (zod 4, valibot, arktype, …) for the call's `input`. The handler gets its
   * output; an input it refuses is answered 400 `VALIDATION_ERROR` with `details.issues`.
   */
  input?: Schema;
  /**
   * A Standard Schema for the handler's output: the seller's promise of what it answers. The kit
   * checks every output against it and answers the schema's parsed value (zod: defaults filled in,
   * unknown keys of an object dropped). An output it refuses is the seller's failure: answered 500
   * `INTERNAL_ERROR` with `details: { reason: "output_schema", issues }` (the first 10), counted as a
   * failure, and in direct mode not earned. Reported to `onError` (stage `output`).
   *
   * Both schemas are also served as JSON Schema (draft 2020-12) at
   * `GET {api_endpoint}/.well-known/mercato-contract` — `{"input_schema", "output_schema"}`, each
   * `null` when absent or not convertible — for `mercato agents register --from-kit`. Conversion uses
   * Standard JSON Schema (`schema["~standard"].jsonSchema`), which zod 4.2+ implements.
   */
  output?: OutputSchema;
  /** A fixed key set to verify with instead of fetching the broker's (offline use, tests). */
  jwks?: JsonWebKeySetLike;
  /**
   * The `fetch` used for the broker: its keys and, in direct mode, redemptions and usage reports
   * (default: the global `fetch`). Each request times out after 10 s.
   */
  fetch?: FetchLike;
  /**
   * How far a call's signed timestamp may be from the seller's clock, either way, in seconds
   * (default 300). Call ids are remembered this long after their timestamp to refuse replays.
   */
  replayWindowSeconds?: number;
  /**
   * Most call ids remembered to refuse replays (default 500,000: 1,666 calls a second over the
   * default window). An id is kept until its signature is stale; past this bound a new call is
   * refused (503, reason `replay_guard_full`) rather than let an id go early.
   */
  maxRememberedCalls?: number;
  /**
   * `false` accepts calls without checking the broker's signature: for local development only.
   * The kit logs a loud warning when created this way. Default true. It does not apply to direct
   * calls, which are always checked: their grant and voucher are how the seller gets paid.
   */
  verify?: boolean;
  /**
   * Direct mode: also serve calls that carry a grant (`mercato-grant`) and a voucher
   * (`mercato-voucher`) instead of the broker's signature, and redeem the vouchers at the broker.
   * Needs `broker`. Without it, direct calls are refused with 401 `direct_not_accepted`.
   */
  direct?: SellerDirectOptions;
  /**
   * Sees every error the caller is not shown: a handler that threw (the caller gets a bare 500),
   * keys that could not be loaded, a failing `health()`. Default: `console.error`. May not throw
   * (if it does, that is ignored).
   */
  onError?: (error: unknown, context: SellerErrorContext) => void | Promise<void>;
  /** Answers `GET …/health`: false (or a throw) makes it 503 `{"status":"unhealthy"}`. Default: always healthy. */
  health?: () => boolean | Promise<boolean>;
  /**
   * Serve Prometheus metrics on `GET …/metrics` (`true`) or on a path of your choice
   * (`{ path: "/internal/metrics" }`, matched at the end of the request path). Unauthenticated: off by default.
   */
  metrics?: boolean | { path: string };
  /** Largest accepted body, in bytes (default 1 MiB); a larger one is answered 413 `PAYLOAD_TOO_LARGE`. */
  maxBodyBytes?: number;
  /**
   * The clock, ms since the epoch (default `Date.now`), for signature timestamps and the replay
   * window. When given, it also times the handler (default `performance.now`), so tests can control latency.
   */
  now?: () => number;
}

/** A request to the kit's framework-free core, as every adapter builds it. */
export interface SellerKitRequest {
  /** HTTP method (`POST`, `GET`, …). */
  method: string;
  /** The request target as on the request line: path and query (`/agent/abc?x=1`). It is what the broker signed. */
  target: string;
  /** A request header by lower-case name. */
  headers: (name: string) => string | null | undefined;
  /** The exact bytes of the body (empty for none). */
  body: Uint8Array;
  /** Aborts when the client goes away. */
  signal?: AbortSignal | undefined;
}

/** The core's answer: every adapter writes it out as is. */
export interface SellerKitResponse {
  status: number;
  /** Lower-case names: always `content-type` and `x-request-id`, `allow` on a 405. */
  headers: Record<string, string>;
  body: string;
}
