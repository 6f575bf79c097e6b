import { type ErrorCode, statusForCode } from "../errors/codes.js";
import { MercatoError } from "../errors/mercato-error.js";
import type { GrantPayloadValue } from "../grants/grant.js";
import { formatUsd, parseUsd } from "../money/money.js";
import { DIRECT_FAILURE_CODES, type DirectFailure } from "./failures.js";
import type { Voucher } from "./voucher.js";

/** A direct call the seller must not serve, as data: the kit answers it with `status` and `code`. */
export interface GrantRefusal {
  ok: false;
  /** HTTP status to answer with: 401, 402 or 409. */
  status: number;
  code: ErrorCode;
  reason: DirectFailure;
  message: string;
  /**
   * What this voucher lacks, by the seller's count, to pay for the successes served and the call it
   * came with, in micros: `max(0, due + price − voucher.owed)` (see {@link createGrantLedger}). A
   * `payment_behind` refusal is answered with it: a grant's first call on a voucher owing 0 lacks
   * one price.
   */
  owedMicros: number;
}

/** The outcome of {@link GrantLedger.admit}. */
export type Admission = { ok: true } | GrantRefusal;

/** What a seller redeems for a grant: its best voucher, and what it earned by its own count. */
export interface GrantClaim {
  /** The highest voucher the buyer sent: it prepaid every call the seller admitted. */
  voucher: Voucher;
  /**
   * What the seller's successful calls cost, `base + successes × price`, never more than the
   * voucher owes: the prepaid unit of a call that failed (or was refused) is not earned.
   */
  earnedMicros: number;
}

/** Options of {@link createGrantLedger}. */
export interface GrantLedgerOptions {
  /** Clock, ms since the epoch (default `Date.now`): a grant whose `expires_at` ≤ now is refused. */
  now?: () => number;
}

/** The seller's bookkeeping of direct calls, per grant, in memory. */
export interface GrantLedger {
  /**
   * Decides whether to serve a call that came with `grant` (from `verifyGrant`) and `voucher`
   * (from `verifyVoucher`). Admitted calls must be {@link GrantLedger.settle}d. A refused call
   * must not run; a voucher that passed the replay, monotonicity and budget checks is kept as the
   * grant's best even when the call is refused, since it still pays for the successes before it.
   *
   * @param priceMicros the grant's price; optional, and when given it must be the grant's
   *   `price_per_call_usd`: a grant's price is fixed for its life.
   * @throws MercatoError `VALIDATION_ERROR` when `priceMicros` is not the grant's price (a bug).
   */
  admit(grant: GrantPayloadValue, voucher: Voucher, priceMicros?: number): Admission;
  /**
   * Records the outcome of the admitted call `sequence`, after the handler ran and before the
   * answer is sent: only successful calls are earned. Returns false (and changes nothing) when that
   * call is not in flight: never admitted, already settled, or forgotten.
   */
  settle(grantId: string, sequence: number, success: boolean): boolean;
  /** The highest valid voucher seen for the grant. */
  best(grantId: string): Voucher | undefined;
  /**
   * The grant's best voucher and what the seller earned by its own count: what an honest seller
   * redeems (`earned_usd`). Undefined when the ledger knows no voucher of the grant.
   */
  claim(grantId: string): GrantClaim | undefined;
  /**
   * Refuses every later call of the grant (`grant_closed`, 401): the seller kit learnt from a
   * redemption that the buyer closed it. Its claim stays available to redeem.
   */
  close(grantId: string): void;
  /** Drops what the ledger knows of a grant (once it is redeemed and expired), to free memory. */
  forget(grantId: string): void;
}

interface GrantState {
  /** What the calls before the first voucher this ledger saw cost: that voucher owed this plus one price. */
  base: number;
  /** Price of one call, micros. */
  price: number;
  successes: number;
  lastSequence: number;
  best: Voucher | undefined;
  inFlight: number | undefined;
}

/**
 * The seller's admission rule of direct mode (see docs/direct-mode.md, §4). Vouchers are prepaid:
 * the voucher of a call pays for every earlier success and for the call itself. For each grant the
 * ledger keeps the latest voucher, what the calls before the first voucher it saw cost (`base`: that
 * voucher's amount less one price; 0 when it saw the grant's first call, sequence 1) and how many calls it
 * served successfully since (`successes`). What the earlier successes cost by the seller's count is
 * `due = base + successes × price`. A call is admitted only when all of these hold, checked in this
 * order:
 *
 * 1. the voucher names this grant (`voucher_wrong_grant`, 401), the grant has not expired
 *    (`grant_expired`, 401) nor been closed ({@link GrantLedger.close}: `grant_closed`, 401);
 * 2. the voucher owes at most the budget (`voucher_over_budget`, 402);
 * 3. its sequence is above every earlier one (`voucher_replayed`, 409) and it owes at least as much
 *    as the best voucher so far (`owed_decreased`, 409) — the voucher is then kept as the best;
 * 4. no other call of the grant is in flight (`call_in_flight`, 409): calls of a grant go one at a
 *    time, so that every call is paid before it runs;
 * 5. one more call stays within the budget: `due + price ≤ budget` (`grant_spent`, 402);
 * 6. it pays for the successes served **and this call**: `owed ≥ due + price` (`payment_behind`,
 *    402, with `owedMicros` the shortfall `due + price − owed`). A voucher owing 0 is therefore
 *    refused on any call, a grant's first included. An honest buyer's voucher owes exactly
 *    `due + price` (a failed call's prepaid unit carries over to the next voucher), so it is never
 *    refused but by rule 5.
 *
 * The seller never runs a call the voucher it holds does not pay for: a buyer takes nothing unpaid.
 * What the seller earned is {@link GrantLedger.claim}'s `earnedMicros`, `min(best.owed, due)`: an
 * honest seller never redeems the prepaid unit of a call that failed.
 *
 * Counting from the first voucher seen, rather than from zero, is what keeps a restarted seller
 * process (whose memory is empty) from serving again, for free, every call already paid for. It
 * takes that voucher's word that the call before it failed, so a buyer may have one call unpaid
 * per grant across each restart. Each process keeps its own ledger: a seller running N processes
 * behind a load balancer may serve up to N − 1 unpaid calls per grant (route a grant's calls to one
 * process to keep it at none).
 *
 * @example
 * const ledger = createGrantLedger();
 * const admission = ledger.admit(grant, voucher);
 * if (!admission.ok) throw grantRefusalError(admission);
 * try { output = await handler(input); ledger.settle(grant.grant_id, voucher.sequence, true); }
 * catch (error) { ledger.settle(grant.grant_id, voucher.sequence, false); throw error; }
 */
