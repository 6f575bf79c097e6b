import { type ErrorCode, isMercatoError } from "@mercato/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiKeyRecord } from "../../src/accounts/port.js";
import type { Store } from "../../src/app/store.js";
import type { ChargeRecord, HoldRequest, TopupRecord } from "../../src/ledger/port.js";
import { apiKeyRecord } from "../support/records.js";

/**
 * The ledger conformance suite: every `Store` implementation (SQLite today, PostgreSQL later) must
 * pass it. Each test ends with `audit()`, which must find no violation. Call it from the
 * implementation's test file with a factory of fresh, empty stores.
 *
 * @example
 * describeLedgerConformance("sqlite", () => createSqliteStore({ path: ":memory:" }));
 */
export function describeLedgerConformance(name: string, makeStore: () => Store | Promise<Store>): void {
  describe(`Ledger conformance: ${name}`, () => {
    const USD = 1_000_000;
    const T0 = "2026-01-10T12:00:00.000Z";
    const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();
    let store: Store;
    let n = 0;

    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      try {
        const audit = await store.audit();
        expect(audit.violations).toEqual([]);
        expect(audit.ok).toBe(true);
      } finally {
        await store.close();
      }
    });

    const serial = () => String(++n).padStart(8, "0");
    /** A marketplace account, created as the ledger's foreign keys require. */
    const newAccount = async (): Promise<string> => {
      const id = `acct_ledger${serial()}`;
      const keyId = `key_ledger${serial()}`;
      const key: ApiKeyRecord = apiKeyRecord({
        id: keyId,
        accountId: id,
        prefix: "mk_ledger",
        hash: keyId.padEnd(64, "0").replace(/[^0-9a-f]/g, "b"),
        createdAt: T0,
      });
      await store.createAccount({ id, name: `Account ${id}`, email: null, createdAt: T0 }, key);
      return id;
    };
    const topUp = (accountId: string, amount: number, id = `credit_${serial()}`) =>
      store.credit({ id, accountId, amount, reference: "test top-up", at: at(0) });
    /** A buyer with `funds` in the wallet and a seller with nothing. */
    const parties = async (funds = 10 * USD) => {
      const buyer = await newAccount();
      const seller = await newAccount();
      if (funds > 0) await topUp(buyer, funds);
      return { buyer, seller };
    };
    const holdOf = (buyer: string, seller: string, overrides: Partial<HoldRequest> = {}): HoldRequest => ({
      id: `txn_${serial()}`,
      buyerId: buyer,
      sellerAccountId: seller,
      agentId: `agent_of_${seller}`,
      keyId: null,
      amount: USD,
      expiresAt: at(60),
      at: at(0),
      ...overrides,
    });
    /** The buyer's and the seller's figures that the ledger moves. */
    const figures = async (accountId: string, when = at(0)) => {
      const { available, held, earnings } = await store.getBalance(accountId, when);
      return { available, held, earnings };
    };
    /** The error code a promise rejects with; fails the test when it fulfils or throws a non-Mercato error. */
    const codeOf = async (promise: Promise<unknown>): Promise<ErrorCode> => {
      const outcome = await promise.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      if (!("error" in outcome))
        throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
      if (!isMercatoError(outcome.error)) throw outcome.error;
      return outcome.error.code;
    };
    /** The error a promise rejects with, as its code and details. */
    const refusalOf = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        (value) => {
          throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
        },
        (reason: unknown) => reason,
      );
      if (!isMercatoError(error)) throw error;
      return { code: error.code, details: error.details };
    };
    const spendOf = async (keyId: string) => (await store.getKeySpend([keyId])).get(keyId);

    describe("credits", () => {
      it("credits a wallet once per transfer id", async () => {
        const { buyer } = await parties(0);
        await topUp(buyer, 10 * USD, "credit_once");
        await topUp(buyer, 10 * USD, "credit_once");
        await Promise.all([topUp(buyer, 10 * USD, "credit_once"), topUp(buyer, 10 * USD, "credit_once")]);
        expect(await figures(buyer)).toEqual({ available: 10 * USD, held: 0, earnings: 0 });
        const audit = await store.audit();
        expect(audit.totals).toEqual({
          toppedUp: 10 * USD,
          paidOut: 0,
          wallets: 10 * USD,
          held: 0,
          earnings: 0,
          revenue: 0,
        });
      });

      it("refuses a reused credit id with other fields, and moves nothing", async () => {
        const { buyer } = await parties(0);
        const other = await newAccount();
        await topUp(buyer, 10 * USD, "credit_reused");
        expect(await codeOf(topUp(buyer, 11 * USD, "credit_reused"))).toBe("CONFLICT");
        expect(await codeOf(topUp(other, 10 * USD, "credit_reused"))).toBe("CONFLICT");
        expect(
          await codeOf(
            store.credit({
              id: "credit_reused",
              accountId: buyer,
              amount: 10 * USD,
              reference: "x",
              at: at(0),
            }),
          ),
        ).toBe("CONFLICT");
        expect(await figures(buyer)).toEqual({ available: 10 * USD, held: 0, earnings: 0 });
        expect(await figures(other)).toEqual({ available: 0, held: 0, earnings: 0 });
      });

      it("rejects amounts that are not a positive integer of micros with INVALID_AMOUNT", async () => {
        const { buyer, seller } = await parties();
        for (const amount of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
          expect(await codeOf(topUp(buyer, amount))).toBe("INVALID_AMOUNT");
          expect(await codeOf(store.hold(holdOf(buyer, seller, { amount })))).toBe("INVALID_AMOUNT");
        }
        const charge = await store.hold(holdOf(buyer, seller));
        expect(await codeOf(store.capture({ id: "cap_zero", holdId: charge.id, amount: 0, at: at(1) }))).toBe(
          "INVALID_AMOUNT",
        );
        expect(await figures(buyer)).toEqual({ available: 9 * USD, held: USD, earnings: 0 });
      });
    });

    describe("holds, captures and voids", () => {
      it("holds, then captures part of the hold: the fee split is exact and the rest is released", async () => {
        const { buyer, seller } = await parties();
        const request = holdOf(buyer, seller, { keyId: "key_abc" });
        const held = await store.hold(request);
        expect(held).toEqual({
          id: request.id,
          buyerId: buyer,
          sellerAccountId: seller,
          agentId: request.agentId,
          keyId: "key_abc",
          held: USD,
          captured: 0,
          fee: 0,
          status: "pending",
          expiresAt: at(60),
          createdAt: at(0),
          resolvedAt: null,
        } satisfies ChargeRecord);
        expect(await figures(buyer)).toEqual({ available: 9 * USD, held: USD, earnings: 0 });
        expect(await figures(seller)).toEqual({ available: 0, held: 0, earnings: 0 });

        // fee = floor(333,337 × 1000 / 10000) = 33,333; the seller's share is 300,004.
        const captured = await store.capture({
          id: "cap_part",
          holdId: request.id,
          amount: 333_337,
          at: at(1),
        });
        expect(captured).toEqual({
          ...held,
          captured: 333_337,
          fee: 33_333,
          status: "completed",
          resolvedAt: at(1),
        });
        expect(await store.getCharge(request.id)).toEqual(captured);
        expect(await figures(buyer)).toEqual({ available: 10 * USD - 333_337, held: 0, earnings: 0 });
        expect(await figures(seller)).toEqual({ available: 0, held: 0, earnings: 300_004 });
        expect((await store.getBalance(buyer, at(1))).spentThisMonth).toBe(333_337);
        expect((await store.audit()).totals).toEqual({
          toppedUp: 10 * USD,
          paidOut: 0,
          wallets: 10 * USD - 333_337,
          held: 0,
          earnings: 300_004,
          revenue: 33_333,
        });
      });

      it("captures the whole hold, and a charge too small for a fee pays the seller everything", async () => {
        const { buyer, seller } = await parties();
        const whole = await store.hold(holdOf(buyer, seller, { amount: 20_000 }));
        expect(
          await store.capture({ id: "cap_whole", holdId: whole.id, amount: 20_000, at: at(1) }),
        ).toMatchObject({
          captured: 20_000,
          fee: 2_000,
          status: "completed",
        });
        const tiny = await store.hold(holdOf(buyer, seller, { amount: 9 }));
        expect(await store.capture({ id: "cap_tiny", holdId: tiny.id, amount: 9, at: at(1) })).toMatchObject({
          captured: 9,
          fee: 0,
        });
        expect(await figures(buyer)).toEqual({ available: 10 * USD - 20_009, held: 0, earnings: 0 });
        expect(await figures(seller)).toEqual({ available: 0, held: 0, earnings: 18_009 });
        expect((await store.audit()).totals.revenue).toBe(2_000);
      });

      it("voids a hold: the buyer pays nothing", async () => {
        const { buyer, seller } = await parties();
        const held = await store.hold(holdOf(buyer, seller, { amount: 3 * USD }));
        const voided = await store.voidHold({ id: "void_1", holdId: held.id, at: at(2) });
        expect(voided).toEqual({ ...held, status: "voided", resolvedAt: at(2) });
        expect(await store.getCharge(held.id)).toEqual(voided);
        expect(await figures(buyer)).toEqual({ available: 10 * USD, held: 0, earnings: 0 });
        expect(await figures(seller)).toEqual({ available: 0, held: 0, earnings: 0 });
        expect((await store.getBalance(buyer, at(2))).spentThisMonth).toBe(0);
      });

      it("lets one buyer pay itself as a seller", async () => {
        const self = await newAccount();
        await topUp(self, 10 * USD);
        const held = await store.hold(holdOf(self, self));
        await store.capture({ id: "cap_self", holdId: held.id, amount: USD, at: at(1) });
        expect(await figures(self)).toEqual({ available: 9 * USD, held: 0, earnings: 900_000 });
      });

      it("replays a hold, a capture and a void with the same id and fields: one effect, the charge as it stands", async () => {
        const { buyer, seller } = await parties();
        const request = holdOf(buyer, seller);
        const first = await store.hold(request);
        // A retry comes later: its own time and expiry do not make it another request.
        // The replay is marked: this request did not place the hold and must not resolve it.
        expect(first.replayed).toBeUndefined();
        expect(await store.hold({ ...request, at: at(1), expiresAt: at(61) })).toEqual({
          ...first,
          replayed: true,
        });
        expect(await figures(buyer)).toEqual({ available: 9 * USD, held: USD, earnings: 0 });

        const capture = { id: "cap_replayed", holdId: request.id, amount: 600_000, at: at(2) };
        const captured = await store.capture(capture);
        expect(await store.capture({ ...capture, at: at(3) })).toEqual(captured);
        expect(await store.hold(request)).toEqual({ ...captured, replayed: true });
        expect(await figures(buyer)).toEqual({ available: 9_400_000, held: 0, earnings: 0 });
        expect(await figures(seller)).toEqual({ available: 0, held: 0, earnings: 540_000 });

        const other = await store.hold(holdOf(buyer, seller));
        const voided = await store.voidHold({ id: "void_replayed", holdId: other.id, at: at(4) });
        expect(await store.voidHold({ id: "void_replayed", holdId: other.id, at: at(5) })).toEqual(voided);
        expect(await figures(buyer)).toEqual({ available: 9_400_000, held: 0, earnings: 0 });
      });

      it("replays concurrently: the same hold, capture or void sent many times at once takes effect once", async () => {
        const { buyer, seller } = await parties();
        const request = holdOf(buyer, seller);
        const holds = await Promise.all(Array.from({ length: 10 }, () => store.hold(request)));
        // One request placed it; the nine others are answered the same charge, marked as replays.
        expect(holds.filter((charge) => charge.replayed === undefined)).toHaveLength(1);
        expect(new Set(holds.map(({ replayed: _, ...charge }) => JSON.stringify(charge))).size).toBe(1);
        expect(await figures(buyer)).toEqual({ available: 9 * USD, held: USD, earnings: 0 });
        const capture = { id: "cap_many", holdId: request.id, amount: USD, at: at(1) };
        const captures = await Promise.all(Array.from({ length: 10 }, () => store.capture(capture)));
        expect(captures.every((charge) => charge.status === "completed" && charge.captured === USD)).toBe(
          true,
        );
        expect(await figures(buyer)).toEqual({ available: 9 * USD, held: 0, earnings: 0 });
        expect(await figures(seller)).toEqual({ available: 0, held: 0, earnings: 900_000 });
      });

      it("refuses a reused hold id with any other field, and moves nothing", async () => {
        const { buyer, seller } = await parties();
        const other = await newAccount();
        await topUp(other, 10 * USD);
        const request = holdOf(buyer, seller, { keyId: "key_one" });
        await store.hold(request);
        for (const change of [
          { amount: USD + 1 },
          { buyerId: other },
          { sellerAccountId: other },
          { agentId: "agent_other" },
          { keyId: "key_two" },
          { keyId: null },
        ] satisfies Array<Partial<HoldRequest>>) {
          expect(await codeOf(store.hold({ ...request, ...change }))).toBe("CONFLICT");
        }
        expect(await figures(buyer)).toEqual({ available: 9 * USD, held: USD, earnings: 0 });
        expect(await figures(other)).toEqual({ available: 10 * USD, held: 0, earnings: 0 });
        expect((await store.getCharge(request.id))?.held).toBe(USD);
      });

      it("refuses a transfer id reused by another kind of transfer or for another hold", async () => {
        const { buyer, seller } = await parties();
        const a = await store.hold(holdOf(buyer, seller));
        const b = await store.hold(holdOf(buyer, seller));
        await store.capture({ id: "cap_a", holdId: a.id, amount: USD, at: at(1) });
        await store.voidHold({ id: "void_b", holdId: b.id, at: at(1) });
        const c = await store.hold(holdOf(buyer, seller));

        expect(await codeOf(store.capture({ id: "cap_a", holdId: c.id, amount: USD, at: at(2) }))).toBe(
          "CONFLICT",
        );
        expect(await codeOf(store.capture({ id: "cap_a", holdId: a.id, amount: 1, at: at(2) }))).toBe(
          "CONFLICT",
        );
        expect(await codeOf(store.voidHold({ id: "void_b", holdId: c.id, at: at(2) }))).toBe("CONFLICT");
        expect(await codeOf(store.voidHold({ id: "cap_a", holdId: a.id, at: at(2) }))).toBe("CONFLICT");
        expect(await codeOf(store.capture({ id: "void_b", holdId: b.id, amount: USD, at: at(2) }))).toBe(
          "CONFLICT",
        );
        // A hold's own id is not a capture's or a void's, nor a top-up's, and the other way round.
        expect(await codeOf(store.capture({ id: c.id, holdId: c.id, amount: USD, at: at(2) }))).toBe(
          "CONFLICT",
        );
        expect(await codeOf(store.voidHold({ id: c.id, holdId: c.id, at: at(2) }))).toBe("CONFLICT");
        expect(await codeOf(topUp(buyer, USD, c.id))).toBe("CONFLICT");
        expect(await codeOf(store.hold(holdOf(buyer, seller, { id: "cap_a" })))).toBe("CONFLICT");
        await topUp(buyer, USD, "credit_named");
        expect(await codeOf(store.hold(holdOf(buyer, seller, { id: "credit_named" })))).toBe("CONFLICT");

        expect((await store.getCharge(c.id))?.status).toBe("pending");
        expect(await figures(buyer)).toEqual({ available: 9 * USD, held: USD, earnings: 0 });
        expect(await figures(seller)).toEqual({ available: 0, held: 0, earnings: 900_000 });
      });

      it("resolves a hold exactly once: no capture after a void, no void after a capture, no second capture", async () => {
        const { buyer, seller } = await parties();
        const voided = await store.hold(holdOf(buyer, seller));
        await store.voidHold({ id: "void_first", holdId: voided.id, at: at(1) });
        expect(
          await codeOf(store.capture({ id: "cap_late", holdId: voided.id, amount: USD, at: at(2) })),
        ).toBe("CONFLICT");
        expect(await codeOf(store.voidHold({ id: "void_again", holdId: voided.id, at: at(2) }))).toBe(
          "CONFLICT",
        );

        const captured = await store.hold(holdOf(buyer, seller));
        await store.capture({ id: "cap_first", holdId: captured.id, amount: 500_000, at: at(1) });
        expect(await codeOf(store.voidHold({ id: "void_late", holdId: captured.id, at: at(2) }))).toBe(
          "CONFLICT",
        );
        expect(
          await codeOf(store.capture({ id: "cap_second", holdId: captured.id, amount: 500_000, at: at(2) })),
        ).toBe("CONFLICT");
        expect(await store.getCharge(voided.id)).toMatchObject({ status: "voided", captured: 0 });
        expect(await store.getCharge(captured.id)).toMatchObject({ status: "completed", captured: 500_000 });
        expect(await figures(buyer)).toEqual({ available: 9_500_000, held: 0, earnings: 0 });
        expect(await figures(seller)).toEqual({ available: 0, held: 0, earnings: 450_000 });
      });

      it("resolves a hold once when captures and voids race", async () => {
        const { buyer, seller } = await parties();
        const held = await store.hold(holdOf(buyer, seller));
        const outcomes = await Promise.allSettled([
          store.capture({ id: "race_cap_1", holdId: held.id, amount: USD, at: at(1) }),
          store.voidHold({ id: "race_void_1", holdId: held.id, at: at(1) }),
          store.capture({ id: "race_cap_2", holdId: held.id, amount: 400_000, at: at(1) }),
          store.voidHold({ id: "race_void_2", holdId: held.id, at: at(1) }),
        ]);
        const won = outcomes.filter((outcome) => outcome.status === "fulfilled");
        expect(won).toHaveLength(1);
        for (const outcome of outcomes) {
          if (outcome.status === "rejected")
            expect(isMercatoError(outcome.reason) && outcome.reason.code).toBe("CONFLICT");
        }
        const charge = await store.getCharge(held.id);
        const paid = charge?.captured ?? -1;
        expect(await figures(buyer)).toEqual({ available: 10 * USD - paid, held: 0, earnings: 0 });
        expect(await figures(seller)).toEqual({
          available: 0,
          held: 0,
          earnings: paid - Math.floor(paid / 10),
        });
      });

      it("answers NOT_FOUND for a hold that does not exist", async () => {
        const { buyer, seller } = await parties();
        await topUp(buyer, USD, "credit_not_a_hold");
        expect(
          await codeOf(store.capture({ id: "cap_nothing", holdId: "txn_missing", amount: 1, at: at(1) })),
        ).toBe("NOT_FOUND");
        expect(await codeOf(store.voidHold({ id: "void_nothing", holdId: "txn_missing", at: at(1) }))).toBe(
          "NOT_FOUND",
        );
        expect(
          await codeOf(
            store.capture({ id: "cap_credit", holdId: "credit_not_a_hold", amount: 1, at: at(1) }),
          ),
        ).toBe("NOT_FOUND");
        expect(await store.getCharge("txn_missing")).toBeUndefined();
        // The failed ids were not used up.
        const held = await store.hold(holdOf(buyer, seller));
        await store.capture({ id: "cap_nothing", holdId: held.id, amount: 1, at: at(1) });
        expect(await figures(seller)).toEqual({ available: 0, held: 0, earnings: 1 });
      });

      it("answers NOT_FOUND for money moved to or capped on an account that does not exist", async () => {
        const { buyer } = await parties();
        expect(await codeOf(store.hold(holdOf(buyer, "acct_nobody")))).toBe("NOT_FOUND");
        expect(await codeOf(topUp("acct_nobody", USD))).toBe("NOT_FOUND");
        expect(await codeOf(store.setMonthlyCap("acct_nobody", USD))).toBe("NOT_FOUND");
        expect(await figures(buyer)).toEqual({ available: 10 * USD, held: 0, earnings: 0 });
      });

      it("refuses transfer ids the ledger keeps for its own transfers", async () => {
        const { buyer, seller } = await parties();
        const held = await store.hold(holdOf(buyer, seller));
        expect(await codeOf(store.hold(holdOf(buyer, seller, { id: "ledger:mine" })))).toBe(
          "VALIDATION_ERROR",
        );
        expect(await codeOf(store.capture({ id: "ledger:fee", holdId: held.id, amount: 1, at: at(1) }))).toBe(
          "VALIDATION_ERROR",
        );
        expect(await codeOf(store.voidHold({ id: "ledger:expiry", holdId: held.id, at: at(1) }))).toBe(
          "VALIDATION_ERROR",
        );
        expect(await codeOf(topUp(buyer, USD, "ledger:topup"))).toBe("VALIDATION_ERROR");
        expect(await codeOf(topUp(buyer, USD, ""))).toBe("VALIDATION_ERROR");
        expect(await figures(buyer)).toEqual({ available: 9 * USD, held: USD, earnings: 0 });
      });

      it("refuses to capture more than the hold with VALIDATION_ERROR, and the hold stays open", async () => {
        const { buyer, seller } = await parties();
        const held = await store.hold(holdOf(buyer, seller));
        expect(
          await codeOf(store.capture({ id: "cap_over", holdId: held.id, amount: USD + 1, at: at(1) })),
        ).toBe("VALIDATION_ERROR");
        expect(await store.getCharge(held.id)).toEqual(held);
        expect(await figures(buyer)).toEqual({ available: 9 * USD, held: USD, earnings: 0 });
        await store.capture({ id: "cap_over", holdId: held.id, amount: USD, at: at(1) });
        expect(await figures(buyer)).toEqual({ available: 9 * USD, held: 0, earnings: 0 });
      });
    });

    describe("expiry", () => {
      it("refuses a capture at or after expiry with CONFLICT; the sweeper voids the hold and frees the funds", async () => {
        const { buyer, seller } = await parties();
        const late = await store.hold(holdOf(buyer, seller, { expiresAt: at(10) }));
        const later = await store.hold(holdOf(buyer, seller, { expiresAt: at(20), amount: 2 * USD }));
        expect(
          await codeOf(store.capture({ id: "cap_expired", holdId: late.id, amount: USD, at: at(10) })),
        ).toBe("CONFLICT");
        expect(
          await codeOf(store.capture({ id: "cap_expired", holdId: late.id, amount: USD, at: at(11) })),
        ).toBe("CONFLICT");
        expect(await store.getCharge(late.id)).toMatchObject({ status: "pending" });

        expect(await store.expireHolds(at(9))).toBe(0);
        expect(await store.expireHolds(at(10))).toBe(1);
        expect(await store.getCharge(late.id)).toEqual({ ...late, status: "voided", resolvedAt: at(10) });
        expect(await store.getCharge(later.id)).toEqual(later);
        expect(await figures(buyer)).toEqual({ available: 8 * USD, held: 2 * USD, earnings: 0 });
        expect(await store.expireHolds(at(15))).toBe(0);
        expect(
          await codeOf(store.capture({ id: "cap_expired", holdId: late.id, amount: USD, at: at(12) })),
        ).toBe("CONFLICT");

        // A hold past its expiry may still be voided by its caller before the sweeper comes.
        await store.voidHold({ id: "void_later", holdId: later.id, at: at(30) });
        expect(await store.expireHolds(at(30))).toBe(0);
        expect(await figures(buyer)).toEqual({ available: 10 * USD, held: 0, earnings: 0 });
        expect(await figures(seller)).toEqual({ available: 0, held: 0, earnings: 0 });
      });

      it("expires at most `limit` holds per sweep, oldest expiry first", async () => {
        const { buyer, seller } = await parties();
        const holds: ChargeRecord[] = [];
        for (let i = 0; i < 5; i++)
          holds.push(await store.hold(holdOf(buyer, seller, { expiresAt: at(10 - i) })));
        expect(await store.expireHolds(at(10), 2)).toBe(2);
        const statuses = await Promise.all(holds.map(async (h) => (await store.getCharge(h.id))?.status));
        expect(statuses).toEqual(["pending", "pending", "pending", "voided", "voided"]);
        expect(await store.expireHolds(at(10), 10)).toBe(3);
        expect(await figures(buyer)).toEqual({ available: 10 * USD, held: 0, earnings: 0 });
      });

      it("is not disturbed by caller ids that look like the ledger's own", async () => {
        const { buyer, seller } = await parties();
        const held = await store.hold(holdOf(buyer, seller, { id: "txn_lookalike", expiresAt: at(5) }));
        for (const id of [
          "txn_lookalike:expired",
          "txn_lookalike:fee",
          "cap_x:fee",
          "topup:tp_x",
          "payout:s_x",
        ]) {
          const other = await store.hold(holdOf(buyer, seller, { id, amount: 1_000 }));
          await store.voidHold({ id: `void_${id}`, holdId: other.id, at: at(1) });
        }
        const captured = await store.hold(holdOf(buyer, seller));
        await store.capture({ id: "cap_x", holdId: captured.id, amount: USD, at: at(1) });
        expect(await store.expireHolds(at(5))).toBe(1);
        expect((await store.getCharge(held.id))?.status).toBe("voided");
        expect(await figures(buyer)).toEqual({ available: 9 * USD, held: 0, earnings: 0 });
        expect(await figures(seller)).toEqual({ available: 0, held: 0, earnings: 900_000 });
      });
    });

    describe("funds and spend caps", () => {
      it("refuses a hold beyond the available balance (pending holds count) with INSUFFICIENT_FUNDS, moving nothing", async () => {
        const { buyer, seller } = await parties();
        const request = holdOf(buyer, seller, { amount: 10 * USD + 1 });
        expect(await codeOf(store.hold(request))).toBe("INSUFFICIENT_FUNDS");
        expect(await store.getCharge(request.id)).toBeUndefined();
        expect(await figures(buyer)).toEqual({ available: 10 * USD, held: 0, earnings: 0 });

        await store.hold(holdOf(buyer, seller, { amount: 6 * USD }));
        expect(await codeOf(store.hold(holdOf(buyer, seller, { amount: 4 * USD + 1 })))).toBe(
          "INSUFFICIENT_FUNDS",
        );
        await store.hold(holdOf(buyer, seller, { amount: 4 * USD }));
        expect(await codeOf(store.hold(holdOf(buyer, seller, { amount: 1 })))).toBe("INSUFFICIENT_FUNDS");
        expect(await figures(buyer)).toEqual({ available: 0, held: 10 * USD, earnings: 0 });

        // A failed hold used up nothing: its id works once the money is there.
        await topUp(buyer, 20 * USD);
        expect((await store.hold(request)).status).toBe("pending");
        expect(await figures(buyer)).toEqual({ available: 10 * USD - 1, held: 20 * USD + 1, earnings: 0 });
      });

      it("refuses any hold on a wallet that was never topped up", async () => {
        const { buyer, seller } = await parties(0);
        expect(await codeOf(store.hold(holdOf(buyer, seller, { amount: 1 })))).toBe("INSUFFICIENT_FUNDS");
        expect(await figures(buyer)).toEqual({ available: 0, held: 0, earnings: 0 });
      });

      it("lets exactly as many concurrent holds through as the wallet covers", async () => {
        const { buyer, seller } = await parties();
        const outcomes = await Promise.allSettled(
          Array.from({ length: 50 }, () => store.hold(holdOf(buyer, seller, { amount: USD }))),
        );
        const fulfilled = outcomes.filter((outcome) => outcome.status === "fulfilled");
        expect(fulfilled).toHaveLength(10);
        for (const outcome of outcomes) {
          if (outcome.status === "rejected") {
            expect(isMercatoError(outcome.reason) && outcome.reason.code).toBe("INSUFFICIENT_FUNDS");
          }
        }
        expect(await figures(buyer)).toEqual({ available: 0, held: 10 * USD, earnings: 0 });
      });

      it("lets concurrent charges from several buyers through without overdrawing any", async () => {
        const seller = await newAccount();
        const buyers = [await newAccount(), await newAccount(), await newAccount()];
        await Promise.all(buyers.map((buyer, i) => topUp(buyer, (i + 1) * USD)));
        const attempts = buyers.flatMap((buyer) =>
          Array.from({ length: 8 }, async () => {
            const charge = await store.hold(holdOf(buyer, seller, { amount: 500_000 }));
            return store.capture({
              id: `${charge.id}:capture`,
              holdId: charge.id,
              amount: 500_000,
              at: at(1),
            });
          }),
        );
        const outcomes = await Promise.allSettled(attempts);
        expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(2 + 4 + 6);
        for (const buyer of buyers) expect((await figures(buyer)).available).toBe(0);
        expect(await figures(seller)).toEqual({ available: 0, held: 0, earnings: 5_400_000 });
      });

      it("refuses a hold past the monthly spend cap (pending holds count) with SPEND_CAP_EXCEEDED; a new month starts afresh", async () => {
        const { buyer, seller } = await parties(100 * USD);
        const jan = (day: number) => `2026-01-${String(day).padStart(2, "0")}T10:00:00.000Z`;
        const feb = (day: number) => `2026-02-${String(day).padStart(2, "0")}T10:00:00.000Z`;
        await store.setMonthlyCap(buyer, 2 * USD);
        expect(await store.getBalance(buyer, jan(10))).toMatchObject({
          monthlyCap: 2 * USD,
          spentThisMonth: 0,
        });

        const first = await store.hold(
          holdOf(buyer, seller, { amount: 1_500_000, at: jan(10), expiresAt: feb(20) }),
        );
        const over = holdOf(buyer, seller, { amount: 500_001, at: jan(10), expiresAt: feb(20) });
        expect(await codeOf(store.hold(over))).toBe("SPEND_CAP_EXCEEDED");
        expect(await store.getCharge(over.id)).toBeUndefined();
        await store.capture({ id: "cap_jan", holdId: first.id, amount: 1_500_000, at: jan(11) });
        expect(await store.getBalance(buyer, jan(11))).toMatchObject({ spentThisMonth: 1_500_000 });
        const last = await store.hold(
          holdOf(buyer, seller, { amount: 500_000, at: jan(12), expiresAt: feb(20) }),
        );
        expect(
          await codeOf(store.hold(holdOf(buyer, seller, { amount: 1, at: jan(12), expiresAt: feb(20) }))),
        ).toBe("SPEND_CAP_EXCEEDED");
        await store.voidHold({ id: "void_jan", holdId: last.id, at: jan(13) });
        expect(await figures(buyer, jan(13))).toEqual({ available: 98_500_000, held: 0, earnings: 0 });

        // February: January's spending no longer counts.
        expect(await store.getBalance(buyer, feb(1))).toMatchObject({
          monthlyCap: 2 * USD,
          spentThisMonth: 0,
        });
        const feb1 = await store.hold(
          holdOf(buyer, seller, { amount: 2 * USD, at: feb(1), expiresAt: feb(20) }),
        );
        await store.capture({ id: "cap_feb", holdId: feb1.id, amount: 2 * USD, at: feb(1) });
        expect(
          await codeOf(store.hold(holdOf(buyer, seller, { amount: 1, at: feb(2), expiresAt: feb(20) }))),
        ).toBe("SPEND_CAP_EXCEEDED");
        expect(await store.getBalance(buyer, jan(31))).toMatchObject({ spentThisMonth: 1_500_000 });
        expect(await store.getBalance(buyer, feb(2))).toMatchObject({ spentThisMonth: 2 * USD });

        // Lifting the cap lets it through; a zero cap stops everything.
        await store.setMonthlyCap(buyer, null);
        expect(await store.getBalance(buyer, feb(2))).toMatchObject({ monthlyCap: null });
        await store.hold(holdOf(buyer, seller, { amount: USD, at: feb(2), expiresAt: feb(20) }));
        await store.setMonthlyCap(buyer, 0);
        expect(
          await codeOf(store.hold(holdOf(buyer, seller, { amount: 1, at: feb(2), expiresAt: feb(20) }))),
        ).toBe("SPEND_CAP_EXCEEDED");
        expect(await figures(buyer, feb(2))).toEqual({ available: 95_500_000, held: USD, earnings: 0 });
      });

      it("checks the balance before the cap, and a replay before either", async () => {
        const { buyer, seller } = await parties(USD);
        await store.setMonthlyCap(buyer, USD);
        const request = holdOf(buyer, seller, { amount: USD });
        await store.hold(request);
        expect(await codeOf(store.hold(holdOf(buyer, seller, { amount: 1 })))).toBe("INSUFFICIENT_FUNDS");
        expect(await store.hold(request)).toMatchObject({ id: request.id, status: "pending" });
        await topUp(buyer, USD);
        expect(await codeOf(store.hold(holdOf(buyer, seller, { amount: 1 })))).toBe("SPEND_CAP_EXCEEDED");
      });
    });

    describe("access keys' spend caps", () => {
      it("refuses a hold past the key's own cap with SPEND_CAP_EXCEEDED and the key's figures; exactly at the cap is allowed", async () => {
        const { buyer, seller } = await parties();
        const capped = (amount: number) =>
          holdOf(buyer, seller, { keyId: "key_capped", keySpendCap: 2 * USD, amount });
        await store.hold(capped(1_500_000));
        const over = capped(500_001);
        expect(await refusalOf(store.hold(over))).toEqual({
          code: "SPEND_CAP_EXCEEDED",
          details: {
            key_id: "key_capped",
            key_spend_cap_usd: "2.000000",
            key_spent_usd: "1.500000",
            required_usd: "0.500001",
          },
        });
        expect(await store.getCharge(over.id)).toBeUndefined();
        expect(await figures(buyer)).toEqual({ available: 8_500_000, held: 1_500_000, earnings: 0 });

        expect((await store.hold(capped(500_000))).status).toBe("pending");
        expect(await spendOf("key_capped")).toBe(2 * USD);
        expect(await codeOf(store.hold(capped(1)))).toBe("SPEND_CAP_EXCEEDED");
        // The cap is the key's, not the buyer's: another key and a key without a cap go on.
        await store.hold(holdOf(buyer, seller, { keyId: "key_other", keySpendCap: 2 * USD, amount: USD }));
        await store.hold(holdOf(buyer, seller, { keyId: "key_capped", keySpendCap: null, amount: USD }));
        expect(await spendOf("key_capped")).toBe(3 * USD);
        // A zero cap stops everything.
        expect(
          await codeOf(store.hold(holdOf(buyer, seller, { keyId: "key_zero", keySpendCap: 0, amount: 1 }))),
        ).toBe("SPEND_CAP_EXCEEDED");
        expect(await figures(buyer)).toEqual({ available: 6 * USD, held: 4 * USD, earnings: 0 });
      });

      it("counts holds in flight toward the key's cap: a void or an expiry frees them, a capture keeps what it charged", async () => {
        const { buyer, seller } = await parties();
        const capped = (amount: number, overrides: Partial<HoldRequest> = {}) =>
          holdOf(buyer, seller, { keyId: "key_flight", keySpendCap: 3 * USD, amount, ...overrides });
        const a = await store.hold(capped(USD));
        const b = await store.hold(capped(USD));
        await store.hold(capped(USD, { expiresAt: at(30) }));
        expect(await spendOf("key_flight")).toBe(3 * USD);
        expect(await codeOf(store.hold(capped(1)))).toBe("SPEND_CAP_EXCEEDED");

        await store.voidHold({ id: "void_flight", holdId: a.id, at: at(1) });
        expect(await spendOf("key_flight")).toBe(2 * USD);
        await store.hold(capped(USD));
        expect(await codeOf(store.hold(capped(1)))).toBe("SPEND_CAP_EXCEEDED");

        await store.capture({ id: "cap_flight", holdId: b.id, amount: 400_000, at: at(2) });
        expect(await spendOf("key_flight")).toBe(2_400_000);
        await store.hold(capped(600_000));
        expect(await codeOf(store.hold(capped(1)))).toBe("SPEND_CAP_EXCEEDED");

        expect(await store.expireHolds(at(30))).toBe(1);
        expect(await spendOf("key_flight")).toBe(2 * USD);
        await store.hold(capped(USD));
        expect(await spendOf("key_flight")).toBe(3 * USD);
        expect(await figures(buyer)).toEqual({
          available: 10 * USD - 400_000 - 2_600_000,
          held: 2_600_000,
          earnings: 0,
        });
      });

      it("lets no more concurrent holds through on one key than its cap allows", async () => {
        const { buyer, seller } = await parties(20 * USD);
        const hold = (amount: number) =>
          store.hold(holdOf(buyer, seller, { keyId: "key_rush", keySpendCap: 7 * USD, amount }));
        const outcomes = await Promise.allSettled(Array.from({ length: 40 }, () => hold(USD)));
        const placed = outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
        expect(placed).toHaveLength(7);
        for (const outcome of outcomes) {
          if (outcome.status === "rejected") {
            expect(isMercatoError(outcome.reason) && outcome.reason.code).toBe("SPEND_CAP_EXCEEDED");
          }
        }
        expect(await spendOf("key_rush")).toBe(7 * USD);

        // Captures for less and new holds at once: whatever their order, the key stays within its cap
        // and its spending is exactly what its charges say.
        const second = await Promise.allSettled([
          ...placed.map((charge) =>
            store.capture({ id: `${charge.id}:capture`, holdId: charge.id, amount: USD / 2, at: at(1) }),
          ),
          ...Array.from({ length: 10 }, () => hold(USD / 2)),
        ]);
        const held = second.slice(placed.length).filter((outcome) => outcome.status === "fulfilled").length;
        expect(second.slice(0, placed.length).every((outcome) => outcome.status === "fulfilled")).toBe(true);
        const spent = (placed.length + held) * (USD / 2);
        expect(spent).toBeLessThanOrEqual(7 * USD);
        expect(await spendOf("key_rush")).toBe(spent);
      });

      it("reports each key's spending: captured plus held, 0 for a key that never spent", async () => {
        const { buyer, seller } = await parties();
        const other = await newAccount();
        await topUp(other, 10 * USD);
        const a = await store.hold(holdOf(buyer, seller, { keyId: "key_report_a", amount: 700_000 }));
        await store.hold(holdOf(buyer, seller, { keyId: "key_report_a", amount: 200_000 }));
        const b = await store.hold(holdOf(other, seller, { keyId: "key_report_b", amount: USD }));
        await store.hold(holdOf(buyer, seller, { amount: USD }));
        await store.capture({ id: "cap_report_a", holdId: a.id, amount: 300_000, at: at(1) });
        await store.voidHold({ id: "void_report_b", holdId: b.id, at: at(1) });
        const spent = await store.getKeySpend(["key_report_a", "key_report_b", "key_never"]);
        expect(spent).toEqual(
          new Map([
            ["key_report_a", 500_000],
            ["key_report_b", 0],
            ["key_never", 0],
          ]),
        );
        expect(await store.getKeySpend([])).toEqual(new Map());
      });

      it("answers a replayed hold with its charge even when the key's cap would refuse it now", async () => {
        const { buyer, seller } = await parties();
        const request = holdOf(buyer, seller, { keyId: "key_replay", keySpendCap: USD, amount: USD });
        const first = await store.hold(request);
        expect(await store.hold(request)).toEqual({ ...first, replayed: true });
        expect(await store.hold({ ...request, keySpendCap: 0, at: at(1) })).toEqual({
          ...first,
          replayed: true,
        });
        const captured = await store.capture({
          id: "cap_replay",
          holdId: request.id,
          amount: USD,
          at: at(1),
        });
        expect(await store.hold(request)).toEqual({ ...captured, replayed: true });
        expect(await codeOf(store.hold({ ...request, amount: USD + 1 }))).toBe("CONFLICT");
        expect(await spendOf("key_replay")).toBe(USD);
        expect(await figures(buyer)).toEqual({ available: 9 * USD, held: 0, earnings: 0 });
      });

      it("checks the balance, then the account's monthly cap, then the key's cap", async () => {
        const { buyer, seller } = await parties(USD);
        const keyed = (amount: number) =>
          holdOf(buyer, seller, { keyId: "key_order", keySpendCap: 0, amount });
        expect(await codeOf(store.hold(keyed(USD + 1)))).toBe("INSUFFICIENT_FUNDS");
        await store.setMonthlyCap(buyer, 500_000);
        expect(await refusalOf(store.hold(keyed(USD)))).toMatchObject({
          code: "SPEND_CAP_EXCEEDED",
          details: { monthly_cap_usd: "0.500000" },
        });
        expect(await refusalOf(store.hold(keyed(500_000)))).toMatchObject({
          code: "SPEND_CAP_EXCEEDED",
          details: { key_id: "key_order", key_spend_cap_usd: "0.000000" },
        });
      });

      it("starts a rotated key's replacement at the old key's spending: the cap keeps its remaining allowance", async () => {
        const { buyer, seller } = await parties();
        const accessKey = (id: string): ApiKeyRecord =>
          apiKeyRecord({
            id,
            accountId: buyer,
            kind: "access",
            prefix: "sk_live_ledger",
            hash: id.padEnd(64, "0").replace(/[^0-9a-f]/g, "d"),
            agentId: `agent_of_${seller}`,
            spendCap: 3 * USD,
            createdAt: T0,
          });
        const old = accessKey("key_rotate_old");
        await store.insertApiKey(old);
        const on = (key: ApiKeyRecord, amount: number) =>
          holdOf(buyer, seller, { keyId: key.id, keySpendCap: key.spendCap, amount });
        const captured = await store.hold(on(old, USD));
        await store.capture({ id: "cap_rotate", holdId: captured.id, amount: USD, at: at(1) });
        const inFlight = await store.hold(on(old, USD));

        const replacement = accessKey("key_rotate_new");
        expect(await store.rotateApiKey(old.id, replacement, at(2))).toBe(true);
        expect(await store.getKeySpend([old.id, replacement.id])).toEqual(
          new Map([
            [old.id, 2 * USD],
            [replacement.id, 2 * USD],
          ]),
        );
        expect(await refusalOf(store.hold(on(replacement, USD + 1)))).toMatchObject({
          code: "SPEND_CAP_EXCEEDED",
          details: { key_id: replacement.id, key_spent_usd: "2.000000" },
        });
        await store.hold(on(replacement, USD));
        expect(await codeOf(store.hold(on(replacement, 1)))).toBe("SPEND_CAP_EXCEEDED");
        expect(await spendOf(replacement.id)).toBe(3 * USD);

        // The old key's hold in flight still resolves on the old key; a second rotation carries on.
        await store.capture({ id: "cap_rotate_old", holdId: inFlight.id, amount: USD, at: at(3) });
        expect(await spendOf(old.id)).toBe(2 * USD);
        const third = accessKey("key_rotate_third");
        expect(await store.rotateApiKey(replacement.id, third, at(4))).toBe(true);
        expect(await spendOf(third.id)).toBe(3 * USD);
        expect(await codeOf(store.hold(on(third, 1)))).toBe("SPEND_CAP_EXCEEDED");
        // A higher cap lets the key spend again, from where it stands.
        expect((await store.hold(on({ ...third, spendCap: 4 * USD }, USD))).status).toBe("pending");
        expect(await spendOf(third.id)).toBe(4 * USD);
      });
    });

    describe("daily caps (new accounts)", () => {
      const on = (day: number, hour = 10) =>
        `2026-01-${String(day).padStart(2, "0")}T${String(hour).padStart(2, "0")}:00:00.000Z`;
      const daily = (buyer: string, seller: string, amount: number, when: string, dailyCap = 3 * USD) =>
        holdOf(buyer, seller, { amount, at: when, expiresAt: on(28), dailyCap });

      it("refuses a hold past the daily cap (today's captures and holds in flight count) with SPEND_CAP_EXCEEDED; exactly at it is allowed; the next UTC day starts afresh", async () => {
        const { buyer, seller } = await parties(100 * USD);
        const first = await store.hold(daily(buyer, seller, 2 * USD, on(10, 9)));
        await store.capture({ id: "cap_day1", holdId: first.id, amount: 1_500_000, at: on(10, 9) });
        await store.hold(daily(buyer, seller, USD, on(10, 11)));
        const over = daily(buyer, seller, 500_001, on(10, 12));
        expect(await refusalOf(store.hold(over))).toEqual({
          code: "SPEND_CAP_EXCEEDED",
          details: {
            daily_limit_usd: "3.000000",
            spent_today_usd: "2.500000",
            held_usd: "1.000000",
            required_usd: "0.500001",
          },
        });
        expect(await store.getCharge(over.id)).toBeUndefined();
        const last = await store.hold(daily(buyer, seller, 500_000, on(10, 12)));
        expect(await codeOf(store.hold(daily(buyer, seller, 1, on(10, 23))))).toBe("SPEND_CAP_EXCEEDED");
        // A voided hold frees its part of the day's allowance; a hold without a daily cap is not limited.
        await store.voidHold({ id: "void_day1", holdId: last.id, at: on(10, 13) });
        await store.hold(daily(buyer, seller, 500_000, on(10, 13)));
        await store.hold(holdOf(buyer, seller, { amount: 5 * USD, at: on(10, 14), expiresAt: on(28) }));
        expect(await codeOf(store.hold(daily(buyer, seller, 1, on(10, 14))))).toBe("SPEND_CAP_EXCEEDED");
        // The next day counts only its own captures, and the holds still in flight.
        const held = 6_500_000;
        expect(await figures(buyer, on(11))).toEqual({
          available: 100 * USD - 1_500_000 - held,
          held,
          earnings: 0,
        });
        expect(await refusalOf(store.hold(daily(buyer, seller, USD, on(11, 0), 7 * USD)))).toMatchObject({
          code: "SPEND_CAP_EXCEEDED",
          details: { spent_today_usd: "6.500000", held_usd: "6.500000" },
        });
        expect((await store.hold(daily(buyer, seller, 500_000, on(11, 0), 7 * USD))).status).toBe("pending");
      });

      it("counts a capture on the day it is captured, and a zero cap refuses everything", async () => {
        const { buyer, seller } = await parties(100 * USD);
        const late = await store.hold(daily(buyer, seller, 2 * USD, on(10, 23)));
        await store.capture({ id: "cap_late", holdId: late.id, amount: 2 * USD, at: on(11, 0) });
        expect((await store.hold(daily(buyer, seller, 3 * USD, on(10, 23)))).status).toBe("pending");
        expect(await refusalOf(store.hold(daily(buyer, seller, USD + 1, on(11, 1), 6 * USD)))).toMatchObject({
          code: "SPEND_CAP_EXCEEDED",
          details: { spent_today_usd: "5.000000" },
        });
        expect(await codeOf(store.hold(daily(buyer, seller, 1, on(12), 0)))).toBe("SPEND_CAP_EXCEEDED");
      });

      it("lets exactly as many concurrent holds and captures through as the daily cap allows", async () => {
        const { buyer, seller } = await parties(100 * USD);
        const attempts = Array.from({ length: 30 }, async (_, i) => {
          const charge = await store.hold(daily(buyer, seller, 200_000, on(10, 10), 3 * USD));
          // Half capture less than they held: the rest of the hold returns to the day's allowance.
          const amount = i % 2 === 0 ? 200_000 : 100_000;
          await store.capture({ id: `${charge.id}:capture`, holdId: charge.id, amount, at: on(10, 10) });
          return amount;
        });
        const outcomes = await Promise.allSettled(attempts);
        const captured = outcomes.reduce((sum, o) => sum + (o.status === "fulfilled" ? o.value : 0), 0);
        for (const outcome of outcomes) {
          if (outcome.status === "rejected") {
            expect(isMercatoError(outcome.reason) && outcome.reason.code).toBe("SPEND_CAP_EXCEEDED");
          }
        }
        expect(captured).toBeLessThanOrEqual(3 * USD);
        expect(outcomes.filter((o) => o.status === "fulfilled").length).toBeGreaterThanOrEqual(15);
        const room = 3 * USD - captured;
        expect(await codeOf(store.hold(daily(buyer, seller, room + 1, on(10, 11))))).toBe(
          "SPEND_CAP_EXCEEDED",
        );
        if (room > 0) await store.hold(daily(buyer, seller, room, on(10, 11)));
      });

      it("checks the balance, then the monthly cap, then the daily cap, then the key's cap", async () => {
        const { buyer, seller } = await parties(USD);
        const all = (amount: number) =>
          holdOf(buyer, seller, { keyId: "key_daily", keySpendCap: 0, dailyCap: 400_000, amount });
        expect(await codeOf(store.hold(all(USD + 1)))).toBe("INSUFFICIENT_FUNDS");
        await store.setMonthlyCap(buyer, 500_000);
        expect(await refusalOf(store.hold(all(USD)))).toMatchObject({
          details: { monthly_cap_usd: "0.500000" },
        });
        expect(await refusalOf(store.hold(all(500_000)))).toMatchObject({
          details: { daily_limit_usd: "0.400000" },
        });
        expect(await refusalOf(store.hold(all(400_000)))).toMatchObject({ details: { key_id: "key_daily" } });
      });

      it("refuses a daily cap that is not integer micros ≥ 0", async () => {
        const { buyer, seller } = await parties();
        for (const dailyCap of [-1, 1.5, Number.NaN]) {
          expect(await codeOf(store.hold(holdOf(buyer, seller, { dailyCap })))).toBe("INVALID_AMOUNT");
        }
        expect(await figures(buyer)).toEqual({ available: 10 * USD, held: 0, earnings: 0 });
      });
    });

    describe("settlements", () => {
      it("pays each seller's posted earnings once per date, and only posted earnings", async () => {
        const buyer = await newAccount();
        const [a, b, c] = [await newAccount(), await newAccount(), await newAccount()];
        await topUp(buyer, 10 * USD);
        const pay = async (seller: string, amount: number) => {
          const charge = await store.hold(holdOf(buyer, seller, { amount }));
          await store.capture({ id: `${charge.id}:capture`, holdId: charge.id, amount, at: at(1) });
        };
        await pay(a, USD);
        await pay(a, 500_000);
        await pay(b, 2 * USD);
        await store.hold(holdOf(buyer, c, { amount: USD })); // pending: not yet earned

        let next = 0;
        const newId = () => `stl_${String(++next).padStart(4, "0")}`;
        const created = await store.createSettlements("2026-01-10", "stripe", at(5), newId);
        expect([...created].sort((x, y) => x.accountId.localeCompare(y.accountId))).toEqual(
          [
            { accountId: a, amount: 1_350_000 },
            { accountId: b, amount: 1_800_000 },
          ].map(({ accountId, amount }) => ({
            id: expect.stringMatching(/^stl_/),
            accountId,
            settlementDate: "2026-01-10",
            amount,
            provider: "stripe",
            providerRef: null,
            status: "pending",
            failure: null,
            createdAt: at(5),
            paidAt: null,
          })),
        );
        expect(await figures(a)).toEqual({ available: 0, held: 0, earnings: 0 });
        expect(await figures(b)).toEqual({ available: 0, held: 0, earnings: 0 });
        expect((await store.audit()).totals).toMatchObject({
          paidOut: 3_150_000,
          earnings: 0,
          revenue: 350_000,
        });

        // Once per date: a second run, even with new earnings, creates nothing for that date.
        expect(await store.createSettlements("2026-01-10", "stripe", at(6), newId)).toEqual([]);
        await pay(a, USD);
        expect(await store.createSettlements("2026-01-10", "stripe", at(7), newId)).toEqual([]);
        expect(await figures(a)).toEqual({ available: 0, held: 0, earnings: 900_000 });
        const nextDay = await store.createSettlements("2026-01-11", "stripe", at(8), newId);
        expect(nextDay).toMatchObject([{ accountId: a, amount: 900_000, settlementDate: "2026-01-11" }]);
        expect(await store.createSettlements("2026-01-11", "stripe", at(9), newId)).toEqual([]);
        expect(await figures(a)).toEqual({ available: 0, held: 0, earnings: 0 });
        expect(await figures(c)).toEqual({ available: 0, held: 0, earnings: 0 });
        expect((await store.audit()).totals).toMatchObject({ paidOut: 4_050_000, held: USD });
      });

      it("undoes a settlement run that fails halfway, while writes sent with it take effect", async () => {
        const buyer = await newAccount();
        const [a, b] = [await newAccount(), await newAccount()];
        await topUp(buyer, 10 * USD);
        for (const seller of [a, b]) {
          const charge = await store.hold(holdOf(buyer, seller));
          await store.capture({ id: `${charge.id}:capture`, holdId: charge.id, amount: USD, at: at(1) });
        }
        // The second settlement reuses the first one's id: the run fails after paying one seller.
        const [failed, held, credited] = await Promise.allSettled([
          store.createSettlements("2026-01-10", "stripe", at(2), () => "stl_reused"),
          store.hold(holdOf(buyer, a, { amount: 2 * USD })),
          topUp(buyer, 5 * USD),
        ]);
        expect(failed.status).toBe("rejected");
        expect(held.status).toBe("fulfilled");
        expect(credited.status).toBe("fulfilled");
        expect(await store.listSettlements(a)).toEqual([]);
        expect(await store.listUnpaidSettlements()).toEqual([]);
        expect(await figures(a)).toEqual({ available: 0, held: 0, earnings: 900_000 });
        expect(await figures(b)).toEqual({ available: 0, held: 0, earnings: 900_000 });
        expect(await figures(buyer)).toEqual({ available: 11 * USD, held: 2 * USD, earnings: 0 });
        expect((await store.audit()).totals.paidOut).toBe(0);

        let next = 0;
        const created = await store.createSettlements("2026-01-10", "stripe", at(3), () => `stl_ok${++next}`);
        expect(created.map((s) => s.amount)).toEqual([900_000, 900_000]);
      });

      it("creates each settlement once when runs for one date race", async () => {
        const { buyer, seller } = await parties();
        const charge = await store.hold(holdOf(buyer, seller));
        await store.capture({ id: "cap_race", holdId: charge.id, amount: USD, at: at(1) });
        let next = 0;
        const newId = () => `stl_race${++next}`;
        const runs = await Promise.all(
          Array.from({ length: 4 }, () => store.createSettlements("2026-01-10", "stripe", at(2), newId)),
        );
        expect(runs.flat()).toMatchObject([{ accountId: seller, amount: 900_000 }]);
        expect((await store.audit()).totals.paidOut).toBe(900_000);
      });

      it("records payouts: paid settlements leave the unpaid list, failed ones stay for a retry", async () => {
        const buyer = await newAccount();
        const [a, b] = [await newAccount(), await newAccount()];
        await topUp(buyer, 10 * USD);
        const pay = async (seller: string, amount: number, when: number) => {
          const charge = await store.hold(holdOf(buyer, seller, { amount, at: at(when) }));
          await store.capture({ id: `${charge.id}:capture`, holdId: charge.id, amount, at: at(when) });
        };
        let next = 0;
        const newId = () => `stl_pay${++next}`;
        await pay(a, USD, 0);
        await pay(b, 2 * USD, 0);
        const [first, second] = await store.createSettlements("2026-01-10", "stripe", at(1), newId);
        await pay(a, USD, 2);
        const [third] = await store.createSettlements("2026-01-11", "stripe", at(3), newId);
        if (!first || !second || !third) throw new Error("expected three settlements");
        expect((await store.listUnpaidSettlements()).map((s) => s.id)).toEqual([
          first.id,
          second.id,
          third.id,
        ]);

        await store.updateSettlement(first.id, {
          status: "paid",
          providerRef: "po_1",
          failure: null,
          paidAt: at(4),
        });
        await store.updateSettlement(second.id, {
          status: "failed",
          providerRef: null,
          failure: "account closed",
          paidAt: null,
        });
        expect(await store.listUnpaidSettlements()).toEqual([
          { ...second, status: "failed", failure: "account closed" },
          third,
        ]);
        const ofA = await store.listSettlements(first.accountId);
        expect(ofA.map((s) => s.settlementDate)).toEqual(["2026-01-11", "2026-01-10"]);
        expect(ofA[1]).toEqual({ ...first, status: "paid", providerRef: "po_1", paidAt: at(4) });
        expect(await store.listSettlements(buyer)).toEqual([]);
      });
    });

    describe("top-ups", () => {
      const pendingTopup = (accountId: string, overrides: Partial<TopupRecord> = {}): TopupRecord => ({
        id: `tp_${serial()}`,
        accountId,
        amount: 10 * USD,
        provider: "stripe",
        providerRef: `cs_${serial()}`,
        checkoutUrl: "https://checkout.example/pay",
        status: "pending",
        createdAt: at(0),
        completedAt: null,
        ...overrides,
      });

      it("stores a pending top-up and finds it by id and by provider reference", async () => {
        const { buyer } = await parties(0);
        const topup = pendingTopup(buyer);
        await store.insertTopup(topup);
        expect(await store.getTopup(topup.id)).toEqual(topup);
        expect(await store.findTopupByProviderRef("stripe", topup.providerRef ?? "")).toEqual(topup);
        expect(await store.findTopupByProviderRef("other", topup.providerRef ?? "")).toBeUndefined();
        expect(await store.getTopup("tp_missing")).toBeUndefined();
        expect(await figures(buyer)).toEqual({ available: 0, held: 0, earnings: 0 });
      });

      it("credits a completed top-up exactly once, also when completions repeat and race", async () => {
        const { buyer } = await parties(0);
        const topup = pendingTopup(buyer);
        await store.insertTopup(topup);
        const done = await store.completeTopup(topup.id, at(1));
        expect(done).toEqual({
          topup: { ...topup, status: "succeeded", completedAt: at(1), checkoutUrl: null },
          credited: true,
        });
        expect(await store.completeTopup(topup.id, at(2))).toEqual({ topup: done?.topup, credited: false });
        expect(await figures(buyer)).toEqual({ available: 10 * USD, held: 0, earnings: 0 });

        const raced = pendingTopup(buyer, { amount: 25 * USD });
        await store.insertTopup(raced);
        const outcomes = await Promise.all(
          Array.from({ length: 5 }, () => store.completeTopup(raced.id, at(3))),
        );
        expect(
          outcomes.every(
            (outcome) => outcome?.topup.status === "succeeded" && outcome.topup.completedAt === at(3),
          ),
        ).toBe(true);
        expect(outcomes.filter((outcome) => outcome?.credited)).toHaveLength(1);
        expect(await figures(buyer)).toEqual({ available: 35 * USD, held: 0, earnings: 0 });
        expect((await store.audit()).totals.toppedUp).toBe(35 * USD);
        expect(await store.completeTopup("tp_missing", at(3))).toBeUndefined();
      });

      it("fails a pending top-up, which then cannot be credited; a succeeded one cannot fail", async () => {
        const { buyer } = await parties(0);
        const failing = pendingTopup(buyer);
        await store.insertTopup(failing);
        expect(await store.failTopup(failing.id, at(1))).toEqual({
          ...failing,
          status: "failed",
          completedAt: at(1),
        });
        expect(await codeOf(store.completeTopup(failing.id, at(2)))).toBe("CONFLICT");
        expect((await store.getTopup(failing.id))?.status).toBe("failed");

        const succeeding = pendingTopup(buyer);
        await store.insertTopup(succeeding);
        const done = await store.completeTopup(succeeding.id, at(1));
        expect(await store.failTopup(succeeding.id, at(2))).toEqual(done?.topup);
        expect(await store.failTopup("tp_missing", at(2))).toBeUndefined();
        expect(await figures(buyer)).toEqual({ available: 10 * USD, held: 0, earnings: 0 });
      });

      it("keeps a top-up's credit apart from caller-chosen credit ids", async () => {
        const { buyer } = await parties(0);
        const topup = pendingTopup(buyer, { id: "tp_plain" });
        await store.insertTopup(topup);
        await topUp(buyer, USD, "topup:tp_plain");
        await store.completeTopup(topup.id, at(1));
        expect(await figures(buyer)).toEqual({ available: 11 * USD, held: 0, earnings: 0 });
      });
    });

    describe("charges", () => {
      it("lists charges newest first as buyer, as seller or both, page by page", async () => {
        const [x, y, z] = [await newAccount(), await newAccount(), await newAccount()];
        await topUp(x, 10 * USD);
        await topUp(y, 10 * USD);
        const made: ChargeRecord[] = [];
        // Several charges share a creation time, so the order must break ties by id.
        const plan: Array<[string, string, number]> = [
          [x, y, 0],
          [y, x, 1],
          [x, z, 1],
          [x, y, 1],
          [y, z, 2],
          [x, x, 3],
          [x, z, 3],
          [y, x, 4],
        ];
        for (const [buyer, seller, minute] of plan) {
          made.push(await store.hold(holdOf(buyer, seller, { amount: 1_000, at: at(minute) })));
        }
        await store.capture({ id: "cap_listed", holdId: made[0]?.id ?? "", amount: 500, at: at(5) });
        const newestFirst = (charges: ChargeRecord[]) =>
          [...charges].sort((p, q) =>
            p.createdAt === q.createdAt ? (p.id < q.id ? 1 : -1) : p.createdAt < q.createdAt ? 1 : -1,
          );
        const current = await Promise.all(
          made.map(async (c) => (await store.getCharge(c.id)) as ChargeRecord),
        );
        const pages = async (accountId: string, role?: "buyer" | "seller") => {
          const all: ChargeRecord[] = [];
          let cursor: string | undefined;
          for (let page = 0; page < 20; page++) {
            const result = await store.listCharges(accountId, {
              limit: 2,
              ...(role && { role }),
              ...(cursor !== undefined && { cursor }),
            });
            expect(result.charges.length).toBeLessThanOrEqual(2);
            all.push(...result.charges);
            if (result.nextCursor === null) return all;
            cursor = result.nextCursor;
          }
          throw new Error("paging did not end");
        };
        for (const account of [x, y, z]) {
          expect(await pages(account, "buyer")).toEqual(
            newestFirst(current.filter((c) => c.buyerId === account)),
          );
          expect(await pages(account, "seller")).toEqual(
            newestFirst(current.filter((c) => c.sellerAccountId === account)),
          );
          expect(await pages(account)).toEqual(
            newestFirst(current.filter((c) => c.buyerId === account || c.sellerAccountId === account)),
          );
        }
        const whole = await store.listCharges(x, { limit: 100 });
        expect(whole.nextCursor).toBeNull();
        expect(whole.charges).toHaveLength(
          current.filter((c) => c.buyerId === x || c.sellerAccountId === x).length,
        );
        expect(await store.listCharges(x, { limit: 2, cursor: "%%%" }).catch((e: unknown) => e)).toSatisfy(
          (error: unknown) => isMercatoError(error) && error.code === "VALIDATION_ERROR",
        );
      });
    });
  });
}
