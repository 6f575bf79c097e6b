import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { MercatoClient } from "../client/mercato-client.js";
import type { FetchFunction } from "../client/request.js";
import { failure } from "../client/test-fixtures.js";
import type { DirectResponse } from "./session-types.js";
import { type Market, startMarket, startTestSeller, type TestSeller } from "./test-fixtures.js";

let market: Market;
let owner: MercatoClient;
const sellers: TestSeller[] = [];
const clients: MercatoClient[] = [];

beforeAll(async () => {
  market = await startMarket();
  owner = (await market.account("direct-owner")).client;
});

afterEach(async () => {
  market.skew(0);
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await Promise.all(sellers.map((seller) => seller.close()));
  await market.close();
});

/** A seller answering as `answer` says, an agent at `price` it serves, and a funded buyer's client. */
async function setUp(price: string, answer?: TestSeller["answer"], fetch?: FetchFunction) {
  const seller = await startTestSeller(market.baseUrl, answer);
  sellers.push(seller);
  const agentId = await market.agent(owner, seller, price);
  const buyer = await market.account(`buyer-${sellers.length}`, fetch);
  clients.push(buyer.client);
  return { seller, agentId, client: buyer.client };
}

/** Settles every call, in order: the answers, and the errors of the calls that failed. */
async function callInTurn(calls: Array<() => Promise<DirectResponse>>) {
  const outcomes: Array<DirectResponse | Error> = [];
  for (const call of calls) outcomes.push(await call().catch((error: Error) => error));
  return outcomes;
}

/** Waits until the broker has settled the grant, and returns it. */
async function settled(client: MercatoClient, grantId: string) {
  return vi.waitFor(
    async () => {
      const grant = await client.grants.get(grantId);
      if (grant.settled_at === undefined) throw new Error(`${grantId} is not settled yet`);
      return grant;
    },
    { timeout: 60_000, interval: 50 },
  );
}

