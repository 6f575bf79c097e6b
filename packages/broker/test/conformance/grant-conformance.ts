import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../src/app/store.js";
import type { NewGrant } from "../../src/grants/port.js";
import { settleDueGrants, settleGrant } from "../../src/grants/settle.js";
import { apiKeyRecord } from "../support/records.js";

/**
 * The grant store's conformance suite (direct mode), for every `Store`: recording vouchers, closing,
 * the settlement steps through the ledger, the sweeper's due list and usage-report counting. Each
 * test ends with the ledger audit.
 *
 * @example
 * describeGrantConformance("sqlite", () => createSqliteStore({ path: ":memory:" }));
 */
export function describeGrantConformance(name: string, makeStore: () => Store | Promise<Store>): void {
  describe(`Grant conformance: ${name}`, () => {
    const USD = 1_000_000;
    const PRICE = 20_000;
    const T0 = "2026-01-10T12:00:00.000Z";
    const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();
    let store: Store;
    let n = 0;
    let buyer: string;
    let seller: string;
    let agentId: string;

    const serial = () => String(++n).padStart(8, "0");
    const newAccount = async (): Promise<string> => {
      const id = `acct_grant${serial()}`;
      const keyId = `key_grant${serial()}`;
      await store.createAccount(
        { id, name: id, email: null, createdAt: T0 },
        apiKeyRecord({
          id: keyId,
          accountId: id,
          prefix: "mk_grant",
          hash: keyId.padEnd(64, "0").replace(/[^0-9a-f]/g, "c"),
          createdAt: T0,
        }),
      );
      return id;
    };

    beforeEach(async () => {
      store = await makeStore();
      buyer = await newAccount();
      seller = await newAccount();
      agentId = `agent_grant${serial()}`;
      await store.insertAgent({
        id: agentId,
        ownerId: seller,
        name: "Direct seller",
        description: "Sells direct calls",
        category: "crypto",
        tags: [],
        version: "1.0.0",
        apiEndpoint: "https://seller.example/agent",
        status: "active",
        pricing: { model: "per_call", priceMicros: PRICE, currency: "USD", tier: "basic", minCalls: 1 },
        createdAt: T0,
      });
      await store.credit({
        id: `credit_${serial()}`,
        accountId: buyer,
        amount: 10 * USD,
        reference: "test",
        at: T0,
      });
    });
    afterEach(async () => {
      try {
        const audit = await store.audit();
        expect(audit.violations).toEqual([]);
      } finally {
        await store.close();
      }
    });

    /** Holds the budget and records the grant, as `POST /grants` does. */
    const open = async (budget = USD, ttlSeconds = 3600): Promise<NewGrant> => {
      const id = `grt_${serial()}abcd`;
      const expiresAt = at(ttlSeconds);
      await store.hold({
        id,
        buyerId: buyer,
        sellerAccountId: seller,
        agentId,
        amount: budget,
        expiresAt: at(ttlSeconds + 86_400),
        at: T0,
      });
      const grant: NewGrant = {
        id,
        agentId,
        buyerId: buyer,
        sellerAccountId: seller,
        keyId: null,
        endpoint: "https://seller.example/agent",
        priceMicros: PRICE,
        budgetMicros: budget,
        buyerPublicKey: "A".repeat(43),
        token: "header.payload.signature",
        issuedAt: T0,
        expiresAt,
      };
      const recorded = await store.insertGrant(grant);
      expect(recorded).toMatchObject({
        ...grant,
        bestOwedMicros: 0,
        bestSequence: 0,
        bestVoucherOwedMicros: 0,
        bestSignature: null,
        closedAt: null,
        settledAt: null,
      });
      return grant;
    };
    /** A voucher and the claim it backs: by default all it owes, as the buyer's final voucher claims. */
    const voucher = (sequence: number, owedMicros: number, claimMicros = owedMicros) => ({
      sequence,
      owedMicros,
      signature: `sig${sequence}`,
      claimMicros,
    });

    it("keeps the highest claim, each within its voucher: a seller's earnings or the buyer's final voucher", async () => {
      const grant = await open(10 * PRICE);
      // The seller redeems the voucher of a failed call (prepaid: 5 prices) with its 4 successes.
      expect(await store.recordGrantVoucher(grant.id, voucher(5, 5 * PRICE, 4 * PRICE))).toMatchObject({
        bestOwedMicros: 4 * PRICE,
        bestVoucherOwedMicros: 5 * PRICE,
        bestSequence: 5,
        bestSignature: "sig5",
      });
      // The buyer's final voucher owes the same 4 successes: nothing changes.
      expect(await store.recordGrantVoucher(grant.id, voucher(6, 4 * PRICE))).toMatchObject({
        bestOwedMicros: 4 * PRICE,
        bestVoucherOwedMicros: 5 * PRICE,
        bestSequence: 5,
      });
      // A claim above what its voucher owes is never recorded, however high.
      expect(await store.recordGrantVoucher(grant.id, voucher(7, 5 * PRICE, 5 * PRICE + 1))).toMatchObject({
        bestOwedMicros: 4 * PRICE,
        bestSequence: 5,
      });
      expect(await store.recordGrantVoucher(grant.id, voucher(8, 11 * PRICE, 10 * PRICE))).toMatchObject({
        bestOwedMicros: 4 * PRICE,
      });
      // A higher claim on the same voucher (the seller earned the prepaid call after all) counts.
      expect(await store.recordGrantVoucher(grant.id, voucher(5, 5 * PRICE, 5 * PRICE))).toMatchObject({
        bestOwedMicros: 5 * PRICE,
        bestVoucherOwedMicros: 5 * PRICE,
      });
    });

    it("settles at the best claim, not at what the voucher behind it owes", async () => {
      const grant = await open(USD);
      // The seller earned 3 calls; the voucher it holds prepaid a 4th, which failed. The buyer
      // closes owing less than the seller earned: the higher claim, the seller's, is captured.
      await store.recordGrantVoucher(grant.id, voucher(4, 4 * PRICE, 3 * PRICE));
      await store.recordGrantVoucher(grant.id, voucher(5, 2 * PRICE));
      await store.closeGrant(grant.id, at(1));
      expect(await settleDueGrants(store, at(200), 120_000)).toBe(1);
      expect(await store.getGrant(grant.id)).toMatchObject({
        settlingMicros: 3 * PRICE,
        capturedMicros: 3 * PRICE,
        bestVoucherOwedMicros: 4 * PRICE,
      });
      expect(await store.getCharge(grant.id)).toMatchObject({ captured: 3 * PRICE, fee: 6_000 });
      expect((await store.getBalance(buyer, at(200))).available).toBe(10 * USD - 3 * PRICE);
      expect((await store.getBalance(seller, at(200))).earnings).toBe(3 * PRICE - 6_000);
    });

    it("keeps the highest voucher only, and none above the budget", async () => {
      const grant = await open(100_000);
      expect((await store.recordGrantVoucher(grant.id, voucher(3, 40_000)))?.bestOwedMicros).toBe(40_000);
      // A lower or equal voucher (a replay, an older one) changes nothing.
      expect(await store.recordGrantVoucher(grant.id, voucher(2, 20_000))).toMatchObject({
        bestOwedMicros: 40_000,
        bestSequence: 3,
        bestSignature: "sig3",
      });
      expect(await store.recordGrantVoucher(grant.id, voucher(9, 40_000))).toMatchObject({ bestSequence: 3 });
      expect((await store.recordGrantVoucher(grant.id, voucher(7, 100_001)))?.bestOwedMicros).toBe(40_000);
      expect((await store.recordGrantVoucher(grant.id, voucher(6, 100_000)))?.bestOwedMicros).toBe(100_000);
      expect(await store.recordGrantVoucher("grt_missing000", voucher(1, 1))).toBeUndefined();
      expect(await store.getGrant("grt_missing000")).toBeUndefined();
    });

    it("keeps the highest of concurrent vouchers", async () => {
      const grant = await open(10 * USD);
      const owed = Array.from({ length: 40 }, (_, i) => (i + 1) * PRICE);
      await Promise.all(
        owed.reverse().map((amount, i) => store.recordGrantVoucher(grant.id, voucher(i + 1, amount))),
      );
      expect((await store.getGrant(grant.id))?.bestOwedMicros).toBe(40 * PRICE);
    });

    it("settles a closed grant once: the best voucher captured with the fee, the rest released", async () => {
      const grant = await open(USD);
      await store.recordGrantVoucher(grant.id, voucher(5, 4 * PRICE));
      expect((await store.closeGrant(grant.id, at(10)))?.closedAt).toBe(at(10));
      // Closing again keeps the first close.
      expect((await store.closeGrant(grant.id, at(11)))?.closedAt).toBe(at(10));
      // Not due before the grace period has passed.
      expect(await store.listGrantsDue(at(129), 120_000, 10)).toEqual([]);
      expect(await store.listGrantsDue(at(130), 120_000, 10)).toEqual([grant.id]);
      // Two brokers settling at once: one capture.
      const [a, b] = await Promise.all([
        settleGrant(store, grant.id, at(130)),
        settleGrant(store, grant.id, at(131)),
      ]);
      expect(a?.capturedMicros).toBe(4 * PRICE);
      expect(b?.capturedMicros).toBe(4 * PRICE);
      const charge = await store.getCharge(grant.id);
      expect(charge).toMatchObject({ status: "completed", held: USD, captured: 4 * PRICE, fee: 8_000 });
      const buyerBalance = await store.getBalance(buyer, at(130));
      expect(buyerBalance).toMatchObject({ available: 10 * USD - 4 * PRICE, held: 0 });
      expect((await store.getBalance(seller, at(130))).earnings).toBe(4 * PRICE - 8_000);
      // Settled: no later voucher counts, and it is no longer due.
      expect((await store.recordGrantVoucher(grant.id, voucher(9, 8 * PRICE)))?.bestOwedMicros).toBe(
        4 * PRICE,
      );
      expect(await store.listGrantsDue(at(500), 120_000, 10)).toEqual([]);
    });

    it("settles an open grant after expiry plus grace with what the seller redeemed", async () => {
      const grant = await open(USD, 600);
      await store.recordGrantVoucher(grant.id, voucher(11, 10 * PRICE));
      expect(await settleDueGrants(store, at(600 + 119), 120_000)).toBe(0);
      expect(await settleDueGrants(store, at(600 + 120), 120_000)).toBe(1);
      expect(await store.getGrant(grant.id)).toMatchObject({
        capturedMicros: 10 * PRICE,
        settledAt: at(720),
        closedAt: null,
      });
      expect((await store.getBalance(buyer, at(720))).available).toBe(10 * USD - 10 * PRICE);
    });

    it("voids the whole hold when nothing is owed", async () => {
      const grant = await open(USD);
      await store.closeGrant(grant.id, at(1));
      expect(await settleDueGrants(store, at(200), 120_000)).toBe(1);
      expect(await store.getGrant(grant.id)).toMatchObject({ capturedMicros: 0, settlingMicros: 0 });
      expect(await store.getCharge(grant.id)).toMatchObject({ status: "voided" });
      expect((await store.getBalance(buyer, at(200))).available).toBe(10 * USD);
    });

    it("finishes a settlement cut short after its capture", async () => {
      const grant = await open(USD);
      await store.recordGrantVoucher(grant.id, voucher(2, PRICE));
      await store.beginGrantSettlement(grant.id);
      // A broker crashed here, after fixing the amount and capturing, before recording it.
      await store.capture({ id: `${grant.id}:capture`, holdId: grant.id, amount: PRICE, at: at(5) });
      // A voucher arriving now is not recorded: the amount is fixed.
      expect((await store.recordGrantVoucher(grant.id, voucher(3, 2 * PRICE)))?.bestOwedMicros).toBe(PRICE);
      const settled = await settleGrant(store, grant.id, at(6));
      expect(settled).toMatchObject({ capturedMicros: PRICE, settledAt: at(6) });
      expect(await store.getCharge(grant.id)).toMatchObject({ captured: PRICE, status: "completed" });
    });

    type Side = "buyer" | "seller";
    type Outcome = "success" | "failure" | "client_error";
    const claim = (
      grantId: string,
      sequence: number,
      source: Side,
      outcome: Outcome,
      responseTimeMs = 40,
    ) => ({
      grantId,
      sequence,
      source,
      outcome,
      responseTimeMs,
    });
    const count = async (...claims: ReturnType<typeof claim>[]) => store.countGrantReports(claims);
    /** The (sequence, outcome) pairs counted, sorted by sequence. */
    const calls = (counted: { sequence: number; outcome: string }[]) =>
      counted.map(({ sequence, outcome }) => [sequence, outcome]).sort(([a], [b]) => Number(a) - Number(b));

    it("counts a success only as far as the grant's best voucher pays for it, and keeps the rest pending", async () => {
      const grant = await open(10 * PRICE);
      // Nothing paid: successes wait, from either side.
      expect(
        (await count(claim(grant.id, 1, "seller", "success"), claim(grant.id, 2, "seller", "success")))
          .verdicts,
      ).toEqual(["pending", "pending"]);
      // The seller redeems a voucher paying for one call: the first pending success counts at the next batch.
      await store.recordGrantVoucher(grant.id, voucher(3, PRICE));
      const next = await count(claim(grant.id, 3, "seller", "failure"));
      expect(next.verdicts).toEqual(["counted"]);
      expect(calls(next.counted)).toEqual([
        [1, "success"],
        [3, "failure"],
      ]);
      expect(next.counted[0]).toMatchObject({ agentId, buyerId: buyer, grantId: grant.id, source: "seller" });
      // Paid for two: the next success counts at once, the one after waits.
      await store.recordGrantVoucher(grant.id, voucher(4, 2 * PRICE));
      const more = await count(
        claim(grant.id, 4, "seller", "success"),
        claim(grant.id, 5, "seller", "success"),
      );
      expect(more.verdicts).toEqual(["pending", "pending"]);
      expect(calls(more.counted)).toEqual([[2, "success"]]);
      expect(await store.getGrant(grant.id)).toMatchObject({ reportedSuccesses: 2, reportedFailures: 1 });
    });

    it("never counts a buyer's failure or client error, and a buyer's success only once the grant settled", async () => {
      const grant = await open(10 * PRICE);
      await store.recordGrantVoucher(grant.id, voucher(5, 2 * PRICE));
      const buyerReports = await count(
        claim(grant.id, 1, "buyer", "success"),
        claim(grant.id, 2, "buyer", "failure"),
        claim(grant.id, 3, "buyer", "client_error"),
        claim(grant.id, 4, "buyer", "success"),
        claim(grant.id, 6, "buyer", "success"),
      );
      expect(buyerReports).toEqual({
        verdicts: ["pending", "ignored", "ignored", "pending", "pending"],
        counted: [],
      });
      // The buyer's failure was not even kept: the seller's report of call 2 decides it.
      expect((await count(claim(grant.id, 2, "seller", "success"))).verdicts).toEqual(["counted"]);
      await store.closeGrant(grant.id, at(10));
      await settleGrant(store, grant.id, at(10));
      // Settled, paid for 2 successes: one of the seller's is counted, so one buyer success (the lowest sequence).
      const released = await store.releaseSettledGrantReports(10);
      expect(calls(released)).toEqual([[1, "success"]]);
      expect(released[0]).toMatchObject({ source: "buyer", responseTimeMs: 40 });
      expect(await store.releaseSettledGrantReports(10)).toEqual([]);
      expect(await store.getGrant(grant.id)).toMatchObject({ reportedSuccesses: 2, reportedFailures: 0 });
      // Nothing more is paid: later reports of successes are ignored.
      expect((await count(claim(grant.id, 7, "buyer", "success"))).verdicts).toEqual(["ignored"]);
    });

    it("decides a call by the seller's report, whatever the order of the two sides' reports", async () => {
      const outcomes: unknown[] = [];
      for (const sellerFirst of [false, true]) {
        const grant = await open(10 * PRICE);
        await store.recordGrantVoucher(grant.id, voucher(3, 2 * PRICE));
        const buyerSays = [
          claim(grant.id, 1, "buyer", "success", 1),
          claim(grant.id, 2, "buyer", "success", 1),
        ];
        const sellerSays = [
          claim(grant.id, 1, "seller", "success", 90),
          claim(grant.id, 2, "seller", "failure", 90),
        ];
        const counted = [];
        for (const batch of sellerFirst ? [sellerSays, buyerSays] : [buyerSays, sellerSays]) {
          counted.push(...(await store.countGrantReports(batch)).counted);
        }
        await store.closeGrant(grant.id, at(10));
        await settleGrant(store, grant.id, at(10));
        counted.push(...(await store.releaseSettledGrantReports(10)));
        outcomes.push(
          counted.map(({ sequence, outcome, source, responseTimeMs }) => [
            sequence,
            outcome,
            source,
            responseTimeMs,
          ]),
        );
        expect(await store.getGrant(grant.id)).toMatchObject({ reportedSuccesses: 1, reportedFailures: 1 });
      }
      expect(outcomes[0]).toEqual([
        [1, "success", "seller", 90],
        [2, "failure", "seller", 90],
      ]);
      expect(outcomes[1]).toEqual(outcomes[0]);
    });

    it("counts the seller's failures and client errors apart, once per call, up to budget / price each", async () => {
      const grant = await open(3 * PRICE);
      const first = await count(
        claim(grant.id, 1, "seller", "failure"),
        claim(grant.id, 1, "seller", "failure"),
        claim(grant.id, 2, "seller", "client_error"),
        claim("grt_unknown0000", 1, "seller", "failure"),
      );
      expect(first.verdicts).toEqual(["counted", "ignored", "counted", "ignored"]);
      // The buyer's report of a call the seller decided: ignored.
      expect((await count(claim(grant.id, 1, "buyer", "success"))).verdicts).toEqual(["ignored"]);
      const more = await store.countGrantReports(
        Array.from({ length: 4 }, (_, i) =>
          claim(grant.id, 10 + i, "seller", i % 2 === 0 ? "failure" : "client_error"),
        ),
      );
      // Cap: 3 failures and 3 client errors in all (budget / price).
      expect(more.verdicts).toEqual(["counted", "counted", "counted", "counted"]);
      expect(
        (await count(claim(grant.id, 20, "seller", "failure"), claim(grant.id, 21, "seller", "client_error")))
          .verdicts,
      ).toEqual(["ignored", "ignored"]);
      expect(await store.getGrant(grant.id)).toMatchObject({
        reportedSuccesses: 0,
        reportedFailures: 3,
        reportedClientErrors: 3,
      });
      expect(await store.countGrantReports([])).toEqual({ verdicts: [], counted: [] });
    });

    it("keeps at most budget / price of the buyer's claims, so that they cannot crowd out the seller's", async () => {
      const grant = await open(3 * PRICE);
      const flood = await store.countGrantReports(
        Array.from({ length: 5 }, (_, i) => claim(grant.id, 100 + i, "buyer", "success")),
      );
      expect(flood.verdicts).toEqual(["pending", "pending", "pending", "ignored", "ignored"]);
      await store.recordGrantVoucher(grant.id, voucher(4, 3 * PRICE));
      const seller = await count(
        claim(grant.id, 1, "seller", "success"),
        claim(grant.id, 2, "seller", "success"),
        claim(grant.id, 3, "seller", "success"),
      );
      expect(seller.verdicts).toEqual(["counted", "counted", "counted"]);
      await store.closeGrant(grant.id, at(10));
      await settleGrant(store, grant.id, at(10));
      // The paid successes went to the seller's reports: the buyer's claims get nothing.
      expect(await store.releaseSettledGrantReports(10)).toEqual([]);
      expect(await store.getGrant(grant.id)).toMatchObject({ reportedSuccesses: 3 });
    });

    it("drops the remembered reports of grants settled long enough ago, once each", async () => {
      const old = await open(USD);
      const recent = await open(USD);
      const reportsOf = (grantId: string, from: number) =>
        Array.from({ length: 3 }, (_, i) => claim(grantId, from + i, "seller", "failure"));
      await store.countGrantReports([...reportsOf(old.id, 1), ...reportsOf(recent.id, 1)]);
      for (const [grant, when] of [
        [old, at(10)],
        [recent, at(1000)],
      ] as const) {
        await store.closeGrant(grant.id, when);
        await settleGrant(store, grant.id, when);
      }
      expect(await store.pruneGrantReports(at(9), 10)).toBe(0);
      expect(await store.pruneGrantReports(at(500), 10)).toBe(1);
      expect(await store.pruneGrantReports(at(500), 10)).toBe(0);
      // The recent grant still knows its reported calls; the old one's memory is gone (its reports
      // no longer count anyway), its counters stay.
      expect((await store.countGrantReports(reportsOf(recent.id, 1))).verdicts).toEqual([
        "ignored",
        "ignored",
        "ignored",
      ]);
      expect(await store.getGrant(old.id)).toMatchObject({ reportedFailures: 3 });
      expect(await store.pruneGrantReports(at(2000), 10)).toBe(1);
    });
  });
}
