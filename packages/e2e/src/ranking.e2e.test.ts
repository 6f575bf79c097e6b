import { type CallOutcome, createDevProvider, createManualClock, type Store } from "@mercato/broker";
import { createClient, type MercatoClient } from "@mercato/sdk";
import { sellerKit } from "@mercato/seller-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import { brokerRequest } from "./broker-api.js";
import { type RunningSeller, startSeller } from "./sellers.js";
import { startTestMarket, type TestMarket } from "./test-market.js";

const ADMIN = "e2e-admin-token-000017";
const CATEGORY = "ranking-e2e";
const DAY = 24 * 60 * 60 * 1000;
let market: TestMarket;
let store: Store;
let url: string;
const clock = createManualClock(new Date());
const sellers: RunningSeller[] = [];
let owner: { api_key: string; account_id: string };
let client: MercatoClient;

const api = (method: string, path: string, options: { key?: string; body?: unknown } = {}) =>
  brokerRequest(url, method, path, options);

/** A price seller on the kit, registered at `price` in the test's category; returns its agent id. */
async function priceSeller(name: string, price: string): Promise<string> {
  const kit = sellerKit({
    broker: url,
    owner: owner.account_id,
    input: z.object({ symbol: z.string() }),
    handler: async ({ symbol }) => ({ seller: name, symbol, price_usd: "64000.00" }),
    onError: () => {},
  });
  const seller = await startSeller(kit, "node");
  sellers.push(seller);
  const response = await api("POST", "/agents/register", {
    key: owner.api_key,
    body: {
      name,
      description: "Crypto spot prices",
      category: CATEGORY,
      tags: ["prices"],
      api_endpoint: seller.url,
      pricing: { model: "per_call", price_per_call: price },
    },
  });
  expect(response.status, JSON.stringify(response.json)).toBe(201);
  return response.json.agent_id as string;
}

/** A buyer account, topped up with $20. */
const buyer = (name: string) => market.signUp(name, "20");

/** A record of `calls` calls, `successes` of them successful, spread evenly over `buyers`. */
function history(
  agentId: string,
  buyers: readonly string[],
  calls: number,
  successes: number,
): CallOutcome[] {
  return Array.from({ length: calls }, (_, i) => ({
    agentId,
    buyerId: buyers[i % buyers.length] as string,
    outcome: i < successes ? "success" : "failure",
    responseTimeMs: 120,
  }));
}

/** The category's listings as a buyer sees them through the SDK, in the default order. */
const search = async () => (await client.agents.search({ category: CATEGORY })).results;

beforeAll(async () => {
  market = await startTestMarket({
    name: "ranking-e2e",
    adminToken: ADMIN,
    clock,
    sweeper: false,
    payments: createDevProvider(),
    fraud: { signupsPerHour: 10_000, burstFloorPerMinute: 100_000 },
  });
  ({ store, url } = market);
  owner = await market.signUp("Seller");
  client = createClient({ baseUrl: url });
});

afterAll(async () => {
  await expectAuditClean();
  await Promise.all(sellers.map((seller) => seller.close()));
  await market.close();
});

async function expectAuditClean() {
  const audit = await api("GET", "/admin/audit", { key: ADMIN });
  expect(audit.json.violations).toEqual([]);
  expect(audit.json.ok).toBe(true);
}

describe("the default ranking on a conservative estimate (issue 17)", () => {
  it("a new listing at $0.015 ranks below 500 calls at 98% at $0.020, and 500 calls at 99% at $0.015 rank above both", async () => {
    const proven = await priceSeller("Proven", "0.020");
    const fresh = await priceSeller("Fresh", "0.015");
    // 50 established buyers (topped up, then a day older), ten calls each: none is capped.
    const regulars: string[] = [];
    for (let i = 0; i < 50; i++) regulars.push((await buyer(`Regular ${i}`)).account_id);
    clock.advance(DAY + 60_000);
    await store.recordCallOutcomes(history(proven, regulars, 500, 490), clock.now().toISOString());

    const before = await search();
    expect(before.map((result) => result.agent_id)).toEqual([proven, fresh]);
    // The new listing shows no data, not the prior's 95%/500 ms/95% as if measured.
    expect(before[1]).toMatchObject({
      name: "Fresh",
      total_calls: 0,
      success_rate: null,
      avg_response_time_ms: null,
      uptime_24h: null,
      // 0.015 / successLowerBound(0, 0, 0.95) = 0.015 / 0.4969
      cost_per_success: 0.030187,
      ranking: { success_rate: 0.95, success_lower_bound: 0.4969, category_prior: 0.95 },
    });
    // The proven one shows its measured record, and ranks on 0.020 / 0.9700.
    expect(before[0]).toMatchObject({
      name: "Proven",
      total_calls: 500,
      success_rate: 0.98,
      avg_response_time_ms: 120,
      cost_per_success: 0.020615,
    });

    const better = await priceSeller("Better", "0.015");
    await store.recordCallOutcomes(history(better, regulars, 500, 495), clock.now().toISOString());
    const after = await search();
    expect(after.map((result) => result.name)).toEqual(["Better", "Proven", "Fresh"]);
    expect(after[0]).toMatchObject({ success_rate: 0.99, cost_per_success: 0.01527 });

    // A buyer takes the top result and pays its price for one real answer, to the micro.
    const top = after[0] as (typeof after)[number];
    const payer = await buyer("Payer");
    const purchase = await api("POST", "/purchase", {
      key: payer.api_key,
      body: { agent_id: top.agent_id, plan: "per_call" },
    });
    expect(purchase.status, JSON.stringify(purchase.json)).toBe(201);
    const answer = await api("POST", `/agents/${top.agent_id}/invoke`, {
      key: purchase.json.api_key,
      body: { input: { symbol: "BTC" } },
    });
    expect(answer.status, JSON.stringify(answer.json)).toBe(200);
    expect(answer.json.output).toEqual({ seller: "Better", symbol: "BTC", price_usd: "64000.00" });
    const balance = (await api("GET", "/balance", { key: payer.api_key })).json;
    expect(balance.available_usd).toBe("19.985000");
    await expectAuditClean();
  }, 120_000);
});
