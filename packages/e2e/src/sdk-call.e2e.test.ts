import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig, type RunningBroker, startBroker } from "@mercato/broker";
import { parseUsd } from "@mercato/protocol";
import { createBudget, createClient, type MercatoClient } from "@mercato/sdk";
import { sellerKit } from "@mercato/seller-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSeller, startSeller } from "./sellers.js";

const ADMIN = "e2e-admin-token-000002";
const CATEGORY = "sdk-e2e";
let dir: string;
let broker: RunningBroker;
let buyer: MercatoClient;
let owner: MercatoClient;
let ownerId: string;
const sellers: Record<string, RunningSeller> = {};
const served = { flaky: 0, steady: 0 };
const agentIds: Record<string, string> = {};

/** A seller that fails four calls out of five (deterministically), or never. */
async function startPriceSeller(name: "flaky" | "steady"): Promise<RunningSeller> {
  const kit = sellerKit({
    broker: broker.url,
    owner: ownerId,
    onError: () => {},
    handler: async () => {
      const n = served[name]++;
      if (name === "flaky" && n % 5 !== 4) throw new Error("upstream exchange timed out");
      return { seller: name, price_usd: "64000.00" };
    },
  });
  return startSeller(kit, "node");
}

async function admin(path: string) {
  const response = await fetch(`${broker.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return response.json() as Promise<{ ok: boolean; violations: unknown[] }>;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mercato-sdk-e2e-"));
  broker = await startBroker(
    parseConfig(
      ["--port", "0", "--dev", "--db", join(dir, "e2e.db"), "--log-level", "silent", "--admin-token", ADMIN],
      {},
    ),
    { scheduler: false },
  );
  const ownerAccount = await createClient({ baseUrl: broker.url }).accounts.create({ name: "Seller" });
  const buyerAccount = await createClient({ baseUrl: broker.url }).accounts.create({ name: "Buyer" });
  owner = createClient({ baseUrl: broker.url, apiKey: ownerAccount.api_key });
  ownerId = ownerAccount.account_id;
  buyer = createClient({ baseUrl: broker.url, apiKey: buyerAccount.api_key });
  await fetch(`${broker.url}/topups`, {
    method: "POST",
    headers: { authorization: `Bearer ${buyerAccount.api_key}`, "content-type": "application/json" },
    body: JSON.stringify({ amount_usd: "10" }),
  });
  for (const [name, price] of [
    ["flaky", "0.010"],
    ["steady", "0.015"],
  ] as const) {
    sellers[name] = await startPriceSeller(name);
    const registered = await owner.agents.register({
      name: `${name} price feed`,
      description: "Spot prices",
      category: CATEGORY,
      tags: ["prices"],
      api_endpoint: sellers[name].url,
      pricing: { model: "per_call", price_per_call: price },
    });
    agentIds[name] = registered.agent_id;
  }
});

afterAll(async () => {
  const audit = await admin("/admin/audit");
  expect(audit.violations).toEqual([]);
  expect(audit.ok).toBe(true);
  await Promise.all(Object.values(sellers).map((s) => s.close().catch(() => {})));
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("client.call() against a real broker and real sellers", () => {
  it("learns which seller is cheapest per success, fails over when it goes down, and pays only for successes", async () => {
    const before = parseUsd((await buyer.balance()).available_usd);
    let paid = 0n;
    const call = async (options: Partial<Parameters<MercatoClient["call"]>[0]> = {}) => {
      const result = await buyer.call({
        category: CATEGORY,
        input: { symbol: "BTC" },
        backoff: { baseMs: 1 },
        ...options,
      });
      paid += parseUsd(result.costUsd);
      return result;
    };

    // New agents start from the same prior, so the cheaper one ranks first.
    const first = await call();
    expect(first.attempts[0]?.agentId).toBe(agentIds.flaky);

    // It fails four calls in five: call() retries it, fails over to the steady seller, and the
    // broker's figures catch up with the flaky seller's record.
    for (let i = 0; i < 11; i++) await call();
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the broker writes outcomes every second
    const ranked = await buyer.agents.search({ category: CATEGORY });
    expect(ranked.results.map((a) => a.agent_id)).toEqual([agentIds.steady, agentIds.flaky]);

    const preferred = await call();
    expect(preferred.agentId).toBe(agentIds.steady);
    expect(preferred.attempts).toHaveLength(1);

    // The steady seller goes down: call() fails over to the flaky one and keeps trying it.
    await sellers.steady?.close();
    const failover = await call({ retries: 5 });
    expect(failover.agentId).toBe(agentIds.flaky);
    expect(failover.attempts[0]).toMatchObject({
      agentId: agentIds.steady,
      ok: false,
      code: "SELLER_UNAVAILABLE",
    });

    // Only successful calls were charged: the wallet went down by exactly what call() reported.
    const after = parseUsd((await buyer.balance()).available_usd);
    expect(before - after).toBe(paid);
    const charges = [];
    for await (const transaction of buyer.transactions.list({ role: "buyer" })) charges.push(transaction);
    const completed = charges.filter((t) => t.status === "completed");
    expect(completed).toHaveLength(14);
    expect(completed.reduce((sum, t) => sum + parseUsd(t.amount_usd), 0n)).toBe(paid);
    expect(charges.filter((t) => t.status === "voided").every((t) => t.amount_usd === "0.000000")).toBe(true);
  });

  it("never passes a budget, and verifies the receipt of what it paid", async () => {
    const budget = createBudget("0.030");
    const result = await buyer.call({
      category: CATEGORY,
      input: { symbol: "ETH" },
      budget,
      retries: 5,
      backoff: { baseMs: 1 },
    });
    const payload = await buyer.receipts.verify(result.receipt);
    expect(payload.transaction_id).toBe(result.transactionId);
    expect(payload.amount_usd).toBe(result.costUsd);
    const spent = parseUsd(budget.spentUsd);
    expect(spent).toBeLessThanOrEqual(parseUsd("0.030"));
    await expect(
      buyer.call({ category: CATEGORY, input: 1, budget: createBudget("0.001") }),
    ).rejects.toMatchObject({
      code: "BUDGET_EXCEEDED",
    });
  });
});
