import { type ErrorCode, isMercatoError, splitCharge } from "@mercato/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore } from "../../src/app/postgres-store.js";
import type { Store } from "../../src/app/store.js";
import type { ChargeRecord, HoldRequest, SettlementRecord } from "../../src/ledger/port.js";
import { createTestSchema } from "../support/postgres.js";
import { apiKeyRecord } from "../support/records.js";

/*
 * The ledger's guarantees across processes: three stores on one database, each with its own pool,
 * stand for three brokers. Requests are spread over them and sent at once; whatever the
 * interleaving, no wallet is overdrawn, no cap is passed, a hold resolves once, a transfer id takes
 * effect once, a top-up is credited once and a seller is settled once per date. The tests run in
 * order on one ledger and the last one checks every balance to the micro.
 */

const PRICE = 20_000;
const FUNDS = 100 * PRICE;
const T0 = "2026-03-01T10:00:00.000Z";
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();
const BUYER = "acct_pgx_buyer";
const KEYED = ["acct_pgx_keyed1", "acct_pgx_keyed2"] as const;
const SELLERS = ["acct_pgx_seller1", "acct_pgx_seller2", "acct_pgx_seller3"] as const;

const target = createTestSchema();
let brokers: Store[] = [];
/** The broker that the n-th request goes to. */
const via = (n: number): Store => brokers[n % brokers.length] as Store;

/** What the ledger must hold at the end, as the tests go. */
const expected = {
  toppedUp: 0,
  paidOut: 0,
  revenue: 0,
  buyer: 0,
  earnings: new Map<string, number>(SELLERS.map((seller) => [seller, 0])),
};
const earn = (seller: string, amount: number) =>
  expected.earnings.set(seller, (expected.earnings.get(seller) ?? 0) + amount);

/** Each outcome's error code, or "ok". */
const codes = (outcomes: PromiseSettledResult<unknown>[]): Array<ErrorCode | "ok"> =>
  outcomes.map((outcome) => {
    if (outcome.status === "fulfilled") return "ok";
    if (!isMercatoError(outcome.reason)) throw outcome.reason;
    return outcome.reason.code;
  });
const count = <T>(values: T[], value: T) => values.filter((v) => v === value).length;

const holdOf = (n: number, overrides: Partial<HoldRequest> = {}): HoldRequest => {
  const seller = SELLERS[n % SELLERS.length] as string;
  return {
    id: `txn_pgx_${n}`,
    buyerId: BUYER,
    sellerAccountId: seller,
    agentId: `agent_of_${seller}`,
    keyId: null,
    amount: PRICE,
    expiresAt: at(60),
    at: at(0),
    ...overrides,
  };
};

beforeAll(async () => {
  brokers = await Promise.all(
    [0, 1, 2].map(() => createPostgresStore({ url: target.url, schema: target.schema, poolSize: 8 })),
  );
  for (const [n, id] of [BUYER, ...KEYED, ...SELLERS].entries()) {
    await via(n).createAccount(
      { id, name: id, email: null, createdAt: T0 },
      apiKeyRecord({ id: `key_pgx_${n}`, accountId: id, createdAt: T0 }),
    );
  }
  for (const [n, accountId] of [BUYER, ...KEYED].entries()) {
    await via(n).credit({ id: `fund_${accountId}`, accountId, amount: FUNDS, reference: "funds", at: T0 });
  }
  expected.toppedUp = 3 * FUNDS;
  expected.buyer = FUNDS;
});

afterAll(async () => {
  await Promise.all(brokers.map((broker) => broker.close()));
  await target.drop();
});

