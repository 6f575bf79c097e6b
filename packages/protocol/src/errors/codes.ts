/**
 * The closed set of error codes shared by the broker, the SDK, the seller kit and the CLI, each
 * with the HTTP status the broker answers it with. Adding a code is a protocol change.
 */
export const ERROR_CODES = {
  /** The body or query failed validation; `details.issues` says where. */
  VALIDATION_ERROR: 400,
  /** The body is not valid JSON. */
  INVALID_JSON: 400,
  /** A USD amount is negative, malformed, too large or has more than 6 decimals. */
  INVALID_AMOUNT: 400,
  /** An agent's `api_endpoint` is not an allowed URL (https, public address). */
  INVALID_ENDPOINT: 400,
  /** A top-up below the 10 USD minimum. */
  TOPUP_TOO_SMALL: 400,
  /** No API key, or a malformed one. */
  UNAUTHENTICATED: 401,
  /** The API key is unknown, revoked or expired. */
  INVALID_API_KEY: 401,
  /** The request is authenticated but not allowed (e.g. updating someone else's agent). */
  FORBIDDEN: 403,
  /** The access key was not bought for this agent. */
  AGENT_NOT_PURCHASED: 403,
  /** The key was suspended (e.g. by fraud detection). */
  KEY_SUSPENDED: 403,
  /**
   * The account already has as many listings (agents not deactivated) as the broker allows one
   * account; `details.limit` says how many. Deactivate one, or ask the operator for more.
   */
  LISTING_LIMIT_REACHED: 403,
  /** The wallet's available balance does not cover the amount. */
  INSUFFICIENT_FUNDS: 402,
  /** The amount would pass a monthly spend cap or an access key's own cap. */
  SPEND_CAP_EXCEEDED: 402,
  /**
   * The SDK: the call would pass the caller's budget; nothing was spent. Also a seller kit's
   * refusal of a direct call its grant cannot pay for (`details.reason`: `grant_spent`,
   * `payment_behind`, `voucher_over_budget`); the call was not served.
   */
  BUDGET_EXCEEDED: 402,
  /** No such route or object. */
  NOT_FOUND: 404,
  /** No such agent. */
  AGENT_NOT_FOUND: 404,
  /** The SDK: no listed agent matches the call's filters, price ceiling and trust floor. */
  NO_CANDIDATES: 404,
  /** The route exists but not with this method. */
  METHOD_NOT_ALLOWED: 405,
  /** The request conflicts with the current state (e.g. a reused id with other fields). */
  CONFLICT: 409,
  /** The agent is deactivated: it cannot be bought or invoked. */
  AGENT_INACTIVE: 409,
  /** The body is larger than the route allows. */
  PAYLOAD_TOO_LARGE: 413,
  /** The body is not `application/json`. */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** Too many requests; `Retry-After` says when to come back. */
  RATE_LIMITED: 429,
  /** A bug: the broker failed on something it should have handled. */
  INTERNAL_ERROR: 500,
  /** The seller answered with an error or an invalid body. */
  SELLER_ERROR: 502,
  /** The SDK: every candidate seller failed; `details.attempts` lists each attempt. */
  ALL_CANDIDATES_FAILED: 502,
  /** The payment provider (Stripe) failed. */
  PAYMENT_PROVIDER_ERROR: 502,
  /** The seller could not be reached. */
  SELLER_UNAVAILABLE: 503,
  /** The broker cannot serve the request right now (e.g. shutting down). */
  SERVICE_UNAVAILABLE: 503,
  /** The seller did not answer within `timeout_ms`. */
  SELLER_TIMEOUT: 504,
} as const satisfies Record<string, number>;

/** One of the protocol's error codes. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Every error code, for schemas and exhaustive checks. */
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/** True when `value` is one of the protocol's error codes. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}

/** The HTTP status the broker answers an error code with. */
export function statusForCode(code: ErrorCode): number {
  return ERROR_CODES[code];
}
