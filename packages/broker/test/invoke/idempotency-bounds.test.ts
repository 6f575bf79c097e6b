import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDevProvider } from "../../src/payments/dev-provider.js";
import { IDEMPOTENCY_TTL_MS } from "../../src/platform/idempotency.js";
import { createTestBroker, type TestBroker } from "../support/harness.js";
import { startTestSeller, type TestSeller } from "../support/test-sellers.js";

let broker: TestBroker;
let seller: TestSeller;

beforeEach(async () => {
  broker = await createTestBroker({ dev: true, payments: createDevProvider() });
  seller = await startTestSeller();
});

afterEach(async () => {
  await broker.close();
  await seller.close();
});

describe("a forgotten Idempotency-Key answer", () => {
  it("never charges twice: the retry finds the first call's charge and is answered CONFLICT", async () => {
    const owner = await broker.signUp("Seller");
    const buyer = await broker.signUp("Buyer");
    const agentId = await broker.register(owner.apiKey, {
      api_endpoint: `${seller.url}/agent`,
      pricing: { model: "per_call", price_per_call: 0.02 },
    });
    expect(
      (await broker.call("POST", "/topups", { key: buyer.apiKey, body: { amount_usd: 10 } })).statusCode,
    ).toBe(201);
    const purchase = await broker.call("POST", "/purchase", {
      key: buyer.apiKey,
      body: { agent_id: agentId },
    });
    const accessKey = (purchase.json() as { api_key: string }).api_key;
    const invoke = () =>
      broker.call("POST", `/agents/${agentId}/invoke`, {
        key: accessKey,
        body: { input: 1 },
        headers: { "idempotency-key": "evicted-1" },
      });

    const first = await invoke();
    expect(first.statusCode, first.body).toBe(200);
    const transactionId = (first.json() as { transaction_id: string }).transaction_id;
    // The answer leaves the cache (its time is up: the same drop as when the cache is full).
    broker.clock.advance(IDEMPOTENCY_TTL_MS + 1);
    const retry = await invoke();
    expect(retry.statusCode).toBe(409);
    expect(retry.json().error.details).toMatchObject({ transaction_id: transactionId, status: "completed" });
    expect(seller.calls).toHaveLength(1);
    const balance = (await broker.call("GET", "/balance", { key: buyer.apiKey })).json() as {
      available_usd: string;
    };
    expect(balance.available_usd).toBe("9.980000");
    const report = await broker.store.audit();
    expect(report.violations).toEqual([]);
  });
});
