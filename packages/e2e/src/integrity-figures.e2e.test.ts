import { type CallOutcome, createDevProvider, createManualClock, type Store } from "@mercato/broker";
import { BUYER_CAP } from "@mercato/protocol";
import { type SellerKit, sellerKit } from "@mercato/seller-kit";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as z from "zod";
import { brokerRequest } from "./broker-api.js";
import { type RunningSeller, startSeller } from "./sellers.js";
import { startTestMarket, type TestMarket } from "./test-market.js";

const ADMIN = "e2e-admin-token-000016";
const DAY = 24 * 60 * 60 * 1000;
let market: TestMarket;
let store: Store;
let url: string;
const clock = createManualClock(new Date());
const sellers: RunningSeller[] = [];
let owner: { api_key: string; account_id: string };

const api = (
  method: string,
  path: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
) => brokerRequest(url, method, path, options);

/** A raw request, for bodies `fetch` with JSON cannot send. */
async function raw(path: string, key: string, body: string, contentType = "application/json") {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": contentType },
    body,
  });
  return { status: response.status, json: (await response.json()) as { error: { code: string } } };
}

/** The kits of the sellers started, by agent id. */
const kits = new Map<string, SellerKit>();

/** A seller on the kit: a price for a symbol; "FAIL" makes its handler throw (a real 500). */
async function priceSeller(): Promise<string> {
  const kit = sellerKit({
    broker: url,
    owner: owner.account_id,
    input: z.object({ symbol: z.string() }),
    handler: async ({ symbol }) => {
      if (symbol === "FAIL") throw new Error("the upstream price feed is down");
      return { symbol, price_usd: "64000.00" };
    },
    onError: () => {},
  });
  const seller = await startSeller(kit, "node");
  sellers.push(seller);
  const response = await api("POST", "/agents/register", {
    key: owner.api_key,
    body: {
      name: "Price feed",
      description: "Crypto prices",
      category: "crypto",
      tags: ["prices"],
      api_endpoint: seller.url,
      pricing: { model: "per_call", price_per_call: "0.02" },
    },
  });
  expect(response.status, JSON.stringify(response.json)).toBe(201);
  kits.set(response.json.agent_id, kit);
  return response.json.agent_id;
}

/** A buyer account, topped up with $20 (unless `topUp` is false). */
const buyer = (name: string, topUp = true) => market.signUp(name, topUp ? "20" : undefined);

async function accessKey(account: { api_key: string }, agentId: string): Promise<string> {
  const response = await api("POST", "/purchase", {
    key: account.api_key,
    body: { agent_id: agentId, plan: "per_call", rate_limit: 100_000 },
  });
  expect(response.status, JSON.stringify(response.json)).toBe(201);
  return response.json.api_key;
}

const invoke = (agentId: string, key: string, input: unknown) =>
  api("POST", `/agents/${agentId}/invoke`, { key, body: { input } });

/** The figures over a window, once the outcome recorder has flushed `calls` and `clientErrors`. */
async function flushed(agentId: string, window: "24h" | "30d", expected: Record<string, number>) {
  let figures: Record<string, number> = {};
  await vi.waitFor(
    async () => {
      figures = (await api("GET", `/agents/${agentId}/metrics?window=${window}`)).json;
      expect(figures).toMatchObject(expected);
    },
    { timeout: 60_000, interval: 200 },
  );
  return figures;
}

const available = async (account: { api_key: string }) =>
  (await api("GET", "/balance", { key: account.api_key })).json.available_usd as string;

/** The agent's ranked figures as search ranks by them (stored on the agent). */
const ranked = async (agentId: string) => (await api("GET", `/agents/${agentId}`)).json.metrics;

beforeAll(async () => {
  market = await startTestMarket({
    name: "figures-e2e",
    adminToken: ADMIN,
    clock,
    sweeper: false,
    payments: createDevProvider(),
    // Many sign-ups from one address, and a key making 1,000 calls in a minute: the sign-up limit
    // and the burst detector are turned up so that what is tested is the figures alone.
    fraud: { signupsPerHour: 10_000, burstFloorPerMinute: 100_000 },
  });
  ({ store, url } = market);
  owner = await buyer("Seller", false);
});

afterAll(async () => {
  // The ledger audit holds after every scenario below.
  const audit = await api("GET", "/admin/audit", { key: ADMIN });
  expect(audit.json.violations).toEqual([]);
  expect(audit.json.ok).toBe(true);
  await Promise.all(sellers.map((seller) => seller.close()));
  await market.close();
});

