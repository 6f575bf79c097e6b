import { DIRECT_FAILURE_CODES } from "@mercato/protocol/direct";
import { isMercatoError, type MercatoError } from "@mercato/protocol/errors";
import { type BackoffOptions, backoffDelay } from "./backoff.js";

/**
 * What became of an attempt, and where: everything {@link decideNext} decides on.
 *
 * - `call`: an attempt of `call()` on a seller failed with `error` (proxy or direct mode); it was
 *   the `attempt`-th on that seller (1-based), and `retries` more are allowed after the first.
 * - `unaffordable`: `call()`'s budgets cannot pay for an attempt on this seller.
 * - `rejected`: the seller answered, was paid, and the call's `accept` test rejected the answer.
 * - `refused`: a seller refused a direct session's grant or voucher with `reason` (a `DirectFailure`);
 *   `attempt` 2 for the session's one retry of that call.
 * - `request`: a broker request sent with an `Idempotency-Key` (opening a grant) failed with `error`.
 * - `access-key`: a request made with an access key failed with `error`; `explicitKey` when the
 *   key was the caller's own, not the key store's.
 */
export type AttemptFacts =
  | {
      kind: "call";
      error: MercatoError;
      attempt: number;
      retries: number;
      backoff?: BackoffOptions | undefined;
      /** A uniform draw in [0, 1) for the backoff's jitter (default `Math.random`). */
      random?: (() => number) | undefined;
    }
  | { kind: "unaffordable" }
  | { kind: "rejected" }
  | { kind: "refused"; reason: string; attempt: number }
  | { kind: "request"; error: unknown; attempt: number }
  | { kind: "access-key"; error: MercatoError; explicitKey: boolean };

/** What to do next: try the same target again, move on to the next seller, or give up. */
export interface Decision {
  action: "retry" | "failover" | "stop";
  /** Why, in a word or two (the error's code where that says it all): for tests and logs. */
  reason: string;
  /**
   * The failure was worth another attempt on the same target: true for every `retry`, and for a
   * `failover` only because the retries are spent (`CallAttempt.retryable`).
   */
  retryable?: boolean;
  /**
   * Another attempt keeps the idempotency key: the first one may have been charged (the broker
   * then answers its outcome instead of charging again), or the key was never used.
   */
  sameKey?: boolean;
  /** How long to wait before the retry, ms: backoff with full jitter, a `Retry-After` as its floor. */
  delayMs?: number;
  /** Direct mode: the session retires the grant, and its next call opens a fresh one. */
  retire?: boolean;
}

/** Failures after which a request may have been carried out: the broker could not answer, or failed. */
const OUTCOME_UNKNOWN: ReadonlySet<string> = new Set(["SERVICE_UNAVAILABLE", "INTERNAL_ERROR"]);

/**
 * Refusals after which buyer and seller may disagree on what is owed (or the seller holds a voucher
 * the buyer cannot build on): the session retires the grant and the next call opens a fresh one.
 */
const DISAGREEMENTS: ReadonlySet<string> = new Set([
  "payment_behind",
  "call_in_flight",
  "voucher_replayed",
  "owed_decreased",
  "voucher_over_budget",
]);

/** Refusals of a grant that is used up: the session retires it and retries the call once on a fresh one. */
const USED_UP: ReadonlySet<string> = new Set([
  "grant_expired",
  "grant_closed",
  "grant_spent",
  "grant_settled",
]);

/** True for a reason a seller kit refuses a grant or a voucher with (a `DirectFailure`). */
export function isDirectFailure(reason: unknown): reason is string {
  return typeof reason === "string" && Object.hasOwn(DIRECT_FAILURE_CODES, reason);
}

/**
 * True for a seller's refusal of a direct session's grant or voucher (`details.reason` and
 * `details.grant_id`): a `BUDGET_EXCEEDED` or `CONFLICT` of the grant's own bookkeeping, not the
 * caller's.
 */
export function isGrantRefusal(error: MercatoError): boolean {
  return isDirectFailure(error.details?.reason) && typeof error.details?.grant_id === "string";
}

/**
 * The SDK's one retry policy: after a failed attempt, whether to retry the same target (and how
 * long to wait first), fail over to the next seller, or stop. Pure, but for the backoff's jitter,
 * which `random` draws. `call()`'s attempt loop, a direct session's calls, the opening of a grant
 * and the client's access keys all ask it.
 */
