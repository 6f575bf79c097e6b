import { type ErrorCode, MercatoError } from "@mercato/protocol/errors";
import { describe, expect, it } from "vitest";
import { type AttemptFacts, type Decision, decideNext } from "./retry-policy.js";

const error = (code: ErrorCode, details?: Record<string, unknown>) =>
  new MercatoError(code, code, details === undefined ? {} : { details });

/** A failed first attempt of `call()` with two retries left, and a jitter draw of one half. */
const call = (failure: MercatoError, more: Partial<Extract<AttemptFacts, { kind: "call" }>> = {}) =>
  decideNext({
    kind: "call",
    error: failure,
    attempt: 1,
    retries: 2,
    backoff: { baseMs: 100 },
    random: () => 0.5,
    ...more,
  });

/** Backoff of the first retry with `baseMs` 100 and a draw of one half: 50 ms. */
const FRESH: Decision = { action: "retry", reason: "", retryable: true, sameKey: false, delayMs: 50 };
const SAME_KEY: Decision = { ...FRESH, sameKey: true };

describe("decideNext: a failed attempt of call()", () => {
  it.each<[string, MercatoError, Partial<Decision>]>([
    // The seller failed and the hold was voided: again, with a fresh key.
    ["a seller timeout", error("SELLER_TIMEOUT"), FRESH],
    ["an unreachable seller", error("SELLER_UNAVAILABLE"), FRESH],
    ["a seller's 5xx", error("SELLER_ERROR", { seller_status: 500 }), FRESH],
    ["a seller error without a status", error("SELLER_ERROR"), FRESH],
    // Refused before any hold, or an outcome unknown: the same key.
    ["a rate limit", error("RATE_LIMITED"), SAME_KEY],
    ["an unreachable broker", error("SERVICE_UNAVAILABLE"), SAME_KEY],
    ["a broker failure", error("INTERNAL_ERROR"), SAME_KEY],
    ["a dropped access key", error("INVALID_API_KEY", { access_key_dropped: true }), SAME_KEY],
    ["a key the broker no longer has an answer for", error("CONFLICT", { status: "voided" }), FRESH],
    // Direct mode: a grant the session retired; a fresh one may be taken.
    ["a spent grant", error("BUDGET_EXCEEDED", { reason: "grant_spent", grant_id: "grt_1" }), FRESH],
    ["a settled grant", error("CONFLICT", { reason: "grant_settled", grant_id: "grt_1" }), FRESH],
    ["a payment behind", error("BUDGET_EXCEEDED", { reason: "payment_behind", grant_id: "grt_1" }), FRESH],
  ])("retries %s", (_, failure, expected) => {
    expect(call(failure)).toEqual({ ...expected, reason: failure.code });
  });

  it.each<[string, MercatoError]>([
    ["a seller's 4xx", error("SELLER_ERROR", { seller_status: 400 })],
    ["an answer outside the output schema", error("SELLER_ERROR", { reason: "output_schema" })],
    ["a key already charged", error("CONFLICT", { status: "completed" })],
    ["an input the agent's schema refuses", error("VALIDATION_ERROR", { reason: "input_schema" })],
    ["an unknown agent", error("AGENT_NOT_FOUND")],
    ["an inactive agent", error("AGENT_INACTIVE")],
    ["an agent not purchased", error("AGENT_NOT_PURCHASED")],
    ["an access key's own spend cap", error("SPEND_CAP_EXCEEDED", { key_id: "key_1" })],
    [
      "a seller refusing the grants",
      error("UNAUTHENTICATED", { reason: "grant_wrong_agent", grant_id: "grt_1" }),
    ],
  ])("fails over after %s", (_, failure) => {
    expect(call(failure)).toEqual({ action: "failover", reason: failure.code });
  });

  it.each<[string, MercatoError]>([
    ["the account's own key refused", error("INVALID_API_KEY")],
    ["an input refused for every agent", error("VALIDATION_ERROR")],
    ["the account's spend cap", error("SPEND_CAP_EXCEEDED")],
    ["no money", error("INSUFFICIENT_FUNDS")],
    ["no account key", error("UNAUTHENTICATED")],
    ["the caller's budget (not a grant's)", error("BUDGET_EXCEEDED", { reason: "grant_spent" })],
  ])("stops at once on %s", (_, failure) => {
    expect(call(failure)).toEqual({ action: "stop", reason: failure.code });
  });

  it("waits a Retry-After at least, but not after a dropped key or a voided key", () => {
    expect(call(error("RATE_LIMITED", { retry_after_s: 7 })).delayMs).toBe(7_000);
    expect(call(error("SELLER_UNAVAILABLE", { retry_after_s: 2 })).delayMs).toBe(2_000);
    const dropped = error("INVALID_API_KEY", { access_key_dropped: true, retry_after_s: 7 });
    expect(call(dropped).delayMs).toBe(50);
    expect(call(error("CONFLICT", { status: "voided", retry_after_s: 7 })).delayMs).toBe(50);
  });

  it("backs off with full jitter under an exponential ceiling", () => {
    expect(call(error("SELLER_TIMEOUT"), { attempt: 2 }).delayMs).toBe(100);
    expect(call(error("SELLER_TIMEOUT"), { attempt: 2, random: () => 0.999 }).delayMs).toBe(199);
    expect(call(error("SELLER_TIMEOUT"), { attempt: 2, retries: 5, backoff: { maxMs: 60 } }).delayMs).toBe(
      30,
    );
  });

  it("fails over once the retries are spent, still retryable, keeping what the key needs", () => {
    expect(call(error("SELLER_TIMEOUT"), { attempt: 3 })).toEqual({
      action: "failover",
      reason: "retries_spent",
      retryable: true,
      sameKey: false,
    });
    expect(call(error("SERVICE_UNAVAILABLE"), { attempt: 1, retries: 0 })).toEqual({
      action: "failover",
      reason: "retries_spent",
      retryable: true,
      sameKey: true,
    });
    expect(call(error("SELLER_ERROR", { seller_status: 400 }), { attempt: 3 }).action).toBe("failover");
    expect(call(error("INSUFFICIENT_FUNDS"), { attempt: 3 }).action).toBe("stop");
  });
});

