import { type ErrorCode, statusForCode } from "../errors/codes.js";
import { MercatoError } from "../errors/mercato-error.js";
import { formatUsd, parseUsd } from "../money/money.js";
import { DIRECT_FAILURE_CODES, type DirectFailure } from "./failures.js";
import type { GrantPayloadValue } from "./grant.js";
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
   * What the buyer owes beyond this voucher by the seller's count, in micros:
   * `max(0, due − voucher.owed)` (see {@link createGrantLedger}). A `payment_behind` refusal is
   * answered with it.
   */
  owedMicros: number;
}

/** The outcome of {@link GrantLedger.admit}. */
export type Admission = { ok: true } | GrantRefusal;

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
   * grant's best even when the call is refused, since it still pays for the calls before it.
   *
   * @param priceMicros the grant's price; optional, and when given it must be the grant's
   *   `price_per_call_usd`: a grant's price is fixed for its life.
   * @throws MercatoError `VALIDATION_ERROR` when `priceMicros` is not the grant's price (a bug).
   */
  admit(grant: GrantPayloadValue, voucher: Voucher, priceMicros?: number): Admission;
  /**
   * Records the outcome of the admitted call `sequence`, after the handler ran and before the
   * answer is sent: only successful calls are owed. Returns false (and changes nothing) when that
   * call is not in flight: never admitted, already settled, or forgotten.
   */
  settle(grantId: string, sequence: number, success: boolean): boolean;
  /** The highest valid voucher seen for the grant: the one to redeem. */
  best(grantId: string): Voucher | undefined;
  /**
   * Refuses every later call of the grant (`grant_closed`, 401): the seller kit learnt from a
   * redemption that the buyer closed it. Its best voucher stays available to redeem.
   */
  close(grantId: string): void;
  /** Drops what the ledger knows of a grant (once it is redeemed and expired), to free memory. */
  forget(grantId: string): void;
}

interface GrantState {
  /** What the first voucher this ledger saw for the grant owed: the calls before it were paid for. */
  base: number;
  successes: number;
  lastSequence: number;
  best: Voucher | undefined;
  inFlight: number | undefined;
}

/**
 * The seller's admission rule of direct mode (see docs/direct-mode.md). For each grant it keeps
 * the latest voucher, what the first voucher it saw owed (`base`: 0 when it saw the grant's first
 * call) and how many calls it served successfully since (`successes`). What the buyer owes by the
 * seller's count is `due = base + successes × price`. A call is admitted only when all of these
 * hold, checked in this order:
 *
 * 1. the voucher names this grant (`voucher_wrong_grant`, 401), the grant has not expired
 *    (`grant_expired`, 401) nor been closed ({@link GrantLedger.close}: `grant_closed`, 401);
 * 2. the voucher owes at most the budget (`voucher_over_budget`, 402);
 * 3. its sequence is above every earlier one (`voucher_replayed`, 409) and it owes at least as much
 *    as the best voucher so far (`owed_decreased`, 409) — the voucher is then kept as the best;
 * 4. no other call of the grant is in flight (`call_in_flight`, 409): calls of a grant go one at a
 *    time, so that the bound below holds;
 * 5. it pays for every success served: `owed ≥ due` (`payment_behind`, 402, with `owedMicros` the
 *    shortfall `due − owed`). An honest buyer's voucher owes exactly `due`, so it is never refused;
 *    the seller never serves more than one successful call not covered by the best voucher it holds
 *    (the one running now): a buyer that stops paying is refused at its first voucher that leaves a
 *    success unpaid, that is on its second unpaid call;
 * 6. one more success stays within the budget: `due + price ≤ budget`, i.e. `(successes + 1) × price
 *    ≤ budget` from the grant's first call (`grant_spent`, 402).
 *
 * Counting from the first voucher seen, rather than from zero, is what keeps a restarted seller
 * process (whose memory is empty) from serving again, for free, every call already paid for: it
 * loses at most the one call the buyer had not paid yet. Each process keeps its own ledger, so a
 * seller running N processes behind a load balancer risks up to N calls per grant.
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
      // Exact: due never passes the budget (rule 6), a safe integer.
      const due = state ? state.base + successes * price : voucher.owedMicros;
      const refuse = (reason: DirectFailure, message: string): GrantRefusal => {
        const code = DIRECT_FAILURE_CODES[reason];
        const owedMicros = Math.max(0, due - voucher.owedMicros);
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
        base: voucher.owedMicros,
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
      if (due > voucher.owedMicros) {
        return refuse(
          "payment_behind",
          `The voucher owes ${formatUsd(voucher.owedMicros)} USD but ${formatUsd(due)} USD is due for the successful calls served: ${formatUsd(due - voucher.owedMicros)} USD short`,
        );
      }
      if (due > budget - price) {
        return refuse("grant_spent", "The grant's budget does not cover another call");
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