describe("PostgreSQL ledger across three brokers", () => {
  /** The holds placed by the first test, resolved by the second. */
  let placed: ChargeRecord[] = [];

  it("places exactly as many of 300 concurrent holds as the wallet covers, never overdrawing it", async () => {
    let storming = true;
    const seen = { lowest: Number.POSITIVE_INFINITY, highestHeld: 0, reads: 0 };
    // A fourth reader watches the wallet from every broker while the holds land.
    const watcher = (async () => {
      for (let n = 0; storming; n++) {
        const { available, held } = await via(n).getBalance(BUYER, at(0));
        seen.lowest = Math.min(seen.lowest, available);
        seen.highestHeld = Math.max(seen.highestHeld, held);
        seen.reads++;
      }
    })();
    const outcomes = await Promise.allSettled(Array.from({ length: 300 }, (_, n) => via(n).hold(holdOf(n))));
    storming = false;
    await watcher;

    const answers = codes(outcomes);
    expect(count(answers, "ok")).toBe(FUNDS / PRICE);
    expect(count(answers, "INSUFFICIENT_FUNDS")).toBe(300 - FUNDS / PRICE);
    expect(seen.reads).toBeGreaterThan(0);
    expect(seen.lowest).toBeGreaterThanOrEqual(0);
    expect(seen.highestHeld).toBeLessThanOrEqual(FUNDS);
    for (const broker of brokers) {
      expect(await broker.getBalance(BUYER, at(0))).toMatchObject({ available: 0, held: FUNDS });
    }
    placed = outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
  });

  it("lets no more holds through on one key, from two buyers on three brokers, than its cap", async () => {
    const cap = 40 * PRICE;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 150 }, (_, n) =>
        via(n).hold(
          holdOf(1000 + n, { buyerId: KEYED[n % 2] as string, keyId: "key_pgx_shared", keySpendCap: cap }),
        ),
      ),
    );
    const answers = codes(outcomes);
    expect(count(answers, "ok")).toBe(40);
    expect(count(answers, "SPEND_CAP_EXCEEDED")).toBe(110);
    expect(await via(1).getKeySpend(["key_pgx_shared"])).toEqual(new Map([["key_pgx_shared", cap]]));
    // Void them all (each twice, from two brokers): the key's allowance comes back whole.
    const holds = outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
    const voids = await Promise.all(
      holds.flatMap((hold, n) => {
        const request = { id: `void_${hold.id}`, holdId: hold.id, at: at(1) };
        return [via(n).voidHold(request), via(n + 1).voidHold(request)];
      }),
    );
    expect(voids.every((charge) => charge.status === "voided")).toBe(true);
    expect(await via(2).getKeySpend(["key_pgx_shared"])).toEqual(new Map([["key_pgx_shared", 0]]));
  });

  it("resolves every hold exactly once when captures, voids and their replays race on three brokers", async () => {
    expect(placed).toHaveLength(100);
    type Plan = { charge: ChargeRecord; capture: number | null; rival: boolean };
    // A quarter voided, a quarter captured in full, a quarter in part, and a quarter captured while a
    // void with another id races it: one of the two wins, the other is a CONFLICT.
    const plans: Plan[] = placed.map((charge, n) => ({
      charge,
      capture: n % 4 === 0 ? null : n % 4 === 2 ? PRICE - 1_234 - n : PRICE,
      rival: n % 4 === 3,
    }));
    const send = (plan: Plan, n: number) =>
      plan.capture === null
        ? via(n).voidHold({ id: `void_${plan.charge.id}`, holdId: plan.charge.id, at: at(1) })
        : via(n).capture({
            id: `cap_${plan.charge.id}`,
            holdId: plan.charge.id,
            amount: plan.capture,
            at: at(1),
          });
    const rival = (plan: Plan, n: number) =>
      via(n).voidHold({ id: `rival_${plan.charge.id}`, holdId: plan.charge.id, at: at(1) });
    // Every request twice, from two brokers; the rivals too. All at once.
    const outcomes = await Promise.all(
      plans.map(async (plan, n) => {
        const sent = [
          send(plan, n),
          send(plan, n + 1),
          ...(plan.rival ? [rival(plan, n + 2), rival(plan, n)] : []),
        ];
        return Promise.allSettled(sent);
      }),
    );

    for (const [n, plan] of plans.entries()) {
      const answers = outcomes[n] as PromiseSettledResult<ChargeRecord>[];
      const final = await via(n).getCharge(plan.charge.id);
      if (!final) throw new Error(`charge ${plan.charge.id} is gone`);
      // Who won, the request or its rival, answers the charge as it ended up, both times; the loser
      // is refused both times, as resolved already.
      const requestWon = plan.capture === null ? final.status === "voided" : final.status === "completed";
      const [mine, loser] = requestWon
        ? [answers.slice(0, 2), answers.slice(2)]
        : [answers.slice(2), answers.slice(0, 2)];
      for (const answer of mine) expect(answer).toEqual({ status: "fulfilled", value: final });
      expect(codes(loser)).toEqual(loser.map(() => "CONFLICT"));
      if (!plan.rival) expect(requestWon).toBe(true);
      if (final.status === "completed") {
        const { fee, sellerShare } = splitCharge(final.captured);
        expect(final).toMatchObject({ captured: plan.capture, fee: Number(fee) });
        expected.buyer -= final.captured;
        expected.revenue += Number(fee);
        earn(final.sellerAccountId, Number(sellerShare));
      } else {
        expect(final).toMatchObject({ status: "voided", captured: 0, fee: 0 });
      }
    }
    expect(await via(0).getBalance(BUYER, at(1))).toMatchObject({ available: expected.buyer, held: 0 });
    for (const seller of SELLERS) {
      expect((await via(1).getBalance(seller, at(1))).earnings).toBe(expected.earnings.get(seller));
    }
  });

  it("credits one transfer id once, whichever of its concurrent senders wins, and refuses the others", async () => {
    const credit = (n: number) =>
      via(n).credit({
        id: "credit_pgx_once",
        accountId: BUYER,
        amount: n % 5 === 4 ? 6 * PRICE : 5 * PRICE,
        reference: "top-up",
        at: at(2),
      });
    const before = (await via(0).getBalance(BUYER, at(2))).available;
    const answers = codes(await Promise.allSettled(Array.from({ length: 40 }, (_, n) => credit(n))));
    const credited = (await via(1).getBalance(BUYER, at(2))).available - before;
    // The first to land decides: its amount is credited once, its twins succeed, the rest conflict.
    expect([5 * PRICE, 6 * PRICE]).toContain(credited);
    const won = (n: number) => (n % 5 === 4 ? 6 * PRICE : 5 * PRICE) === credited;
    expect(answers).toEqual(answers.map((_, n) => (won(n) ? "ok" : "CONFLICT")));
    expected.buyer += credited;
    expected.toppedUp += credited;
  });

  it("credits a top-up completed by several brokers at once exactly once; one completed and failed at once ends one way", async () => {
    const topup = {
      id: "tp_pgx_once",
      accountId: BUYER,
      amount: 7 * PRICE,
      provider: "stripe",
      providerRef: "cs_pgx_once",
      checkoutUrl: "https://checkout.example/pay",
      status: "pending" as const,
      createdAt: at(2),
      completedAt: null,
    };
    await via(0).insertTopup(topup);
    const done = await Promise.all(
      Array.from({ length: 15 }, (_, n) => via(n).completeTopup(topup.id, at(3))),
    );
    for (const outcome of done) {
      expect(outcome?.topup).toEqual({
        ...topup,
        status: "succeeded",
        completedAt: at(3),
        checkoutUrl: null,
      });
    }
    expect(done.filter((outcome) => outcome?.credited)).toHaveLength(1);
    expected.buyer += topup.amount;
    expected.toppedUp += topup.amount;

    const raced = { ...topup, id: "tp_pgx_raced", providerRef: "cs_pgx_raced" };
    await via(1).insertTopup(raced);
    await Promise.allSettled(
      Array.from({ length: 12 }, (_, n) =>
        n % 2 === 0 ? via(n).completeTopup(raced.id, at(4)) : via(n).failTopup(raced.id, at(4)),
      ),
    );
    const ended = await via(2).getTopup(raced.id);
    expect(["succeeded", "failed"]).toContain(ended?.status);
    if (ended?.status === "succeeded") {
      expected.buyer += raced.amount;
      expected.toppedUp += raced.amount;
    }
    expect((await via(0).getBalance(BUYER, at(4))).available).toBe(expected.buyer);
  });

  it("settles each seller once per date when runs on three brokers race, while charges go on", async () => {
    let next = 0;
    const newId = () => `stl_pgx_${++next}`;
    // Charges paid while the settlement runs: paid before a seller's settlement is read, they are
    // in it; after, they stay in earnings. Either way no micro is lost or paid twice.
    const charges = Array.from({ length: 12 }, async (_, n) => {
      const request = holdOf(2000 + n, { amount: 10_000 + n, at: at(5) });
      const held = await via(n).hold(request);
      return via(n + 1).capture({ id: `cap_${held.id}`, holdId: held.id, amount: request.amount, at: at(5) });
    });
    const runs = Array.from({ length: 6 }, (_, n) =>
      via(n).createSettlements("2026-03-01", "stripe", at(5), newId),
    );
    const [settled, paid] = await Promise.all([Promise.all(runs), Promise.all(charges)]);
    for (const charge of paid) {
      const { fee, sellerShare } = splitCharge(charge.captured);
      expected.buyer -= charge.captured;
      expected.revenue += Number(fee);
      earn(charge.sellerAccountId, Number(sellerShare));
    }
    const settlements: SettlementRecord[] = settled.flat();
    expect(settlements.map((s) => s.accountId).sort()).toEqual([...SELLERS].sort());
    for (const settlement of settlements) {
      expect(await via(0).listSettlements(settlement.accountId)).toEqual([settlement]);
      earn(settlement.accountId, -settlement.amount);
      expected.paidOut += settlement.amount;
    }
    // A later run for the same date settles nobody again, whatever was earned since.
    expect(await via(1).createSettlements("2026-03-01", "stripe", at(6), newId)).toEqual([]);
  });

  it("expires each hold once when three brokers sweep at once", async () => {
    const holds = await Promise.all(
      Array.from({ length: 30 }, (_, n) => via(n).hold(holdOf(3000 + n, { expiresAt: at(7), at: at(6) }))),
    );
    expect(holds.every((hold) => hold.status === "pending")).toBe(true);
    const swept = await Promise.all(Array.from({ length: 6 }, (_, n) => via(n).expireHolds(at(8), 7)));
    const more = await Promise.all(Array.from({ length: 6 }, (_, n) => via(n).expireHolds(at(8))));
    expect([...swept, ...more].reduce((sum, n) => sum + n, 0)).toBe(30);
    for (const hold of holds) expect((await via(0).getCharge(hold.id))?.status).toBe("voided");
  });

  it("ends with a clean audit on every broker and every balance exact to the micro", async () => {
    for (const broker of brokers) {
      const audit = await broker.audit();
      expect(audit.violations).toEqual([]);
      expect(audit.ok).toBe(true);
      expect(audit.totals).toEqual({
        toppedUp: expected.toppedUp,
        paidOut: expected.paidOut,
        wallets: expected.buyer + KEYED.length * FUNDS, // the keyed buyers' holds were all voided
        held: 0,
        earnings: [...expected.earnings.values()].reduce((sum, n) => sum + n, 0),
        revenue: expected.revenue,
      });
    }
    expect(await via(1).getBalance(BUYER, at(9))).toMatchObject({
      available: expected.buyer,
      held: 0,
      earnings: 0,
    });
    for (const [n, keyed] of KEYED.entries()) {
      expect(await via(n).getBalance(keyed, at(9))).toMatchObject({ available: FUNDS, held: 0 });
    }
    for (const seller of SELLERS) {
      expect(await via(2).getBalance(seller, at(9))).toMatchObject({
        available: 0,
        held: 0,
        earnings: expected.earnings.get(seller),
      });
    }
  });
});
