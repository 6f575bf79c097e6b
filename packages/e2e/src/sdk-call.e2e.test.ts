import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig, type RunningBroker, startBroker } from "@mercato/broker";
import { parseUsd } from "@mercato/protocol";
import { createBudget, createClient, type MercatoClient } from "@mercato/sdk";
import { sellerKit } from "@mercato/seller-kit";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
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
/**
 * The other buyers of the market, whose calls make the sellers' track record. The broker caps each
 * buyer's weight in a ranked success rate (a new account's calls weigh a quarter call each, at most
 * ten calls' weight in all: see BUYER_WEIGHT and BUYER_CAP), so a record only moves a ranking when
 * it comes from many buyers.
 */
const MARKET_BUYERS = 24;

/**
 * How long the flaky seller takes to fail: its upstream times out. Failed calls are free, but they
 * cost the buyer this wait, which is what makes the steady seller cheaper per useful answer to a
 * buyer whose time is worth something — by far more than any machine's noise in the steady
 * seller's own answer time.
 */
const FLAKY_FAILURE_MS = 250;

/** A seller that fails four calls out of five (deterministically, each after a wait), or never. */
async function startPriceSeller(name: "flaky" | "steady"): Promise<RunningSeller> {
  const kit = sellerKit({
    broker: broker.url,
    owner: ownerId,
    onError: () => {},
    handler: async () => {
      const n = served[name]++;
      if (name === "flaky" && n % 5 !== 4) {
        await new Promise((resolve) => setTimeout(resolve, FLAKY_FAILURE_MS));
        throw new Error("upstream exchange timed out");
      }
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
      // The market's buyers all sign up from this one address: the per-address sign-up limit is off.
      [
        "--port",
        "0",
        "--dev",
        "--db",
        join(dir, "e2e.db"),
        "--log-level",
        "silent",
        "--admin-token",
        ADMIN,
        "--signup-rate-limit",
        "0",
      ],
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
        // No exploration: each choice below is the exploit order's, and so deterministic.
        explore: 0,
        ...options,
      });
      paid += parseUsd(result.costUsd);
      return result;
    };
    /** Attempts made on each agent, for knowing when the broker has recorded them all. */
    const attempted: Record<string, number> = {};
    const count = (result: { attempts: { agentId: string }[] }) => {
      for (const attempt of result.attempts)
        attempted[attempt.agentId] = (attempted[attempt.agentId] ?? 0) + 1;
    };

    // New agents start from the same prior, so the cheaper one ranks first. It fails four calls in
    // five: call() retries it twice, then fails over to the steady seller, and pays only for that.
    const first = await call();
    count(first);
    expect(first.attempts.map((a) => [a.agentId, a.ok, a.costUsd])).toEqual([
      [agentIds.flaky, false, "0.000000"],
      [agentIds.flaky, false, "0.000000"],
      [agentIds.flaky, false, "0.000000"],
      [agentIds.steady, true, "0.015000"],
    ]);
    expect(first.attempts[0]).toMatchObject({ code: "SELLER_ERROR", retryable: true });
    expect(first).toMatchObject({ agentId: agentIds.steady, costUsd: "0.015000" });

    // The market: many buyers with a price ceiling of $0.010, which only the flaky seller meets.
    // call() retries it until it answers (every fifth call does), and each buyer pays only for its
    // answers. The broker's figures catch up with the flaky seller's record.
    const market = await Promise.all(
      Array.from({ length: MARKET_BUYERS }, async (_, b) => {
        const account = await createClient({ baseUrl: broker.url }).accounts.create({
          name: `Market buyer ${b}`,
        });
        const client = createClient({ baseUrl: broker.url, apiKey: account.api_key });
        await client.topups.create({ amountUsd: "10" });
        return { client, before: parseUsd((await client.balance()).available_usd), paid: 0n };
      }),
    );
    // One call at a time, so that each one meets the flaky seller's fifth call within its attempts.
    for (const entry of market) {
      const result = await entry.client.call({
        category: CATEGORY,
        input: { symbol: "ETH" },
        maxPricePerCall: "0.010",
        retries: 4,
        backoff: { baseMs: 1 },
      });
      count(result);
      expect(result.agentId).toBe(agentIds.flaky);
      expect(result.attempts.every((a) => a.agentId === agentIds.flaky)).toBe(true);
      expect(result.attempts.filter((a) => !a.ok).every((a) => a.costUsd === "0.000000")).toBe(true);
      entry.paid += parseUsd(result.costUsd);
    }
    expect(attempted[agentIds.flaky as string]).toBe(served.flaky);

    // Once the broker has recorded every attempt (it writes outcomes in batches), it ranks the
    // steady seller first: its cost per success is now the lower one.
    let ranked = await buyer.agents.search({ category: CATEGORY });
    await vi.waitFor(
      async () => {
        ranked = await buyer.agents.search({ category: CATEGORY });
        expect(Object.fromEntries(ranked.results.map((a) => [a.agent_id, a.total_calls]))).toEqual(attempted);
      },
      { timeout: 60_000, interval: 50 },
    );
    expect(ranked.results.map((a) => a.agent_id)).toEqual([agentIds.steady, agentIds.flaky]);
    const [steadyFigures, flakyFigures] = ranked.results;
    expect(steadyFigures?.cost_per_success).toBeLessThan(flakyFigures?.cost_per_success as number);

    // call() ranks by the cost of a useful answer: the price, plus the buyer's time spent on the
    // attempts it takes. For a buyer whose time is worth $1 a second, the flaky seller's four
    // failures of 250 ms per answer cost far more than the steady seller's higher price.
    const preferred = await call({ timeValueUsdPerSecond: 1 });
    expect(preferred.agentId).toBe(agentIds.steady);
    expect(preferred.attempts).toHaveLength(1);

    // The steady seller goes down: call() fails over to the flaky one and keeps trying it.
    await sellers.steady?.close();
    const failover = await call({ retries: 5, timeValueUsdPerSecond: 1 });
    expect(failover.agentId).toBe(agentIds.flaky);
    expect(failover.attempts[0]).toMatchObject({
      agentId: agentIds.steady,
      ok: false,
      code: "SELLER_UNAVAILABLE",
    });

    // Only successful calls were charged: each wallet went down by exactly what call() reported,
    // one completed charge per call, and every failed attempt's hold voided at $0.
    const charged = async (client: MercatoClient, from: bigint, spent: bigint, calls: number) => {
      const after = parseUsd((await client.balance()).available_usd);
      expect(from - after).toBe(spent);
      const charges = [];
      for await (const transaction of client.transactions.list({ role: "buyer" })) charges.push(transaction);
      const completed = charges.filter((t) => t.status === "completed");
      expect(completed).toHaveLength(calls);
      expect(completed.reduce((sum, t) => sum + parseUsd(t.amount_usd), 0n)).toBe(spent);
      const voided = charges.filter((t) => t.status === "voided");
      expect(voided.length).toBeGreaterThan(0);
      expect(voided.every((t) => t.amount_usd === "0.000000")).toBe(true);
    };
    await charged(buyer, before, paid, 3);
    for (const entry of market) {
      expect(entry.paid).toBe(parseUsd("0.010"));
      await charged(entry.client, entry.before, entry.paid, 1);
    }
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