describe("a buyer's own mistakes count against the buyer, not the seller (item 3)", () => {
  it("1,000 calls with input the seller kit refuses move the victim's success rate by 0 points, cost $0, and are client errors", async () => {
    const agentId = await priceSeller();
    const honest = await buyer("Honest");
    const honestKey = await accessKey(honest, agentId);
    for (let i = 0; i < 20; i++)
      expect((await invoke(agentId, honestKey, { symbol: "BTC" })).status).toBe(200);
    const dayBefore = await flushed(agentId, "24h", { calls: 20, successes: 20 });
    const monthBefore = await flushed(agentId, "30d", { calls: 20, successes: 20 });
    const before = await ranked(agentId);

    const attacker = await buyer("Competitor");
    const attackerKey = await accessKey(attacker, agentId);
    const balance = await available(attacker);
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, () => invoke(agentId, attackerKey, { symbol: 42 })),
      );
      for (const answer of answers) {
        expect(answer.status).toBe(502);
        expect(answer.json.error.details).toMatchObject({
          seller_status: 400,
          seller_error_code: "VALIDATION_ERROR",
        });
      }
    }
    const day = await flushed(agentId, "24h", { calls: 20, successes: 20, client_errors: 1_000 });
    expect(day.success_rate).toBe(dayBefore.success_rate);
    expect(await flushed(agentId, "30d", { calls: 20, client_errors: 1_000 })).toMatchObject({
      success_rate: monthBefore.success_rate,
      trust_score: monthBefore.trust_score,
      ranking: monthBefore.ranking,
    });
    // Over 30 days the window's figures are the ranked ones.
    expect(monthBefore.ranking).toEqual(before.ranking);
    expect(await ranked(agentId)).toMatchObject({
      success_rate: before.success_rate,
      ranking: before.ranking,
      trust_score: before.trust_score,
      cost_per_success: before.cost_per_success,
      total_calls: 20,
    });
    expect(await available(attacker)).toBe(balance);
  }, 120_000);

  it("input the broker itself refuses is a client error too, for a key that may call the agent, and the seller never sees it", async () => {
    const agentId = await priceSeller();
    const account = await buyer("Careless");
    const key = await accessKey(account, agentId);
    const path = `/agents/${agentId}/invoke`;
    let deep: unknown = "x";
    for (let i = 0; i < 100; i++) deep = [deep];
    const refusals = [
      await raw(path, key, "{not json"),
      await raw(path, key, JSON.stringify({ input: deep })),
      await raw(path, key, JSON.stringify({ input: "x".repeat(70 * 1024) })),
      await raw(path, key, JSON.stringify({ input: { symbol: "BTC" }, timeout_ms: 10_000_000 })),
      await raw(path, key, JSON.stringify({ input: { symbol: "BTC" }, surprise: true })),
      await raw(path, key, "input=BTC", "text/plain"),
    ];
    expect(refusals.map((r) => r.status)).toEqual([400, 400, 413, 400, 400, 415]);
    expect(refusals.map((r) => r.json.error.code)).toEqual([
      "INVALID_JSON",
      "VALIDATION_ERROR",
      "PAYLOAD_TOO_LARGE",
      "VALIDATION_ERROR",
      "VALIDATION_ERROR",
      "UNSUPPORTED_MEDIA_TYPE",
    ]);
    // Not counted: no key, another agent's key, the owner's own key.
    const otherAgent = await priceSeller();
    const otherKey = await accessKey(account, otherAgent);
    await api("POST", "/topups", { key: owner.api_key, body: { amount_usd: "20" } });
    const ownKey = await accessKey(owner, agentId);
    await raw(path, "sk_test_nosuchkey", "{not json");
    await raw(path, otherKey, "{not json");
    await raw(path, ownKey, "{not json");
    expect((await invoke(agentId, key, { symbol: "BTC" })).status).toBe(200);
    const figures = await flushed(agentId, "24h", { calls: 1, successes: 1, client_errors: 6 });
    expect(figures.success_rate).toBeGreaterThan(0.95);
    // The seller saw the one valid call only.
    expect(kits.get(agentId)?.stats()).toMatchObject({ calls: 1, successes: 1, rejected: 0 });
    expect((await api("GET", `/agents/${otherAgent}/metrics`)).json.client_errors).toBe(0);
    expect(await available(account)).toBe("19.980000");
  }, 60_000);
});