export function decideNext(facts: AttemptFacts): Decision {
  switch (facts.kind) {
    case "call":
      return decideCall(facts);
    // Another seller may cost less.
    case "unaffordable":
      return { action: "failover", reason: "budget" };
    // Paid, and useless to this buyer: another try on the same seller would likely be paid for the same again.
    case "rejected":
      return { action: "failover", reason: "rejected" };
    // A used-up grant is retired and the call retried once on a fresh one; after a disagreement on
    // what is owed the grant is retired too, and the call fails.
    case "refused": {
      const { reason } = facts;
      const retire = USED_UP.has(reason) || DISAGREEMENTS.has(reason);
      return USED_UP.has(reason) && facts.attempt === 1
        ? { action: "retry", reason, retryable: true, retire }
        : { action: "stop", reason, retire };
    }
    // Sent again once with the same key: the broker answers the first request's outcome, never a second one.
    case "request": {
      const { error } = facts;
      return isMercatoError(error) && OUTCOME_UNKNOWN.has(error.code) && facts.attempt === 1
        ? { action: "retry", reason: error.code, retryable: true, sameKey: true }
        : { action: "stop", reason: isMercatoError(error) ? error.code : "error" };
    }
    // A stored access key the broker refuses (revoked, expired) is dropped, and a later attempt
    // buys a new one. The caller's own key is left as it is.
    case "access-key":
      return !facts.explicitKey && facts.error.code === "INVALID_API_KEY"
        ? { action: "retry", reason: "access_key_dropped", retryable: true }
        : { action: "stop", reason: facts.error.code };
  }
}

/** What a failed attempt of `call()` means for the call. */
function decideCall(facts: Extract<AttemptFacts, { kind: "call" }>): Decision {
  const { error, attempt } = facts;
  const reason = error.code;
  const retryAfterMs =
    typeof error.details?.retry_after_s === "number" ? error.details.retry_after_s * 1000 : 0;
  /**
   * Another attempt on this seller, after a backoff (`floorMs` at least); `sameKey` when the key is
   * still unused or the outcome unknown. Once the retries are spent, the next seller instead.
   */
  const retry = (sameKey: boolean, floorMs = retryAfterMs): Decision =>
    attempt > facts.retries
      ? { action: "failover", reason: "retries_spent", retryable: true, sameKey }
      : {
          action: "retry",
          reason,
          retryable: true,
          sameKey,
          delayMs: backoffDelay(attempt, facts.backoff, floorMs, facts.random),
        };
  /** Give this seller up, try the next one. */
  const failover: Decision = { action: "failover", reason };
  /** Stop the whole call: retrying or failing over cannot help (bad input, no money). */
  const stop: Decision = { action: "stop", reason };
  // Direct mode: the seller refused a grant or voucher (a BUDGET_EXCEEDED or CONFLICT of the grant's
  // own bookkeeping, not the caller's budget). When the session retired that grant, a fresh one may
  // be accepted; otherwise this seller does not take the grants.
  if (isGrantRefusal(error)) {
    const refusal = error.details?.reason as string;
    return USED_UP.has(refusal) || DISAGREEMENTS.has(refusal) ? retry(false) : failover;
  }
  switch (reason) {
    // The seller failed and the hold was voided: try again with a fresh key.
    case "SELLER_TIMEOUT":
    case "SELLER_UNAVAILABLE":
      return retry(false);
    case "SELLER_ERROR": {
      // An answer outside the agent's output schema: the seller's contract is broken, not its luck.
      if (error.details?.reason === "output_schema") return failover;
      const status = error.details?.seller_status;
      // A 4xx means the seller refused this input: another seller may take it, this one will not.
      return typeof status === "number" && status >= 400 && status < 500 ? failover : retry(false);
    }
    // Refused before any hold: the same key is still unused.
    case "RATE_LIMITED":
      return retry(true);
    // A refused access key (revoked, expired) was dropped, and the next attempt buys a new one. The
    // buyer's own account key refused (when buying) fails every attempt alike: stop at once.
    case "INVALID_API_KEY":
      return error.details?.access_key_dropped === true ? retry(true, 0) : stop;
    // The broker could not be reached, or failed: the attempt may or may not have been charged.
    case "SERVICE_UNAVAILABLE":
    case "INTERNAL_ERROR":
      return retry(true);
    case "CONFLICT":
      // The broker no longer has this key's answer, and the attempt was not charged: use a new key.
      return error.details?.status === "voided" ? retry(false, 0) : failover;
    // The agent's input schema refused this input before anything was held: another agent of the
    // search may take it. Any other refusal of the input is this call's own, for every agent alike.
    case "VALIDATION_ERROR":
      return error.details?.reason === "input_schema" ? failover : stop;
    case "AGENT_NOT_FOUND":
    case "AGENT_INACTIVE":
    case "AGENT_NOT_PURCHASED":
      return failover;
    // A key's own cap stops this agent only; the account's balance or monthly cap stops everything.
    case "SPEND_CAP_EXCEEDED":
      return error.details?.key_id !== undefined ? failover : stop;
    default:
      return stop;
  }
}