export function createGrantLedger(options: GrantLedgerOptions = {}): GrantLedger {
  const now = options.now ?? Date.now;
  const grants = new Map<string, GrantState>();
  const closed = new Set<string>();

  return {
    admit(grant, voucher, priceMicros) {
      const price = Number(parseUsd(grant.price_per_call_usd));
      const budget = Number(parseUsd(grant.budget_usd));
      if (priceMicros !== undefined && priceMicros !== price) {
        throw new MercatoError(
          "VALIDATION_ERROR",
          `A grant's calls cost its own price (${price} micros), not ${priceMicros}`,
        );
      }
      const state = grants.get(grant.grant_id);
      const successes = state?.successes ?? 0;
      // First sight: the voucher prepays this call, so the calls before it cost one price less
      // (none at all before a grant's first call). Exact: due never passes the budget (rule 5).
      const due = state
        ? state.base + successes * price
        : voucher.sequence === 1
          ? 0
          : Math.max(0, voucher.owedMicros - price);
      const refuse = (reason: DirectFailure, message: string): GrantRefusal => {
        const code = DIRECT_FAILURE_CODES[reason];
        const owedMicros = Math.max(0, due + price - voucher.owedMicros);
        return { ok: false, status: statusForCode(code), code, reason, message, owedMicros };
      };

      if (voucher.grantId !== grant.grant_id) {
        return refuse(
          "voucher_wrong_grant",
          `The voucher is for grant ${voucher.grantId}, not ${grant.grant_id}`,
        );
      }
      if (Date.parse(grant.expires_at) <= now()) {
        return refuse("grant_expired", `The grant expired at ${grant.expires_at}`);
      }
      if (closed.has(grant.grant_id)) return refuse("grant_closed", "The buyer closed this grant");
      if (voucher.owedMicros > budget) {
        return refuse("voucher_over_budget", "The voucher owes more than the grant's budget");
      }
      if (state && voucher.sequence <= state.lastSequence) {
        return refuse(
          "voucher_replayed",
          `Voucher ${voucher.sequence} was replayed: the last one was ${state.lastSequence}`,
        );
      }
      if (state?.best && voucher.owedMicros < state.best.owedMicros) {
        return refuse(
          "owed_decreased",
          `The voucher owes ${formatUsd(voucher.owedMicros)} USD, less than an earlier ${formatUsd(state.best.owedMicros)}`,
        );
      }
      const entry = state ?? {
        base: due,
        price,
        successes: 0,
        lastSequence: 0,
        best: undefined,
        inFlight: undefined,
      };
      grants.set(grant.grant_id, entry);
      entry.lastSequence = voucher.sequence;
      const { grantId, sequence, owedMicros, signature } = voucher;
      entry.best = { grantId, sequence, owedMicros, signature };

      if (entry.inFlight !== undefined) {
        return refuse("call_in_flight", `Call ${entry.inFlight} of this grant is still running`);
      }
      if (due > budget - price) {
        return refuse("grant_spent", "The grant's budget does not cover another call");
      }
      if (due + price > voucher.owedMicros) {
        return refuse(
          "payment_behind",
          `The voucher owes ${formatUsd(voucher.owedMicros)} USD but ${formatUsd(due + price)} USD is due for the successful calls served and this one, paid up front: ${formatUsd(due + price - voucher.owedMicros)} USD short`,
        );
      }
      entry.inFlight = voucher.sequence;
      return { ok: true };
    },

    settle(grantId, sequence, success) {
      const entry = grants.get(grantId);
      if (entry?.inFlight !== sequence) return false;
      entry.inFlight = undefined;
      if (success) entry.successes += 1;
      return true;
    },

    best(grantId) {
      const best = grants.get(grantId)?.best;
      return best && { ...best };
    },

    claim(grantId) {
      const entry = grants.get(grantId);
      if (entry?.best === undefined) return undefined;
      const earned = entry.base + entry.successes * entry.price;
      return { voucher: { ...entry.best }, earnedMicros: Math.min(entry.best.owedMicros, earned) };
    },

    close(grantId) {
      closed.add(grantId);
    },

    forget(grantId) {
      grants.delete(grantId);
      closed.delete(grantId);
    },
  };
}

/**
 * The `MercatoError` a seller kit answers a {@link GrantRefusal} with: its code and status, and
 * `details` `{reason, owed_usd}`.
 */
export function grantRefusalError(refusal: GrantRefusal): MercatoError {
  return new MercatoError(refusal.code, refusal.message, {
    status: refusal.status,
    details: { reason: refusal.reason, owed_usd: formatUsd(refusal.owedMicros) },
  });
}
