import { formatUsd, MercatoError } from "@mercato/protocol";
import { CONTRACT_LIMITS, type ContractIssue } from "../contracts/index.js";
import type { CallOutcomeKind } from "../metrics/port.js";
import type { SellerCallResult } from "./seller-client.js";

/*
 * How a seller call ended, as the invoke answers it: whose fault a failure was, and the error a
 * failed call answers (not charged: the hold is voided).
 */

/**
 * Whose fault a call's end was. Only the seller kit's refusal of the input as invalid (400 with
 * its `VALIDATION_ERROR` envelope) is the buyer's: every other 4xx, a 5xx, a timeout, an
 * unreachable seller or an invalid answer is the seller's. A seller that answers its own failures
 * with that envelope gains nothing by it: the call is not paid, and counts apart in `client_errors`.
 */
export function outcomeOf(result: SellerCallResult): CallOutcomeKind {
  if (result.kind === "ok") return "success";
  if (result.kind === "error" && result.status === 400 && result.sellerCode === "VALIDATION_ERROR") {
    return "client_error";
  }
  return "failure";
}

/** The error of a seller call that failed: `SELLER_TIMEOUT`, `SELLER_UNAVAILABLE` or `SELLER_ERROR`, the voided transaction in `details`. */
export function sellerFailure(
  result: Exclude<SellerCallResult, { kind: "ok" }>,
  context: { transactionId: string; responseTimeMs: number; timeoutMs: number },
): MercatoError {
  const details: Record<string, unknown> = {
    transaction_id: context.transactionId,
    cost_usd: formatUsd(0),
    response_time_ms: context.responseTimeMs,
  };
  switch (result.kind) {
    case "timeout":
      return new MercatoError(
        "SELLER_TIMEOUT",
        `The seller did not answer within ${context.timeoutMs} ms; you were not charged`,
        {
          details,
        },
      );
    case "unavailable":
      return new MercatoError(
        "SELLER_UNAVAILABLE",
        `The seller could not be reached (${result.reason}); you were not charged`,
        {
          details,
        },
      );
    case "error":
      if (result.status !== undefined) details.seller_status = result.status;
      if (result.sellerCode !== undefined) details.seller_error_code = result.sellerCode;
      // The seller's own words, capped and sanitised, so that the buyer can fix its input.
      if (result.sellerError !== undefined) details.seller_error = result.sellerError;
      return new MercatoError("SELLER_ERROR", `The seller ${result.reason}; you were not charged`, {
        details,
      });
  }
}

/** A 2xx whose output breaks the listing's output schema: not charged, the seller's failure. */
export function outputSchemaFailure(
  issues: ContractIssue[],
  context: { transactionId: string; responseTimeMs: number },
): MercatoError {
  const first = issues[0] as ContractIssue;
  return new MercatoError(
    "SELLER_ERROR",
    `The seller's output does not match its output schema (${first.path || "the output"}: ${first.message}); you were not charged`,
    {
      details: {
        reason: "output_schema",
        issues: issues.slice(0, CONTRACT_LIMITS.maxIssues),
        transaction_id: context.transactionId,
        cost_usd: formatUsd(0),
        response_time_ms: context.responseTimeMs,
      },
    },
  );
}
