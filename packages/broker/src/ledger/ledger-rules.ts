import { formatUsd, MercatoError } from "@mercato/protocol";
import { assertAmount } from "../platform/amounts.js";
import type { HoldRequest } from "./port.js";
import type { ChargeRow, FundsRow } from "./rows.js";
import { SYSTEM_ID } from "./transfers.js";

// The ledger's rules, the one source both engines follow: which requests are refused before they
// reach the ledger (ids, amounts), and why a hold, a capture or a void is refused, as a result code
// per request in a fixed precedence (as TigerBeetle answers each transfer). The SQLite ledger finds
// the code in TypeScript (`holdRefusalCode`, `resolutionRefusalCode`); the PostgreSQL ledger's
// functions `ledger_hold` and `ledger_resolve` find it in PL/pgSQL (pg-refusal-codes.ts) and answer
// it as their outcome. Either way the code becomes its MercatoError here (`holdRefusal`,
// `resolutionRefusal`), from the figures it was decided on: never re-derived.
//
// | precedence | code                 | when                                                            | error                          |
// |------------|----------------------|-----------------------------------------------------------------|--------------------------------|
// | hold 1     | `insufficient_funds` | no wallet, or available < amount (pending holds count)          | INSUFFICIENT_FUNDS             |
// | hold 2     | `monthly_cap`        | a monthly cap, and spent this month + held + amount > cap       | SPEND_CAP_EXCEEDED (monthly)   |
// | hold 3     | `daily_cap`          | a daily cap, and captured today + held + amount > daily cap     | SPEND_CAP_EXCEEDED (daily)     |
// | hold 4     | `key_cap`            | a key's cap, and the key's spending + amount > its cap          | SPEND_CAP_EXCEEDED (key)       |
// | resolve 1  | `no_hold`            | no charge with the hold's id                                    | NOT_FOUND                      |
// | resolve 2  | `resolved`           | the charge is no longer pending (completed or voided)           | CONFLICT (already …)           |
// | resolve 3  | `expired`            | a capture at or after the hold's expiry                         | CONFLICT (expired)             |
// | resolve 4  | `exceeds_hold`       | a capture of more than the hold                                 | VALIDATION_ERROR               |
//
// A refused request whose transfer id is taken is answered as a replay instead (the first answer,
// or CONFLICT for an id used with other fields): the result code `taken`.

/** Why a hold is refused, in precedence order (the first that applies is the answer). */
export const HOLD_REFUSAL_CODES = ["insufficient_funds", "monthly_cap", "daily_cap", "key_cap"] as const;
export type HoldRefusalCode = (typeof HOLD_REFUSAL_CODES)[number];

/** Why a capture or a void is refused, in precedence order. */
export const RESOLUTION_REFUSAL_CODES = ["no_hold", "resolved", "expired", "exceeds_hold"] as const;
export type ResolutionRefusalCode = (typeof RESOLUTION_REFUSAL_CODES)[number];

/** The caps a hold is checked against: a key's own (with its id), and the account's daily one. */
export interface HoldCaps {
  key: { id: string; cap: number } | undefined;
  dailyCap: number | null;
}

/**
 * A caller-chosen transfer id: not empty, and not one of the ledger's own.
 * @throws MercatoError `VALIDATION_ERROR`.
 */
export function assertCallerId(id: string): void {
  if (typeof id !== "string" || id.length === 0 || id.startsWith(SYSTEM_ID)) {
    throw new MercatoError(
      "VALIDATION_ERROR",
      `A transfer id must be non-empty and not start with "${SYSTEM_ID}"`,
      {
        details: { issues: [{ path: "id", message: "invalid transfer id" }] },
      },
    );
  }
}

/**
 * Checks a hold request's id, amount and caps, and returns the caps that apply: a key's own cap only
 * with a key.
 * @throws MercatoError `VALIDATION_ERROR`, `INVALID_AMOUNT`.
 */
export function checkHold(request: HoldRequest): {
  keyId: string | null;
  keyCap: number | null;
  dailyCap: number | null;
} {
  assertCallerId(request.id);
  assertAmount(request.amount, 1);
  if (request.keySpendCap != null) assertAmount(request.keySpendCap, 0);
  if (request.dailyCap != null) assertAmount(request.dailyCap, 0);
  const keyId = request.keyId ?? null;
  return {
    keyId,
    keyCap: keyId === null ? null : (request.keySpendCap ?? null),
    dailyCap: request.dailyCap ?? null,
  };
}

/** The UTC calendar month of a timestamp, `YYYY-MM`. */
export function monthOf(timestamp: string): string {
  return timestamp.slice(0, 7);
}

