import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../errors/codes.js";
import { isMercatoError } from "../errors/mercato-error.js";
import { DIRECT_FAILURE_CODES } from "./failures.js";
import type { GrantPayloadValue } from "./grant.js";
import { createGrantLedger, type GrantLedger, grantRefusalError } from "./grant-ledger.js";
import { DURING, grantPayload } from "./test-fixtures.js";
import {
  generateBuyerKeyPair,
  parseVoucherHeader,
  signVoucher,
  type Voucher,
  verifyVoucher,
} from "./voucher.js";

const PRICE = 20_000;
const GRANT_ID = "grt_0123456789ab";
const clock = () => DURING.getTime();

/** A voucher as the ledger sees it after verifyVoucher; the ledger itself trusts the signature. */
const voucher = (sequence: number, owedMicros: number, grantId = GRANT_ID): Voucher => ({
  grantId,
  sequence,
  owedMicros,
  signature: `sig-${sequence}-${owedMicros}`,
});

const grantOf = (budgetMicros: number, priceMicros = PRICE): GrantPayloadValue =>
  grantPayload({
    price_per_call_usd: (priceMicros / 1e6).toFixed(6),
    budget_usd: (budgetMicros / 1e6).toFixed(6),
  });

/** Admits, runs and settles one call; returns the admission. */
function call(ledger: GrantLedger, grant: GrantPayloadValue, v: Voucher, success = true) {
  const admission = ledger.admit(grant, v);
  if (admission.ok) expect(ledger.settle(grant.grant_id, v.sequence, success)).toBe(true);
  return admission;
}

describe("DIRECT_FAILURE_CODES", () => {
  it("maps every failure to a protocol code answered with 401, 402 or 409", () => {
    for (const code of Object.values(DIRECT_FAILURE_CODES)) {
      expect([401, 402, 409]).toContain(ERROR_CODES[code]);
    }
  });
});