describe("decideNext: call()'s other outcomes", () => {
  it("fails over when the budgets cannot pay for the seller, and after a paid answer the accept test rejected", () => {
    expect(decideNext({ kind: "unaffordable" })).toEqual({ action: "failover", reason: "budget" });
    expect(decideNext({ kind: "rejected" })).toEqual({ action: "failover", reason: "rejected" });
  });
});

describe("decideNext: a seller's refusal of a direct session's grant or voucher", () => {
  it.each<[string, number, Decision["action"], boolean]>([
    // Used up: retired, and the call retried once on a fresh grant.
    ["grant_spent", 1, "retry", true],
    ["grant_spent", 2, "stop", true],
    ["grant_expired", 1, "retry", true],
    ["grant_closed", 1, "retry", true],
    ["grant_settled", 1, "retry", true],
    // A disagreement on what is owed: retired, and the call fails.
    ["payment_behind", 1, "stop", true],
    ["call_in_flight", 1, "stop", true],
    ["voucher_replayed", 1, "stop", true],
    ["owed_decreased", 1, "stop", true],
    ["voucher_over_budget", 1, "stop", true],
    // Anything else: the grant stays, and the call fails.
    ["grant_wrong_agent", 1, "stop", false],
    ["voucher_bad_signature", 1, "stop", false],
  ])("%s on attempt %i: %s, retire %s", (reason, attempt, action, retire) => {
    const decision = decideNext({ kind: "refused", reason, attempt });
    expect(decision).toMatchObject({ action, reason, retire });
  });
});

describe("decideNext: opening a grant (a request with an Idempotency-Key)", () => {
  it("sends it once more with the same key when its outcome is unknown, and never a third time", () => {
    for (const code of ["SERVICE_UNAVAILABLE", "INTERNAL_ERROR"] as const) {
      expect(decideNext({ kind: "request", error: error(code), attempt: 1 })).toMatchObject({
        action: "retry",
        sameKey: true,
      });
      expect(decideNext({ kind: "request", error: error(code), attempt: 2 }).action).toBe("stop");
    }
  });

  it("gives up on any other failure", () => {
    for (const failure of [error("RATE_LIMITED"), error("INSUFFICIENT_FUNDS"), new TypeError("boom")]) {
      expect(decideNext({ kind: "request", error: failure, attempt: 1 }).action).toBe("stop");
    }
  });
});

describe("decideNext: a request made with an access key", () => {
  it("drops a stored key the broker refuses, so that a later attempt buys a new one", () => {
    expect(
      decideNext({ kind: "access-key", error: error("INVALID_API_KEY"), explicitKey: false }),
    ).toMatchObject({ action: "retry", reason: "access_key_dropped" });
  });

  it("leaves the caller's own key, and any other failure, as they are", () => {
    expect(
      decideNext({ kind: "access-key", error: error("INVALID_API_KEY"), explicitKey: true }).action,
    ).toBe("stop");
    expect(decideNext({ kind: "access-key", error: error("SELLER_ERROR"), explicitKey: false }).action).toBe(
      "stop",
    );
  });
});