describe("a direct session", () => {
  it("pays for exactly the successes: the seller's vouchers, the final voucher and the settlement agree", async () => {
    const { seller, agentId, client } = await setUp("0.02", (_input, n) =>
      n % 3 === 0 ? { status: 500 } : "ok",
    );
    const session = client.openSession(agentId, { budgetUsd: "1.00" });

    const outcomes = await callInTurn(Array.from({ length: 9 }, (_, i) => () => session.call({ i })));
    const answers = outcomes.filter((o): o is DirectResponse => !(o instanceof Error));
    expect(answers).toHaveLength(6);
    expect(answers[0]).toMatchObject({
      output: { echo: { i: 0 }, call: 1 },
      cost: 0.02,
      costUsd: "0.020000",
      agentId,
      sequence: 1,
    });
    const errors = outcomes.filter((o) => o instanceof Error);
    expect(errors.map((e) => [e.name, (e as { code?: string }).code])).toEqual(
      Array(3).fill(["MercatoError", "SELLER_ERROR"]),
    );
    expect((errors[0] as { details?: unknown }).details).toMatchObject({ seller_status: 500, sequence: 3 });

    const grantId = answers[0]?.grantId ?? "";
    expect(new Set(answers.map((a) => a.grantId))).toEqual(new Set([grantId]));
    // Each voucher prepays its call and owes the successes before it: calls 3, 6 and 9 failed, and
    // the voucher after a failure carries its prepayment over.
    expect(seller.seen.map((s) => s.owedMicros)).toEqual([
      20_000, 40_000, 60_000, 60_000, 80_000, 100_000, 100_000, 120_000, 140_000,
    ]);
    expect(seller.seen.every((s) => s.status !== 402 && s.status !== 409)).toBe(true);
    expect(seller.ledger.best(grantId)).toMatchObject({ sequence: 9, owedMicros: 140_000 });
    // The seller holds the prepayment of the failed last call, and earned the six successes only.
    expect(seller.ledger.claim(grantId)?.earnedMicros).toBe(120_000);

    expect(await session.close()).toEqual({
      calls: 9,
      successes: 6,
      spentUsd: "0.120000",
      grants: [grantId],
    });
    expect(session.closed).toBe(true);
    expect(session.grant).toBeUndefined();
    const grant = await settled(client, grantId);
    expect(grant).toMatchObject({ status: "closed", redeemed_usd: "0.120000", captured_usd: "0.120000" });
    // Only what was captured left the wallet: the rest of the budget was released.
    expect((await client.balance()).available_usd).toBe("99.880000");
    expect((await client.balance()).held_usd).toBe("0.000000");

    const closed = await failure(() => session.call("again"));
    expect(closed.code).toBe("CONFLICT");
    expect(await session.close()).toEqual({
      calls: 9,
      successes: 6,
      spentUsd: "0.120000",
      grants: [grantId],
    });
  });

  it("opens its grant on the first call only, with the agent's access key, and reuses it", async () => {
    const requests: string[] = [];
    const recording: FetchFunction = (url, init) => {
      requests.push(`${init.method} ${new URL(url).pathname}`);
      return fetch(url, init);
    };
    const { agentId, client } = await setUp("0.01", undefined, recording);
    const session = client.openSession(agentId, { budgetUsd: "0.50", ttlS: 600 });
    expect(session.grant).toBeUndefined();
    expect(requests.filter((r) => r.includes("/grants"))).toEqual([]);

    const first = await session.call("a");
    const grant = session.grant;
    expect(grant).toMatchObject({ grant_id: first.grantId, agent_id: agentId, budget_usd: "0.500000" });
    expect(Date.parse(grant?.expires_at ?? "") - Date.parse(grant?.issued_at ?? "")).toBe(600_000);
    const second = await session.call("b");
    expect(second).toMatchObject({ grantId: first.grantId, sequence: 2 });
    expect(requests.filter((r) => r.startsWith("POST /grants"))).toEqual(["POST /grants"]);
    // The access key was bought (as invoke does) and kept.
    expect(requests).toContain("POST /purchase");
    expect(await client.accessKeys.get(agentId)).toMatch(/^sk_test_/);
  });

  it("holds the budget once when the broker's answer to opening the grant is lost", async () => {
    let lost = 0;
    const losing: FetchFunction = async (url, init) => {
      const response = await fetch(url, init);
      if (init.method === "POST" && new URL(url).pathname === "/grants" && lost++ === 0) {
        // The broker opened the grant, but its answer never arrives.
        throw new TypeError("fetch failed");
      }
      return response;
    };
    const { agentId, client } = await setUp("0.01", undefined, losing);
    const session = client.openSession(agentId, { budgetUsd: "0.50" });
    const answer = await session.call("a");
    expect(lost).toBe(2);
    expect(await client.balance()).toMatchObject({ available_usd: "99.500000", held_usd: "0.500000" });
    await session.close();
    await settled(client, answer.grantId);
    expect(await client.balance()).toMatchObject({ available_usd: "99.990000", held_usd: "0.000000" });
  });

  it("serializes its calls: concurrent calls of one session never meet at the seller", async () => {
    const { seller, agentId, client } = await setUp("0.01", () => ({ delayMs: 30 }));
    const session = client.openSession(agentId, { budgetUsd: "1.00" });
    const answers = await Promise.all([1, 2, 3, 4].map((n) => session.call(n)));
    expect(answers.map((a) => a.sequence)).toEqual([1, 2, 3, 4]);
    expect(new Set(answers.map((a) => a.grantId)).size).toBe(1);
    expect(seller.seen.map((s) => s.status)).toEqual([200, 200, 200, 200]);
  });

  it("renews a grant that cannot pay another call: closes it with its final voucher and opens another", async () => {
    const { seller, agentId, client } = await setUp("0.02");
    const session = client.openSession(agentId, { budgetUsd: "0.06" });
    const answers = await Promise.all([1, 2, 3, 4, 5].map((n) => session.call(n)));
    const [first, second] = [answers[0]?.grantId ?? "", answers[4]?.grantId ?? ""];
    expect(answers.map((a) => [a.grantId, a.sequence])).toEqual([
      [first, 1],
      [first, 2],
      [first, 3],
      [second, 1],
      [second, 2],
    ]);
    expect(second).not.toBe(first);
    // The seller never had to refuse a call: the session renewed before the budget ran out.
    expect(seller.seen.every((s) => s.status === 200)).toBe(true);
    expect(await session.close()).toMatchObject({
      calls: 5,
      successes: 5,
      spentUsd: "0.100000",
      grants: [first, second],
    });
    expect(await settled(client, first)).toMatchObject({ status: "closed", captured_usd: "0.060000" });
    expect(await settled(client, second)).toMatchObject({ status: "closed", captured_usd: "0.040000" });
  });

  it("keeps the budget exact with prepaid vouchers: a failed call spends none of it", async () => {
    const { seller, agentId, client } = await setUp("0.02", (input) =>
      input === "fail" ? { status: 503 } : "ok",
    );
    const session = client.openSession(agentId, { budgetUsd: "0.06" });
    const outcomes = await callInTurn(
      ["a", "fail", "b", "fail", "c", "d"].map((input) => () => session.call(input)),
    );
    const answers = outcomes.filter((o): o is DirectResponse => !(o instanceof Error));
    const [first, second] = [answers[0]?.grantId ?? "", answers[3]?.grantId ?? ""];
    // Three successes fill the first grant's 0.06 USD, failures or not; the fourth opens another.
    expect(answers.map((a) => [a.grantId, a.sequence])).toEqual([
      [first, 1],
      [first, 3],
      [first, 5],
      [second, 1],
    ]);
    // No voucher ever owed more than the budget, and the seller never refused one.
    expect(seller.seen.map((s) => s.owedMicros)).toEqual([20_000, 40_000, 40_000, 60_000, 60_000, 20_000]);
    expect(seller.seen.every((s) => s.status === 200 || s.status === 503)).toBe(true);
    expect(await session.close()).toMatchObject({ calls: 6, successes: 4, spentUsd: "0.080000" });
    expect(await settled(client, first)).toMatchObject({ status: "closed", captured_usd: "0.060000" });
    expect(await settled(client, second)).toMatchObject({ status: "closed", captured_usd: "0.020000" });
  });

  it("renews a grant shortly before it expires", async () => {
    const { agentId, client } = await setUp("0.02");
    const session = client.openSession(agentId, { budgetUsd: "1.00", ttlS: 60 });
    // Issued 45 s ago by the broker's clock: 15 s left, under the 30 s the session keeps in hand.
    market.skew(-45_000);
    const first = await session.call("early");
    market.skew(0);
    const second = await session.call("late");
    expect(second.grantId).not.toBe(first.grantId);
    expect(second.sequence).toBe(1);
    await vi.waitFor(async () => expect((await client.grants.get(first.grantId)).status).toBe("closed"), {
      timeout: 60_000,
    });
    expect(await settled(client, first.grantId)).toMatchObject({ captured_usd: "0.020000" });
    // A fresh grant is used even when it is near expiry (a clock behind): no renewal loop.
    market.skew(-45_000);
    const fresh = client.openSession(agentId, { budgetUsd: "1.00", ttlS: 60 });
    expect((await fresh.call("x")).sequence).toBe(1);
    expect((await fresh.close()).grants).toHaveLength(1);
  });

  it("does not pay for a call whose outcome it never learned, and moves to a fresh grant", async () => {
    const { seller, agentId, client } = await setUp("0.02", (input) =>
      input === "late" ? { lateMs: 2_000 } : "ok",
    );
    const session = client.openSession(agentId, { budgetUsd: "1.00", timeoutMs: 200 });
    const first = await session.call("first");
    const lost = await failure(() => session.call("late"));
    expect(lost.code).toBe("SELLER_TIMEOUT");
    expect(lost.details).toMatchObject({ grant_id: first.grantId, sequence: 2, cost_usd: "0.000000" });
    expect(session.grant).toBeUndefined();
    const third = await session.call("third");
    expect(third.grantId).not.toBe(first.grantId);
    expect(third.sequence).toBe(1);

    // The seller served the late call and counts it a success; the buyer never saw it.
    await vi.waitFor(() => expect(seller.seen[1]?.status).toBe(200), { timeout: 60_000 });
    expect(await session.close()).toMatchObject({ calls: 3, successes: 2, spentUsd: "0.040000" });
    expect(await settled(client, first.grantId)).toMatchObject({
      redeemed_usd: "0.020000",
      captured_usd: "0.020000",
    });
  });

  it("retires a grant the seller says is behind on payment; retries once on a fresh grant when one is spent", async () => {
    const plans = new Map<number, "payment_behind" | "grant_spent">([
      [2, "payment_behind"],
      [4, "grant_spent"],
    ]);
    const { seller, agentId, client } = await setUp("0.02", (_input, n) => {
      const reason = plans.get(n);
      return reason ? { refuse: reason } : "ok";
    });
    const session = client.openSession(agentId, { budgetUsd: "1.00" });
    const first = await session.call(1);
    const behind = await failure(() => session.call(2));
    expect(behind.code).toBe("BUDGET_EXCEEDED");
    expect(behind.status).toBe(402);
    expect(behind.details).toMatchObject({ reason: "payment_behind", grant_id: first.grantId });
    expect(session.grant).toBeUndefined();

    const third = await session.call(3);
    expect(third.grantId).not.toBe(first.grantId);
    // Refused as spent: closed, and the call is sent again on another grant, transparently.
    const fourth = await session.call(4);
    expect(fourth.grantId).not.toBe(third.grantId);
    expect(fourth.output).toEqual({ echo: 4, call: 5 });
    expect(seller.seen.map((s) => s.reason)).toEqual([
      undefined,
      "payment_behind",
      undefined,
      "grant_spent",
      undefined,
    ]);

    const summary = await session.close();
    expect(summary).toMatchObject({ calls: 3, successes: 3, spentUsd: "0.060000" });
    expect(summary.grants).toEqual([first.grantId, third.grantId, fourth.grantId]);
    for (const grantId of summary.grants) {
      expect(await settled(client, grantId)).toMatchObject({ status: "closed", captured_usd: "0.020000" });
    }
  });

  it("surfaces the broker's refusal to open a grant, and validates its options", async () => {
    const { agentId, client } = await setUp("0.05");
    const tooSmall = await failure(() => client.openSession(agentId, { budgetUsd: "0.01" }).call("x"));
    expect(tooSmall.code).toBe("VALIDATION_ERROR");
    const broke = await market.account("broke");
    clients.push(broke.client);
    const poor = await failure(() => broke.client.openSession(agentId, { budgetUsd: "500" }).call("x"));
    expect(poor.code).toBe("INSUFFICIENT_FUNDS");
    expect(() => client.openSession(agentId, { budgetUsd: "1", ttlS: 30 })).toThrow(/ttlS/);
    expect(() => client.openSession(agentId, { budgetUsd: "abc" })).toThrow();
    expect(() => client.openSession(agentId, { budgetUsd: "1", timeoutMs: 0 })).toThrow(/timeoutMs/);
  });

  it("answers SELLER_UNAVAILABLE, not a fetch error, when the seller cannot be reached", async () => {
    const { seller, agentId, client } = await setUp("0.02");
    await seller.close();
    const session = client.openSession(agentId, { budgetUsd: "1.00" });
    const down = await failure(() => session.call("x"));
    expect(down.code).toBe("SELLER_UNAVAILABLE");
    expect(down.cause).toBeInstanceOf(Error);
    expect(down.details).toMatchObject({ agent_id: agentId, sequence: 1, cost_usd: "0.000000" });
    const summary = await session.close();
    expect(summary).toMatchObject({ calls: 1, successes: 0, spentUsd: "0.000000" });
    expect(await settled(client, summary.grants[0] ?? "")).toMatchObject({
      status: "closed",
      captured_usd: "0.000000",
    });
  });

  it("rejects with the signal's reason when the caller aborts, and uses a fresh grant after", async () => {
    const { agentId, client } = await setUp("0.02", (input) => (input === "slow" ? { delayMs: 500 } : "ok"));
    const session = client.openSession(agentId, { budgetUsd: "1.00" });
    const first = await session.call("fast");
    const reason = new Error("enough");
    const aborted = await session.call("slow", { signal: AbortSignal.timeout(50) }).catch((e: unknown) => e);
    expect((aborted as Error).name).toBe("TimeoutError");
    await expect(session.call("x", { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    const after = await session.call("fast");
    expect(after.grantId).not.toBe(first.grantId);
    expect((await session.close()).spentUsd).toBe("0.040000");
  });
});
