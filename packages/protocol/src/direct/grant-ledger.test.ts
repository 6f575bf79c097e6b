import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../errors/codes.js";
import { isMercatoError } from "../errors/mercato-error.js";
import type { GrantPayloadValue } from "../grants/grant.js";
import { DIRECT_FAILURE_CODES } from "./failures.js";
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
  it("admits an honest buyer, one prepaid call at a time, keeps the latest voucher as the best and earns only successes", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    expect(ledger.best(GRANT_ID)).toBeUndefined();
    expect(ledger.claim(GRANT_ID)).toBeUndefined();
    expect(call(ledger, grant, voucher(1, PRICE))).toEqual({ ok: true });
    expect(call(ledger, grant, voucher(2, 2 * PRICE))).toEqual({ ok: true });
    expect(call(ledger, grant, voucher(3, 3 * PRICE), false)).toEqual({ ok: true });
    // The failed call's prepaid unit carries over: the next voucher owes the same.
    expect(ledger.claim(GRANT_ID)).toEqual({ voucher: voucher(3, 3 * PRICE), earnedMicros: 2 * PRICE });
    expect(call(ledger, grant, voucher(4, 3 * PRICE))).toEqual({ ok: true });
    expect(ledger.best(GRANT_ID)).toEqual(voucher(4, 3 * PRICE));
    expect(ledger.claim(GRANT_ID)).toEqual({ voucher: voucher(4, 3 * PRICE), earnedMicros: 3 * PRICE });
    // A failed last call: the seller holds a voucher owing one price more than it earned.
    expect(call(ledger, grant, voucher(5, 4 * PRICE), false)).toEqual({ ok: true });
    expect(ledger.claim(GRANT_ID)).toEqual({ voucher: voucher(5, 4 * PRICE), earnedMicros: 3 * PRICE });
  });

  it("refuses a voucher owing 0 on a grant's first call (402 payment_behind, one price short), before anything runs", () => {
    const ledger = createGrantLedger({ now: clock });
    for (let i = 0; i < 30; i++) {
      const grantId = `grt_farm${String(i).padStart(8, "0")}`;
      const grant = grantPayload({
        grant_id: grantId,
        price_per_call_usd: "0.020000",
        budget_usd: "1.000000",
      });
      const refusal = ledger.admit(grant, voucher(1, 0, grantId));
      expect(refusal).toEqual({
        ok: false,
        status: 402,
        code: "BUDGET_EXCEEDED",
        reason: "payment_behind",
        owedMicros: PRICE,
        message:
          "The voucher owes 0.000000 USD but 0.020000 USD is due for the successful calls served and this one, paid up front: 0.020000 USD short",
      });
      // Nothing is in flight (a settle finds no call), nothing is earned.
      expect(ledger.settle(grantId, 1, true)).toBe(false);
      expect(ledger.claim(grantId)).toEqual({ voucher: voucher(1, 0, grantId), earnedMicros: 0 });
      // A voucher owing less than a price is refused too; one owing the price is admitted.
      expect(ledger.admit(grant, voucher(2, PRICE - 1, grantId))).toMatchObject({
        reason: "payment_behind",
        owedMicros: 1,
      });
      expect(call(ledger, grant, voucher(3, PRICE, grantId))).toEqual({ ok: true });
      expect(ledger.claim(grantId)?.earnedMicros).toBe(PRICE);
    }
  });

  it("honest sequential buyer over 1,000 calls, seller failing some: never refused, the claim = price × successes", async () => {
    // The whole path: the buyer signs each voucher, the seller parses the header and verifies it.
    const keys = await generateBuyerKeyPair();
    const grant = grantPayload({ buyer_public_key: keys.publicKey, budget_usd: "100.000000" });
    const ledger = createGrantLedger({ now: clock });
    let successes = 0;
    for (let sequence = 1; sequence <= 1000; sequence++) {
      // Prepaid: every success so far and this call.
      const owed = (successes + 1) * PRICE;
      const signed = await signVoucher({ grantId: GRANT_ID, sequence, owedMicros: owed }, keys.privateKey);
      const verified = await verifyVoucher(parseVoucherHeader(signed.header), grant);
      const admission = ledger.admit(grant, verified, PRICE);
      expect(admission, `call ${sequence}`).toEqual({ ok: true });
      const success = sequence % 7 !== 0 && sequence % 11 !== 3;
      ledger.settle(GRANT_ID, sequence, success);
      if (success) successes += 1;
      expect(ledger.best(GRANT_ID)?.owedMicros).toBe(owed);
      expect(ledger.claim(GRANT_ID)?.earnedMicros).toBe(successes * PRICE);
    }
    expect(successes).toBe(780);
    // The buyer's next voucher prepays one more call; the seller has earned every success.
    const next = await signVoucher(
      { grantId: GRANT_ID, sequence: 1001, owedMicros: (successes + 1) * PRICE },
      keys.privateKey,
    );
    expect(ledger.admit(grant, await verifyVoucher(next, grant))).toEqual({ ok: true });
    expect(ledger.claim(GRANT_ID)?.earnedMicros).toBe(PRICE * successes);
    // 1,000 signatures and verifications: seconds on a machine busy with other test runs (the
    // shared 120 s test limit covers it).
  });

  it("refuses a buyer that stops paying before its first unpaid call runs, with the exact amount", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    expect(call(ledger, grant, voucher(1, PRICE))).toMatchObject({ ok: true });
    expect(call(ledger, grant, voucher(2, 2 * PRICE))).toMatchObject({ ok: true });
    expect(call(ledger, grant, voucher(3, 3 * PRICE), false)).toMatchObject({ ok: true });
    expect(call(ledger, grant, voucher(4, 3 * PRICE))).toMatchObject({ ok: true });
    // From here the buyer's vouchers stop growing: 3 successes served, all 3 paid, the next not.
    const refusal = ledger.admit(grant, voucher(5, 3 * PRICE));
    expect(refusal).toEqual({
      ok: false,
      status: 402,
      code: "BUDGET_EXCEEDED",
      reason: "payment_behind",
      owedMicros: PRICE,
      message:
        "The voucher owes 0.060000 USD but 0.080000 USD is due for the successful calls served and this one, paid up front: 0.020000 USD short",
    });
    // Refused again and again while it does not pay; the seller served no call it was not paid for.
    expect(ledger.admit(grant, voucher(6, 3 * PRICE))).toMatchObject({
      reason: "payment_behind",
      owedMicros: PRICE,
    });
    expect(ledger.best(GRANT_ID)?.owedMicros).toBe(3 * PRICE);
    expect(ledger.claim(GRANT_ID)?.earnedMicros).toBe(3 * PRICE);
    // Paying for the call up front lets it call again.
    expect(call(ledger, grant, voucher(7, 4 * PRICE))).toEqual({ ok: true });
  });

  it("the prepaid bound: whatever a buyer sends, the seller never runs a call its best voucher does not pay for", () => {
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
        fc.integer({ min: 0, max: 3 }),
        (steps, budgetCalls, startSequence) => {
          const budget = budgetCalls * PRICE + 5_000;
          const grant = grantOf(budget);
          const ledger = createGrantLedger({ now: clock });
          let sequence = startSequence;
          let owed = 0;
          let successes = 0;
          let inFlight: number | undefined;
          // What the calls before the first voucher the ledger kept cost: 0 from a grant's first
          // call, one price less than that voucher after a restart.
          let base: number | undefined;
          for (const s of steps) {
            sequence = Math.max(1, sequence + s.sequenceStep);
            owed = Math.max(0, owed + s.owedStep);
            const best = ledger.best(GRANT_ID)?.owedMicros ?? 0;
            const firstSight = sequence === 1 ? 0 : Math.max(0, owed - PRICE);
            const due = base === undefined ? firstSight : base + successes * PRICE;
            const admission = ledger.admit(grant, voucher(sequence, owed));
            if (base === undefined && owed <= budget) base = firstSight;
            if (admission.ok) {
              // Admitted only with every earlier success and this call paid, within the budget.
              expect(due + PRICE).toBeLessThanOrEqual(owed);
              expect(due + PRICE).toBeLessThanOrEqual(budget);
              expect(inFlight).toBeUndefined();
              inFlight = sequence;
            } else if (admission.reason === "payment_behind") {
              expect(admission.owedMicros).toBe(due + PRICE - owed);
              expect(admission.owedMicros).toBeGreaterThan(0);
            } else if (admission.reason === "voucher_replayed" || admission.reason === "owed_decreased") {
              expect(ledger.best(GRANT_ID)?.owedMicros ?? 0).toBe(best);
            }
            if (inFlight !== undefined && s.settle) {
              expect(ledger.settle(GRANT_ID, inFlight, s.success)).toBe(true);
              if (s.success) successes += 1;
              inFlight = undefined;
            }
            // The seller's exposure: every success served, and the call running, are paid by the
            // best voucher it holds (beyond what the calls before its first voucher cost).
            const covered = ledger.best(GRANT_ID)?.owedMicros ?? 0;
            const running = inFlight === undefined ? 0 : 1;
            if (successes + running > 0) {
              expect((base ?? 0) + (successes + running) * PRICE).toBeLessThanOrEqual(covered);
            }
            expect(covered).toBeGreaterThanOrEqual(best);
            expect(covered).toBeLessThanOrEqual(budget);
            expect(successes * PRICE).toBeLessThanOrEqual(budget);
            // What an honest seller redeems: exactly what it earned, never more than the voucher.
            const claim = ledger.claim(GRANT_ID);
            if (base !== undefined) {
              expect(claim?.earnedMicros).toBe(Math.min(covered, base + successes * PRICE));
              expect(claim?.earnedMicros).toBe(base + successes * PRICE);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("any honest sequence is admitted until the budget, and the claim ends at price × successes", () => {
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
            const owed = (successes + 1) * price;
            const admission = ledger.admit(grant, voucher(sequence, owed), price);
            if (!admission.ok) {
              // The only refusal an honest buyer meets: its voucher cannot prepay one more call
              // within the budget (the SDK does not send it: it opens a fresh grant).
              expect(admission).toMatchObject({ reason: "voucher_over_budget", owedMicros: 0 });
              expect(owed).toBeGreaterThan(budget);
              break;
            }
            ledger.settle(GRANT_ID, sequence, success);
            if (success) successes += 1;
          }
          expect(ledger.claim(GRANT_ID)?.earnedMicros).toBe(successes * price);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a restarted seller (an empty ledger) counts from the first voucher it sees: one unpaid call at most", () => {
    const grant = grantOf(1_000_000);
    const before = createGrantLedger({ now: clock });
    for (let sequence = 1; sequence <= 10; sequence++)
      call(before, grant, voucher(sequence, sequence * PRICE));
    // 10 successes served, all 10 paid for by voucher 10. The process restarts.
    expect(before.claim(GRANT_ID)?.earnedMicros).toBe(10 * PRICE);
    const after = createGrantLedger({ now: clock });
    // An honest buyer goes on as before and is admitted; the new process earns every success.
    expect(call(after, grant, voucher(11, 11 * PRICE))).toEqual({ ok: true });
    expect(call(after, grant, voucher(12, 12 * PRICE))).toEqual({ ok: true });
    expect(after.claim(GRANT_ID)?.earnedMicros).toBe(12 * PRICE);
    // A buyer that claims, after the restart, that its last call failed gets that one call...
    const cheated = createGrantLedger({ now: clock });
    expect(call(cheated, grant, voucher(11, 10 * PRICE))).toEqual({ ok: true });
    // ...and no other: the next call must prepay it.
    expect(cheated.admit(grant, voucher(12, 10 * PRICE))).toMatchObject({
      reason: "payment_behind",
      owedMicros: PRICE,
    });
    expect(call(cheated, grant, voucher(13, 11 * PRICE))).toEqual({ ok: true });
    // A buyer replaying an old voucher after a restart gets one call, not the ones it paid for.
    const replayed = createGrantLedger({ now: clock });
    expect(call(replayed, grant, voucher(2, 2 * PRICE))).toEqual({ ok: true });
    expect(replayed.admit(grant, voucher(3, 2 * PRICE))).toMatchObject({
      reason: "payment_behind",
      owedMicros: PRICE,
    });
    expect(replayed.admit(grant, voucher(4, 3 * PRICE))).toEqual({ ok: true });
  });

  it("refuses a replayed or older voucher (409), which gains nothing", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    call(ledger, grant, voucher(1, PRICE));
    call(ledger, grant, voucher(2, 2 * PRICE));
    for (const replay of [voucher(2, 2 * PRICE), voucher(1, PRICE), voucher(2, 5 * PRICE)]) {
      expect(ledger.admit(grant, replay)).toMatchObject({
        ok: false,
        status: 409,
        code: "CONFLICT",
        reason: "voucher_replayed",
      });
    }
    expect(ledger.best(GRANT_ID)).toEqual(voucher(2, 2 * PRICE));
    expect(ledger.settle(GRANT_ID, 2, true)).toBe(false);
    // Successes are unchanged: the buyer's honest next voucher is admitted.
    expect(ledger.claim(GRANT_ID)?.earnedMicros).toBe(2 * PRICE);
    expect(call(ledger, grant, voucher(3, 3 * PRICE))).toEqual({ ok: true });
  });

  it("refuses a voucher owing less than an earlier one (409), and keeps the earlier one", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    call(ledger, grant, voucher(1, PRICE));
    call(ledger, grant, voucher(2, 2 * PRICE));
    expect(ledger.admit(grant, voucher(3, 2 * PRICE - 1))).toMatchObject({
      status: 409,
      code: "CONFLICT",
      reason: "owed_decreased",
      owedMicros: PRICE + 1,
    });
    expect(ledger.best(GRANT_ID)).toEqual(voucher(2, 2 * PRICE));
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

  it("refuses a call the budget cannot pay (402 grant_spent), keeping its voucher, which earns nothing more", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(3 * PRICE + PRICE - 1);
    for (let sequence = 1; sequence <= 3; sequence++) {
      expect(call(ledger, grant, voucher(sequence, sequence * PRICE))).toEqual({ ok: true });
    }
    expect(ledger.admit(grant, voucher(4, 4 * PRICE - 1))).toMatchObject({
      status: 402,
      code: "BUDGET_EXCEEDED",
      reason: "grant_spent",
      owedMicros: 1,
    });
    expect(ledger.best(GRANT_ID)).toEqual(voucher(4, 4 * PRICE - 1));
    expect(ledger.claim(GRANT_ID)?.earnedMicros).toBe(3 * PRICE);
    // A budget below one price admits nothing.
    expect(createGrantLedger({ now: clock }).admit(grantOf(PRICE - 1), voucher(1, PRICE - 1))).toMatchObject({
      reason: "grant_spent",
    });
  });

  it("refuses an expired grant (401) and a voucher for another grant", () => {
    const grant = grantOf(1_000_000);
    const expiry = Date.parse(grant.expires_at);
    const late = createGrantLedger({ now: () => expiry });
    expect(late.admit(grant, voucher(1, PRICE))).toMatchObject({
      status: 401,
      code: "UNAUTHENTICATED",
      reason: "grant_expired",
    });
    expect(createGrantLedger({ now: () => expiry - 1 }).admit(grant, voucher(1, PRICE))).toEqual({
      ok: true,
    });
    expect(
      createGrantLedger({ now: clock }).admit(grant, voucher(1, PRICE, "grt_otherother01")),
    ).toMatchObject({
      status: 401,
      reason: "voucher_wrong_grant",
    });
  });

  it("admits one call of a grant at a time: a concurrent call is refused (409) until the first settles", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    expect(ledger.admit(grant, voucher(1, PRICE))).toEqual({ ok: true });
    expect(ledger.admit(grant, voucher(2, PRICE))).toMatchObject({ status: 409, reason: "call_in_flight" });
    expect(ledger.settle(GRANT_ID, 2, true)).toBe(false);
    expect(ledger.settle(GRANT_ID, 1, true)).toBe(true);
    expect(ledger.settle(GRANT_ID, 1, true)).toBe(false);
    expect(ledger.settle("grt_unknownunknown", 1, true)).toBe(false);
    // Voucher 2 was used up by the refused call; the next one must pay for call 1 and itself.
    expect(ledger.admit(grant, voucher(3, PRICE))).toMatchObject({
      reason: "payment_behind",
      owedMicros: PRICE,
    });
    expect(call(ledger, grant, voucher(4, 2 * PRICE))).toEqual({ ok: true });
  });

  it("checks an explicit price against the grant's, which is fixed for the grant's life", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    expect(ledger.admit(grant, voucher(1, PRICE), PRICE)).toEqual({ ok: true });
    expect(() => ledger.admit(grant, voucher(2, 2 * PRICE), PRICE + 1)).toThrow(/own price/);
  });

  it("refuses the calls of a grant the buyer closed, keeping its claim; forgets a grant", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    call(ledger, grant, voucher(1, PRICE));
    ledger.close(GRANT_ID);
    expect(ledger.admit(grant, voucher(2, 2 * PRICE))).toMatchObject({ status: 401, reason: "grant_closed" });
    expect(ledger.best(GRANT_ID)).toEqual(voucher(1, PRICE));
    expect(ledger.claim(GRANT_ID)).toEqual({ voucher: voucher(1, PRICE), earnedMicros: PRICE });
    ledger.forget(GRANT_ID);
    expect(ledger.best(GRANT_ID)).toBeUndefined();
    expect(ledger.claim(GRANT_ID)).toBeUndefined();
    expect(ledger.admit(grant, voucher(3, 2 * PRICE))).toEqual({ ok: true });
  });

  it("grantRefusalError turns a refusal into the MercatoError a seller kit answers", () => {
    const ledger = createGrantLedger({ now: clock });
    const grant = grantOf(1_000_000);
    call(ledger, grant, voucher(1, PRICE));
    const refusal = ledger.admit(grant, voucher(2, PRICE));
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
