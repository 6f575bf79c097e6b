import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createGrantLedger } from "@mercato/protocol/direct";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from "vitest";
import { createBudget } from "../call/budget.js";
import type { CallAttempt, DirectCallResult, ProxyCallResult } from "../call/types.js";
import { createClient } from "../client/client.js";
import type { MercatoClient } from "../client/mercato-client.js";
import type { FetchFunction } from "../client/request.js";
import { failure } from "../client/test-fixtures.js";
import type { UsageReport } from "../client/types.js";
import { type Market, startMarket, startTestSeller, type TestSeller } from "./test-fixtures.js";

let market: Market;
let owner: MercatoClient;
const sellers: TestSeller[] = [];

beforeAll(async () => {
  market = await startMarket();
  owner = (await market.account("call-owner")).client;
});

afterAll(async () => {
  await Promise.all(sellers.map((seller) => seller.close()));
  await market.close();
});

async function seller(answer?: TestSeller["answer"]) {
  const started = await startTestSeller(market.baseUrl, answer);
  sellers.push(started);
  return started;
}

const FAST = { baseMs: 1, maxMs: 5 };

describe("client.call({ mode: 'direct' })", () => {
  it("picks the cheapest agent per success, retries it, fails over to the next, and charges the budget only for the success", async () => {
    const broken = await seller(() => ({ status: 500 }));
    const working = await seller();
    const cheap = await market.agent(owner, broken, "0.01", "direct-fx");
    const dear = await market.agent(owner, working, "0.03", "direct-fx");
    const { client } = await market.account("fx-buyer");
    const budget = createBudget("1.00");

    const result = await client.call({
      category: "direct-fx",
      input: { pair: "EURUSD" },
      mode: "direct",
      retries: 1,
      backoff: FAST,
      budget,
    });
    expect(result).toMatchObject({
      mode: "direct",
      output: { echo: { pair: "EURUSD" }, call: 1 },
      cost: 0.03,
      costUsd: "0.030000",
      agentId: dear,
      sequence: 1,
    });
    expectTypeOf(result).toEqualTypeOf<DirectCallResult>();
    // Typed by its mode (the arrow never runs): a call without one is a proxy call.
    expectTypeOf(() => client.call({ input: 1 })).returns.resolves.toEqualTypeOf<ProxyCallResult>();
    expect(result.receipt).toBeUndefined();
    expect(result.transactionId).toBeUndefined();
    expect(result.grantId).toMatch(/^grt_/);
    expect(result.attempts.map((a) => [a.agentId, a.attempt, a.ok, a.code, a.costUsd])).toEqual([
      [cheap, 1, false, "SELLER_ERROR", "0.000000"],
      [cheap, 2, false, "SELLER_ERROR", "0.000000"],
      [dear, 1, true, undefined, "0.030000"],
    ]);
    // The failed attempts used one grant of the cheap agent, one voucher each.
    expect(result.attempts[0]?.grantId).toBe(result.attempts[1]?.grantId);
    expect(result.attempts.map((a) => a.sequence)).toEqual([1, 2, 1]);
    expect(budget.spentUsd).toBe("0.030000");
    expect(budget.reservedUsd).toBe("0.000000");
    expect(broken.seen.map((s) => s.status)).toEqual([500, 500]);
    // Each prepaid the cheap agent's price; the failed first attempt's prepayment carried over.
    expect(broken.seen.map((s) => s.owedMicros)).toEqual([10_000, 10_000]);
    expect(working.seen.map((s) => s.owedMicros)).toEqual([30_000]);

    // The default grant budget: 50 calls at the agent's price.
    expect(await client.grants.get(result.grantId)).toMatchObject({ budget_usd: "1.500000", status: "open" });
    await client.close();
    expect(await client.grants.get(result.grantId)).toMatchObject({
      status: "closed",
      redeemed_usd: "0.030000",
    });
    // The cheap agent's grant closes owing nothing: neither prepaid attempt succeeded.
    expect(await client.grants.get(result.attempts[0]?.grantId ?? "")).toMatchObject({
      status: "closed",
      redeemed_usd: "0.000000",
    });
  });

  it("gives concurrent calls on one agent a grant each, and reuses the idle sessions afterwards", async () => {
    const slow = await seller(() => ({ delayMs: 80 }));
    const agentId = await market.agent(owner, slow, "0.02", "direct-slow");
    const { client } = await market.account("slow-buyer");
    const call = (n: number) =>
      client.call({ category: "direct-slow", input: n, mode: "direct", directBudgetUsd: "0.20" });

    const parallel = await Promise.all([1, 2, 3, 4].map(call));
    const grants = new Set(parallel.map((result) => result.grantId));
    expect(grants.size).toBe(4);
    expect(parallel.every((result) => result.agentId === agentId && result.sequence === 1)).toBe(true);
    expect(slow.seen.every((s) => s.status === 200)).toBe(true);

    const later = await call(5);
    expect(grants.has(later.grantId)).toBe(true);
    expect(later.sequence).toBe(2);
    expect(await client.grants.get(later.grantId)).toMatchObject({ budget_usd: "0.200000" });
    await client.close();
    for (const grantId of grants) expect((await client.grants.get(grantId)).status).toBe("closed");
  });

  it("retries an unknown outcome on a fresh grant without paying for it; stops at the caller's budget", async () => {
    let served = 0;
    const flaky = await seller(() => (++served === 1 ? { lateMs: 2_000 } : "ok"));
    await market.agent(owner, flaky, "0.02", "direct-flaky");
    const { client } = await market.account("flaky-buyer");
    const budget = createBudget("0.05");
    const call = () =>
      client.call({
        category: "direct-flaky",
        input: "q",
        mode: "direct",
        timeoutMs: 200,
        backoff: FAST,
        budget,
      });

    const first = await call();
    expect(first.attempts.map((a: CallAttempt) => [a.attempt, a.ok, a.code, a.costUsd])).toEqual([
      [1, false, "SELLER_TIMEOUT", "0.000000"],
      [2, true, undefined, "0.020000"],
    ]);
    expect(first.attempts[0]?.grantId).not.toBe(first.grantId);
    expect(budget.spentUsd).toBe("0.020000");
    await call();
    const over = await failure(call);
    expect(over.code).toBe("BUDGET_EXCEEDED");
    expect(budget.spentUsd).toBe("0.040000");
    await client.close();
    expect(await client.grants.get(first.attempts[0]?.grantId ?? "")).toMatchObject({
      status: "closed",
      redeemed_usd: "0.000000",
    });
  });

  it("takes a seller's refusal of a grant for the grant's bookkeeping, not the caller's budget", async () => {
    // Refuses its first call as behind on payment: the session retires the grant and call() retries.
    const strict = await seller((_input, n) => (n === 1 ? { refuse: "payment_behind" } : "ok"));
    // Serves another agent than the one registered at its endpoint: every grant is refused.
    const confused = await seller();
    const first = await market.agent(owner, confused, "0.01", "direct-refusals");
    confused.agentId = "agent_someoneelse";
    const second = await market.agent(owner, strict, "0.02", "direct-refusals");
    const { client } = await market.account("refusals-buyer");

    const result = await client.call({
      category: "direct-refusals",
      input: "x",
      mode: "direct",
      backoff: FAST,
    });
    expect(result.agentId).toBe(second);
    expect(result.attempts.map((a) => [a.agentId, a.ok, a.code])).toEqual([
      [first, false, "UNAUTHENTICATED"],
      [second, false, "BUDGET_EXCEEDED"],
      [second, true, undefined],
    ]);
    expect(confused.seen.map((s) => s.reason)).toEqual(["grant_wrong_agent"]);
    expect(result.attempts[1]?.grantId).not.toBe(result.grantId);
    await client.close();
  });

  it("sends every call's outcome to /usage/reports; the paid successes count in the agent's metrics", async () => {
    const reports: UsageReport["reports"] = [];
    let accepted = 0;
    let pending = 0;
    const spying: FetchFunction = async (url, init) => {
      const response = await fetch(url, init);
      if (new URL(url).pathname === "/usage/reports") {
        reports.push(...(JSON.parse(String(init.body)) as UsageReport).reports);
        const answer = (await response.clone().json()) as { accepted: number; pending: number };
        accepted += answer.accepted;
        pending += answer.pending;
      }
      return response;
    };
    const halves = await seller((_input, n) => (n % 2 === 0 ? { status: 503 } : "ok"));
    const agentId = await market.agent(owner, halves, "0.01", "direct-metrics");
    const { client } = await market.account("metrics-buyer", spying);
    const session = client.openSession(agentId, { budgetUsd: "1" });
    const { grantId } = await session.call(1);
    for (let n = 2; n <= 6; n++) await session.call(n).catch(() => undefined);
    expect(reports).toEqual([]);
    await session.close();

    expect(reports.map((r) => [r.sequence, r.success])).toEqual([
      [1, true],
      [2, false],
      [3, true],
      [4, false],
      [5, true],
      [6, false],
    ]);
    expect(reports.every((r) => r.agent_id === agentId && r.grant_id === grantId)).toBe(true);
    expect(
      reports.every((r) => Number.isInteger(r.response_time_ms) && !Number.isNaN(Date.parse(r.at))),
    ).toBe(true);
    // The buyer's successes count once the grant settled with its final voucher paying for them (the
    // seller, which reports nothing here, would decide them otherwise); its failures cost it nothing
    // to claim, so they are not counted: the broker measures failures through the proxy and health checks.
    expect(accepted + pending).toBe(3);
    await vi.waitFor(
      async () => expect((await owner.agents.get(agentId)).metrics).toMatchObject({ total_calls: 3 }),
      { timeout: 60_000, interval: 100 },
    );
  });

  it("client.close() closes every session and the pool's, and later calls of a closed session reject", async () => {
    const plain = await seller();
    const agentId = await market.agent(owner, plain, "0.02", "direct-close");
    const { client } = await market.account("close-buyer");
    const one = client.openSession(agentId, { budgetUsd: "0.50" });
    const two = client.openSession(agentId, { budgetUsd: "0.50" });
    const unused = client.openSession(agentId, { budgetUsd: "0.50" });
    const opened = [
      (await one.call(1)).grantId,
      (await two.call(2)).grantId,
      (await client.call({ category: "direct-close", input: 3, mode: "direct" })).grantId,
    ];
    expect(new Set(opened).size).toBe(3);

    await client.close();
    expect([one.closed, two.closed, unused.closed]).toEqual([true, true, true]);
    for (const grantId of opened) {
      expect(await client.grants.get(grantId)).toMatchObject({ status: "closed", redeemed_usd: "0.020000" });
    }
    expect((await failure(() => one.call("late"))).code).toBe("CONFLICT");
    // The client stays usable: a new call opens a new grant.
    const again = await client.call({ category: "direct-close", input: 4, mode: "direct" });
    expect(opened).not.toContain(again.grantId);
    await client.close();
  });
});