/** The UTC day of a timestamp, `YYYY-MM-DD`. */
export function dayOf(timestamp: string): string {
  return timestamp.slice(0, 10);
}

/**
 * The hold rule (see the table above): the code of the first refusal that applies to a hold of
 * `amount` on `funds` (undefined for a wallet that does not exist), or undefined when it is placed.
 */
export function holdRefusalCode(
  funds: FundsRow | undefined,
  amount: number,
  { key, dailyCap }: HoldCaps,
): HoldRefusalCode | undefined {
  if (funds === undefined || funds.available < amount) return "insufficient_funds";
  const { cap, held } = funds;
  if (cap !== null && (funds.spent ?? 0) + held + amount > cap) return "monthly_cap";
  if (dailyCap !== null && (funds.spent_today ?? 0) + held + amount > dailyCap) return "daily_cap";
  if (key && (funds.key_spent ?? 0) + amount > key.cap) return "key_cap";
  return undefined;
}

/** The error of a hold refused with `code`, from the figures it was decided on. */
export function holdRefusal(
  code: HoldRefusalCode,
  funds: FundsRow | undefined,
  amount: number,
  { key, dailyCap }: HoldCaps,
): MercatoError {
  const held = funds?.held ?? 0;
  switch (code) {
    case "insufficient_funds": {
      const available = funds?.available ?? 0;
      return new MercatoError(
        "INSUFFICIENT_FUNDS",
        "The wallet's available balance does not cover this call",
        {
          details: { available_usd: formatUsd(Math.max(available, 0)), required_usd: formatUsd(amount) },
        },
      );
    }
    case "monthly_cap":
      return new MercatoError("SPEND_CAP_EXCEEDED", "This call would pass the account's monthly spend cap", {
        details: {
          monthly_cap_usd: formatUsd(funds?.cap ?? 0),
          spent_usd: formatUsd(funds?.spent ?? 0),
          held_usd: formatUsd(held),
          required_usd: formatUsd(amount),
        },
      });
    case "daily_cap":
      return new MercatoError(
        "SPEND_CAP_EXCEEDED",
        "This call would pass the daily spending limit of new accounts; it lifts as the account ages",
        {
          details: {
            daily_limit_usd: formatUsd(dailyCap ?? 0),
            spent_today_usd: formatUsd((funds?.spent_today ?? 0) + held),
            held_usd: formatUsd(held),
            required_usd: formatUsd(amount),
          },
        },
      );
    case "key_cap":
      return new MercatoError("SPEND_CAP_EXCEEDED", "This call would pass the access key's spend cap", {
        details: {
          key_id: key?.id,
          key_spend_cap_usd: formatUsd(key?.cap ?? 0),
          key_spent_usd: formatUsd(funds?.key_spent ?? 0),
          required_usd: formatUsd(amount),
        },
      });
  }
}

/**
 * The resolution rule (see the table above): the code of the first refusal that applies to
 * resolving `charge` (undefined when it does not exist) at `at`: a capture of `amount`, or a void
 * (`amount` undefined). Undefined when it resolves.
 */
export function resolutionRefusalCode(
  charge: ChargeRow | undefined,
  amount: number | undefined,
  at: string,
): ResolutionRefusalCode | undefined {
  if (charge === undefined) return "no_hold";
  if (charge.status !== "pending") return "resolved";
  if (amount !== undefined && charge.expires_at <= at) return "expired";
  if (amount !== undefined && amount > charge.held) return "exceeds_hold";
  return undefined;
}

/** The error of a capture or void of `holdId` (by transfer `transferId`) refused with `code`. */
export function resolutionRefusal(
  code: ResolutionRefusalCode,
  charge: ChargeRow | undefined,
  request: { holdId: string; transferId: string; amount?: number },
): MercatoError {
  const { holdId, transferId } = request;
  switch (code) {
    case "no_hold":
      return new MercatoError("NOT_FOUND", `No hold ${holdId}`, { details: { hold_id: holdId } });
    case "resolved":
      return new MercatoError("CONFLICT", `Hold ${holdId} is already ${charge?.status}`, {
        details: { hold_id: holdId, status: charge?.status, transfer_id: transferId },
      });
    case "expired":
      return new MercatoError("CONFLICT", `Hold ${holdId} expired at ${charge?.expires_at}`, {
        details: { hold_id: holdId, status: "expired" },
      });
    case "exceeds_hold":
      return new MercatoError(
        "VALIDATION_ERROR",
        `Cannot capture more than the ${formatUsd(charge?.held ?? 0)} USD held`,
        {
          details: { held_usd: formatUsd(charge?.held ?? 0), amount_usd: formatUsd(request.amount ?? 0) },
        },
      );
  }
}

export { assertAmount };