describe("no single buyer moves a seller's figures much (item 4)", () => {
  /** `count` established buyers: topped up, then a day older (the clock moves on). */
  async function establishedBuyers(count: number): Promise<Array<{ api_key: string; account_id: string }>> {
    const accounts = [];
    for (let i = 0; i < count; i++) accounts.push(await buyer(`Regular ${i}`));
    return accounts;
  }

  it("one account's 300 real failed calls move the ranked success rate of an agent with 600 calls from 60 buyers by ≤ 2 points", async () => {
    const agentId = await priceSeller();
    const regulars = await establishedBuyers(60);
    const attacker = await buyer("Saboteur");
    clock.advance(DAY + 60_000);
    // The honest history: 60 buyers of 10 calls each, 594 of the 600 successful.
    const history: CallOutcome[] = regulars.flatMap((regular, b) =>
      Array.from({ length: 10 }, (_, i) => ({
        agentId,
        buyerId: regular.account_id,
        outcome: b < 6 && i === 0 ? "failure" : "success",
        responseTimeMs: 120,
      })),
    );
    await store.recordCallOutcomes(history, clock.now().toISOString());
    const before = await ranked(agentId);
    expect(before.ranking.success_rate).toBeCloseTo((594 + 19) / 620, 4);

    const key = await accessKey(attacker, agentId);
    const balance = await available(attacker);
    for (let batch = 0; batch < 3; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, () => invoke(agentId, key, { symbol: "FAIL" })),
      );
      for (const answer of answers) {
        expect(answer.status).toBe(502);
        expect(answer.json.error.details).toMatchObject({ seller_status: 500 });
      }
    }
    // Every call is measured: the raw figures show all 900.
    const month = await flushed(agentId, "30d", { calls: 900, successes: 594, client_errors: 0 });
    const after = await ranked(agentId);
    expect(month.ranking).toEqual(after.ranking);
    // The measured rate shows every call: 594 of 900.
    expect(after.success_rate).toBe(0.66);
    // Unweighted, the ranked rate would fall to 66%; capped at 1/50 of the weight, it moves ≤ 2 points.
    expect(before.ranking.success_rate - after.ranking.success_rate).toBeGreaterThan(0.01);
    expect(before.ranking.success_rate - after.ranking.success_rate).toBeLessThanOrEqual(0.02);
    expect(await available(attacker)).toBe(balance);
    const window = await store.getAgentMetrics(agentId, "30d", clock.now().toISOString());
    expect(window.ranked?.calls).toBeCloseTo(600 * (BUYER_CAP.share / (BUYER_CAP.share - 1)), 6);
  }, 120_000);

  it("a burst of accounts younger than a day weighs a quarter of what established ones do", async () => {
    const agentId = await priceSeller();
    const regulars = await establishedBuyers(60);
    const veterans = await establishedBuyers(10);
    clock.advance(DAY + 60_000);
    await store.recordCallOutcomes(
      regulars.flatMap((regular) =>
        Array.from(
          { length: 10 },
          (): CallOutcome => ({
            agentId,
            buyerId: regular.account_id,
            outcome: "success",
            responseTimeMs: 120,
          }),
        ),
      ),
      clock.now().toISOString(),
    );
    const weight = async () =>
      (await store.getAgentMetrics(agentId, "30d", clock.now().toISOString())).ranked?.calls ?? 0;
    expect(await weight()).toBe(600);

    // Ten fresh accounts (topped up, so that they can call at all), ten failed calls each.
    const fresh = [];
    for (let i = 0; i < 10; i++) fresh.push(await buyer(`Fresh ${i}`));
    for (const account of fresh) {
      const key = await accessKey(account, agentId);
      await Promise.all(Array.from({ length: 10 }, () => invoke(agentId, key, { symbol: "FAIL" })));
    }
    await flushed(agentId, "30d", { calls: 700 });
    const burst = (await weight()) - 600;
    expect(burst).toBe(25);

    // The same from ten established accounts weighs four times as much.
    for (const account of veterans) {
      const key = await accessKey(account, agentId);
      await Promise.all(Array.from({ length: 10 }, () => invoke(agentId, key, { symbol: "FAIL" })));
    }
    await flushed(agentId, "30d", { calls: 800 });
    expect((await weight()) - 600 - burst).toBe(100);
  }, 120_000);
});
