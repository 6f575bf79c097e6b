import type { ErrorCode } from "../errors/codes.js";
import { MercatoError } from "../errors/mercato-error.js";

/**
 * Why a grant, a voucher or a direct call was refused: `details.reason` of the `MercatoError`s
 * thrown by the direct-mode functions, and `reason` of a {@link GrantRefusal}. Each maps to one
 * code of the closed set ({@link DIRECT_FAILURE_CODES}), so no new error code is needed.
 */
export type DirectFailure =
  /** The grant token is not a compact JWS of a grant (bad header, bad encoding). */
  | "grant_malformed"
  /** The grant is signed by a key the broker does not publish. */
  | "grant_unknown_key"
  /** The grant's signature does not verify. */
  | "grant_bad_signature"
  /** The grant's payload is not a {@link GrantPayload}. */
  | "grant_invalid"
  /** The grant's `expires_at` has passed. */
  | "grant_expired"
  /** The grant pays for another agent than the one this seller kit serves. */
  | "grant_wrong_agent"
  /** The seller kit does not take direct calls (it was not told which agent it serves). */
  | "direct_not_accepted"
  /** The broker has settled the grant: no voucher of it is accepted any more. */
  | "grant_settled"
  /** The buyer closed the grant (the seller learnt it when redeeming): its budget is being settled. */
  | "grant_closed"
  /** The voucher header is not `seq=<n>;owed=<micros>;sig=<base64url>`. */
  | "voucher_malformed"
  /** The voucher's signature does not verify with the grant's buyer key (forged, or for another grant). */
  | "voucher_bad_signature"
  /** The voucher names another grant than the one it came with. */
  | "voucher_wrong_grant"
  /** The body's `call_id` is not `{grant_id}:{sequence}` of the grant and voucher it came with. */
  | "call_id_mismatch"
  /** The voucher owes more than the grant's budget. */
  | "voucher_over_budget"
  /** The voucher's sequence is not above the last one the seller accepted: a replay gains nothing. */
  | "voucher_replayed"
  /** The voucher owes less than an earlier one: vouchers are cumulative. */
  | "owed_decreased"
  /** Another call of the grant is still running: calls of one grant go one at a time. */
  | "call_in_flight"
  /** The voucher does not pay for the successful calls already served. */
  | "payment_behind"
  /** One more call would take the grant past its budget. */
  | "grant_spent";

/**
 * The error code of each {@link DirectFailure}: a bad credential is `UNAUTHENTICATED` (401), a
 * replayed or concurrent call `CONFLICT` (409), a call the grant cannot pay for `BUDGET_EXCEEDED`
 * (402: nothing was charged for it).
 */
export const DIRECT_FAILURE_CODES = {
  grant_malformed: "UNAUTHENTICATED",
  grant_unknown_key: "UNAUTHENTICATED",
  grant_bad_signature: "UNAUTHENTICATED",
  grant_invalid: "UNAUTHENTICATED",
  grant_expired: "UNAUTHENTICATED",
  grant_wrong_agent: "UNAUTHENTICATED",
  direct_not_accepted: "UNAUTHENTICATED",
  grant_settled: "CONFLICT",
  grant_closed: "UNAUTHENTICATED",
  voucher_malformed: "UNAUTHENTICATED",
  voucher_bad_signature: "UNAUTHENTICATED",
  voucher_wrong_grant: "UNAUTHENTICATED",
  call_id_mismatch: "UNAUTHENTICATED",
  voucher_over_budget: "BUDGET_EXCEEDED",
  voucher_replayed: "CONFLICT",
  owed_decreased: "CONFLICT",
  call_in_flight: "CONFLICT",
  payment_behind: "BUDGET_EXCEEDED",
  grant_spent: "BUDGET_EXCEEDED",
} as const satisfies Record<DirectFailure, ErrorCode>;

/** The `MercatoError` of a direct-mode failure, with `details.reason` set. */
export function directError(
  reason: DirectFailure,
  message: string,
  details: Record<string, unknown> = {},
): MercatoError {
  return new MercatoError(DIRECT_FAILURE_CODES[reason], message, { details: { reason, ...details } });
}