describe("client.call() with a key the broker refuses", () => {
  /** A seller for calls through the broker: answers every POST with its input as the output. */
  async function plainSeller(): Promise<TestSeller> {
    const server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk) => {
        text += chunk;
      });
      request.on("end", () => {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(
          JSON.stringify({ output: (JSON.parse(text || "{}") as { input?: unknown }).input ?? null }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const started: TestSeller = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/call`,
      agentId: "",
      answer: () => "ok",
      ledger: createGrantLedger(),
      seen: [],
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
    sellers.push(started);
    return started;
  }

  /** A fetch that counts the broker's answers by route, e.g. `POST /purchase 401`. */
  function counting() {
    const seen: string[] = [];
    const fetchAndCount: FetchFunction = async (url, init) => {
      const response = await fetch(url, init);
      const { origin, pathname } = new URL(url);
      if (origin === market.baseUrl) seen.push(`${init.method ?? "GET"} ${pathname} ${response.status}`);
      return response;
    };
    return { fetch: fetchAndCount, seen };
  }

  it.each(["proxy", "direct"] as const)(
    "stops at the first refusal of the buyer's own account key in %s mode: INVALID_API_KEY (401), one attempt",
    async (mode) => {
      const category = `refused-${mode}`;
      for (let i = 0; i < 3; i++) await market.agent(owner, await seller(), "0.01", category);
      const { fetch, seen } = counting();
      const client = createClient({ baseUrl: market.baseUrl, apiKey: `mk_${"A".repeat(43)}`, fetch });

      const error = await failure(() => client.call({ category, input: 1, mode, backoff: FAST }));
      expect(error).toMatchObject({ code: "INVALID_API_KEY", status: 401 });
      expect(error.details?.attempts).toHaveLength(1);
      // Besides the search and, in direct mode, the read of the agent's contract (its output schema):
      expect(seen.filter((line) => !line.startsWith("GET /agents/"))).toEqual(["POST /purchase 401"]);
      await client.close();
    },
  );

  it.each(["proxy", "direct"] as const)(
    "replaces a revoked access key in %s mode: the refused attempt is retried with a key bought anew",
    async (mode) => {
      const category = `revoked-${mode}`;
      // The test seller answers direct calls only; through the broker, a plain echo serves.
      const answering = mode === "direct" ? await seller() : await plainSeller();
      const agentId = await market.agent(owner, answering, "0.01", category);
      const { client: buyer } = await market.account(`revoked-${mode}-buyer`);
      const { api_key: revoked, key } = await buyer.purchase(agentId);
      await buyer.keys.revoke(key.key_id);
      const { fetch, seen } = counting();
      const apiKey = (await buyer.keys.create({ name: "second" })).api_key;
      const client = createClient({
        baseUrl: market.baseUrl,
        apiKey,
        fetch,
        accessKeys: { [agentId]: revoked },
      });

      const result = await client.call({ category, input: 1, mode, backoff: FAST });
      expect(result.attempts.map((a) => [a.ok, a.code])).toEqual([
        [false, "INVALID_API_KEY"],
        [true, undefined],
      ]);
      expect(seen.filter((line) => line.includes(" 401"))).toHaveLength(1);
      expect(seen.filter((line) => line.startsWith("POST /purchase"))).toEqual(["POST /purchase 201"]);
      expect(await client.accessKeys.get(agentId)).not.toBe(revoked);
      await client.close();
    },
  );
});