describe("the seller's grant ledger", () => {
  it("admits an honest buyer, one call at a time, and keeps the latest voucher as the best", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    expect(ledger.best(GRANT_ID)).toBeUndefined();
    expect(call(ledger, grant, voucher(1, 0))).toEqual({ ok: true });
    expect(call(ledger, grant, voucher(2, PRICE))).toEqual({ ok: true });
    expect(call(ledger, grant, voucher(3, 2 * PRICE), false)).toEqual({ ok: true });
    // The failed call is not owed.
    expect(call(ledger, grant, voucher(4, 2 * PRICE))).toEqual({ ok: true });
    expect(ledger.best(GRANT_ID)).toEqual(voucher(4, 2 * PRICE));
  });

  it("honest sequential buyer over 1,000 calls, seller failing some: never refused, best = price × successes", async () => {
    // The whole path: the buyer signs each voucher, the seller parses the header and verifies it.
    const keys = await generateBuyerKeyPair();
    const grant = grantPayload({ buyer_public_key: keys.publicKey, budget_usd: "100.000000" });
    const ledger = createGrantLedger({ now: clock });
    let owed = 0;
    let successes = 0;
    for (let sequence = 1; sequence <= 1000; sequence++) {
      const signed = await signVoucher({ grantId: GRANT_ID, sequence, owedMicros: owed }, keys.privateKey);
      const verified = await verifyVoucher(parseVoucherHeader(signed.header), grant);
      const admission = ledger.admit(grant, verified, PRICE);
      expect(admission, `call ${sequence}`).toEqual({ ok: true });
      const success = sequence % 7 !== 0 && sequence % 11 !== 3;
      ledger.settle(GRANT_ID, sequence, success);
      if (success) {
        successes += 1;
        owed += PRICE;
      }
      expect(ledger.best(GRANT_ID)?.owedMicros).toBe(owed - (success ? PRICE : 0));
    }
    expect(successes).toBe(780);
    // The buyer's next voucher (or its closing one) pays for everything.
    const last = await signVoucher({ grantId: GRANT_ID, sequence: 1001, owedMicros: owed }, keys.privateKey);
    expect(ledger.admit(grant, await verifyVoucher(last, grant))).toEqual({ ok: true });
    expect(ledger.best(GRANT_ID)?.owedMicros).toBe(PRICE * successes);
    // 1,000 signatures and verifications: seconds on a machine busy with other test runs (the
    // shared 120 s test limit covers it).
  });

  it("refuses a buyer that stops paying at its first voucher that leaves a success unpaid, with the exact amount", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    expect(call(ledger, grant, voucher(1, 0))).toMatchObject({ ok: true });
    expect(call(ledger, grant, voucher(2, PRICE))).toMatchObject({ ok: true });
    expect(call(ledger, grant, voucher(3, 2 * PRICE), false)).toMatchObject({ ok: true });
    expect(call(ledger, grant, voucher(4, 2 * PRICE))).toMatchObject({ ok: true });
    // From here the buyer's vouchers stop growing: 3 successes served, 2 paid.
    const refusal = ledger.admit(grant, voucher(5, 2 * PRICE));
    expect(refusal).toEqual({
      ok: false,
      status: 402,
      code: "BUDGET_EXCEEDED",
      reason: "payment_behind",
      owedMicros: PRICE,
      message:
        "The voucher owes 0.040000 USD but 0.060000 USD is due for the successful calls served: 0.020000 USD short",
    });
    // Refused again and again while it does not pay; the seller served one call it was not paid for.
    expect(ledger.admit(grant, voucher(6, 2 * PRICE))).toMatchObject({
      reason: "payment_behind",
      owedMicros: PRICE,
    });
    expect(ledger.best(GRANT_ID)?.owedMicros).toBe(2 * PRICE);
    // Paying what it owes lets it call again.
    expect(call(ledger, grant, voucher(7, 3 * PRICE))).toEqual({ ok: true });
  });

  it("the one-call bound: whatever a buyer sends, the seller never serves two successes beyond its best voucher", () => {
    const step = fc.record({
      owedStep: fc.constantFrom(-PRICE, 0, 0, PRICE, PRICE, 2 * PRICE, 7),
      sequenceStep: fc.constantFrom(-1, 0, 1, 1, 1, 2),
      success: fc.boolean(),
      settle: fc.constantFrom(true, true, true, false),
    });
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 60 }),
        fc.integer({ min: 0, max: 40 }),
        (steps, budgetCalls) => {
          const budget = budgetCalls * PRICE + 5_000;
          const grant = grantOf(budget);
          const ledger = createGrantLedger({ now: clock });
          let sequence = 0;
          let owed = 0;
          let successes = 0;
          let inFlight: number | undefined;
          // What the first voucher the ledger kept owed (a buyer may start above 0).
          let base: number | undefined;
          for (const s of steps) {
            sequence = Math.max(1, sequence + s.sequenceStep);
            owed = Math.max(0, owed + s.owedStep);
            const best = ledger.best(GRANT_ID)?.owedMicros ?? 0;
            const due = base === undefined ? owed : base + successes * PRICE;
            const admission = ledger.admit(grant, voucher(sequence, owed));
            if (base === undefined && owed <= budget) base = owed;
            if (admission.ok) {
              // Admitted only with every earlier success paid and room for this one.
              expect(due).toBeLessThanOrEqual(owed);
              expect(due + PRICE).toBeLessThanOrEqual(budget);
              expect(inFlight).toBeUndefined();
              inFlight = sequence;
            } else if (admission.reason === "payment_behind") {
              expect(admission.owedMicros).toBe(due - owed);
            } else if (admission.reason === "voucher_replayed" || admission.reason === "owed_decreased") {
              expect(ledger.best(GRANT_ID)?.owedMicros ?? 0).toBe(best);
            }
            if (inFlight !== undefined && s.settle) {
              expect(ledger.settle(GRANT_ID, inFlight, s.success)).toBe(true);
              if (s.success) successes += 1;
              inFlight = undefined;
            }
            // The seller's exposure: successes not covered by the best voucher it holds.
            const covered = ledger.best(GRANT_ID)?.owedMicros ?? 0;
            expect(successes * PRICE - covered).toBeLessThanOrEqual(PRICE);
            expect(covered).toBeGreaterThanOrEqual(best);
            expect(covered).toBeLessThanOrEqual(budget);
            expect(successes * PRICE).toBeLessThanOrEqual(budget);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("any honest sequence is admitted until the budget, and best() ends at price × successes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 50_000 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 200, maxLength: 200 }),
        (outcomes, price, gaps) => {
          const budget = price * 150 + (price > 1 ? price - 1 : 0);
          const grant = grantOf(budget, price);
          const ledger = createGrantLedger({ now: clock });
          let sequence = 0;
          let successes = 0;
          for (const [i, success] of outcomes.entries()) {
            // Sequences only grow, with gaps where a call never reached this seller.
            sequence += gaps[i] ?? 1;
            const admission = ledger.admit(grant, voucher(sequence, successes * price), price);
            if (!admission.ok) {
              // The only refusal an honest buyer meets: the budget cannot pay one more call.
              expect(admission).toMatchObject({ reason: "grant_spent", owedMicros: 0 });
              expect((successes + 1) * price).toBeGreaterThan(budget);
              break;
            }
            ledger.settle(GRANT_ID, sequence, success);
            if (success) successes += 1;
          }
          ledger.admit(grant, voucher(sequence + 1, successes * price), price);
          expect(ledger.best(GRANT_ID)?.owedMicros).toBe(successes * price);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a restarted seller (an empty ledger) counts from the first voucher it sees: it loses one call at most", () => {
    const grant = grantOf(1_000_000);
    const before = createGrantLedger({ now: clock });
    for (let sequence = 1; sequence <= 10; sequence++)
      call(before, grant, voucher(sequence, (sequence - 1) * PRICE));
    // 10 successes served, 9 paid for by voucher 10. The process restarts.
    const after = createGrantLedger({ now: clock });
    // An honest buyer goes on as before and is admitted.
    expect(call(after, grant, voucher(11, 10 * PRICE))).toEqual({ ok: true });
    expect(call(after, grant, voucher(12, 11 * PRICE))).toEqual({ ok: true });
    // A buyer replaying an old voucher after a restart gets one call, not the nine it paid for.
    const replayed = createGrantLedger({ now: clock });
    expect(call(replayed, grant, voucher(2, PRICE))).toEqual({ ok: true });
    expect(replayed.admit(grant, voucher(3, PRICE))).toMatchObject({
      reason: "payment_behind",
      owedMicros: PRICE,
    });
    expect(replayed.admit(grant, voucher(4, 2 * PRICE))).toEqual({ ok: true });
  });

  it("refuses a replayed or older voucher (409), which gains nothing", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    call(ledger, grant, voucher(1, 0));
    call(ledger, grant, voucher(2, PRICE));
    for (const replay of [voucher(2, PRICE), voucher(1, 0), voucher(2, 5 * PRICE)]) {
      expect(ledger.admit(grant, replay)).toMatchObject({
        ok: false,
        status: 409,
        code: "CONFLICT",
        reason: "voucher_replayed",
      });
    }
    expect(ledger.best(GRANT_ID)).toEqual(voucher(2, PRICE));
    expect(ledger.settle(GRANT_ID, 2, true)).toBe(false);
    // Successes are unchanged: the buyer's honest next voucher is admitted.
    expect(call(ledger, grant, voucher(3, 2 * PRICE))).toEqual({ ok: true });
  });

  it("refuses a voucher owing less than an earlier one (409), and keeps the earlier one", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    call(ledger, grant, voucher(1, 0));
    call(ledger, grant, voucher(2, PRICE));
    expect(ledger.admit(grant, voucher(3, PRICE - 1))).toMatchObject({
      status: 409,
      code: "CONFLICT",
      reason: "owed_decreased",
      owedMicros: PRICE + 1,
    });
    expect(ledger.best(GRANT_ID)).toEqual(voucher(2, PRICE));
  });

  it("refuses a voucher over the budget (402)", () => {
    const ledger = createGrantLedger({ now: clock });
    expect(ledger.admit(grantOf(100_000), voucher(1, 100_001))).toMatchObject({
      status: 402,
      code: "BUDGET_EXCEEDED",
      reason: "voucher_over_budget",
    });
    expect(ledger.best(GRANT_ID)).toBeUndefined();
  });

  it("refuses a call the budget cannot pay (402 grant_spent), keeping its voucher for redemption", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(3 * PRICE + PRICE - 1);
    for (let sequence = 1; sequence <= 3; sequence++) {
      expect(call(ledger, grant, voucher(sequence, (sequence - 1) * PRICE))).toEqual({ ok: true });
    }
    expect(ledger.admit(grant, voucher(4, 3 * PRICE))).toMatchObject({
      status: 402,
      code: "BUDGET_EXCEEDED",
      reason: "grant_spent",
      owedMicros: 0,
    });
    expect(ledger.best(GRANT_ID)).toEqual(voucher(4, 3 * PRICE));
    // A budget below one price admits nothing.
    expect(createGrantLedger({ now: clock }).admit(grantOf(PRICE - 1), voucher(1, 0))).toMatchObject({
      reason: "grant_spent",
    });
  });

  it("refuses an expired grant (401) and a voucher for another grant", () => {
    const grant = grantOf(1_000_000);
    const expiry = Date.parse(grant.expires_at);
    const late = createGrantLedger({ now: () => expiry });
    expect(late.admit(grant, voucher(1, 0))).toMatchObject({
      status: 401,
      code: "UNAUTHENTICATED",
      reason: "grant_expired",
    });
    expect(createGrantLedger({ now: () => expiry - 1 }).admit(grant, voucher(1, 0))).toEqual({ ok: true });
    expect(createGrantLedger({ now: clock }).admit(grant, voucher(1, 0, "grt_otherother01"))).toMatchObject({
      status: 401,
      reason: "voucher_wrong_grant",
    });
  });

  it("admits one call of a grant at a time: a concurrent call is refused (409) until the first settles", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    expect(ledger.admit(grant, voucher(1, 0))).toEqual({ ok: true });
    expect(ledger.admit(grant, voucher(2, 0))).toMatchObject({ status: 409, reason: "call_in_flight" });
    expect(ledger.settle(GRANT_ID, 2, true)).toBe(false);
    expect(ledger.settle(GRANT_ID, 1, true)).toBe(true);
    expect(ledger.settle(GRANT_ID, 1, true)).toBe(false);
    expect(ledger.settle("grt_unknownunknown", 1, true)).toBe(false);
    // Voucher 2 was used up by the refused call; the next one must pay for call 1.
    expect(ledger.admit(grant, voucher(3, 0))).toMatchObject({ reason: "payment_behind", owedMicros: PRICE });
    expect(call(ledger, grant, voucher(4, PRICE))).toEqual({ ok: true });
  });

  it("checks an explicit price against the grant's, which is fixed for the grant's life", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    expect(ledger.admit(grant, voucher(1, 0), PRICE)).toEqual({ ok: true });
    expect(() => ledger.admit(grant, voucher(2, PRICE), PRICE + 1)).toThrow(/own price/);
  });

  it("refuses the calls of a grant the buyer closed, keeping its best voucher; forgets a grant", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    call(ledger, grant, voucher(1, 0));
    ledger.close(GRANT_ID);
    expect(ledger.admit(grant, voucher(2, PRICE))).toMatchObject({ status: 401, reason: "grant_closed" });
    expect(ledger.best(GRANT_ID)).toEqual(voucher(1, 0));
    ledger.forget(GRANT_ID);
    expect(ledger.best(GRANT_ID)).toBeUndefined();
    expect(ledger.admit(grant, voucher(3, PRICE))).toEqual({ ok: true });
  });

  it("grantRefusalError turns a refusal into the MercatoError a seller kit answers", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    call(ledger, grant, voucher(1, 0));
    const refusal = ledger.admit(grant, voucher(2, 0));
    expect(refusal.ok).toBe(false);
    if (refusal.ok) return;
    const error = grantRefusalError(refusal);
    expect(isMercatoError(error)).toBe(true);
    expect(error.toEnvelope("req_1")).toEqual({
      error: {
        code: "BUDGET_EXCEEDED",
        message: refusal.message,
        details: { reason: "payment_behind", owed_usd: "0.020000" },
        request_id: "req_1",
      },
    });
    expect(error.status).toBe(402);
  });
});
