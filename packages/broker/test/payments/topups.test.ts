import { afterEach, describe, expect, it } from "vitest";
import { createDevProvider, DEV_TOPUP_NOTE } from "../../src/payments/dev-provider.js";
import { createTestBroker, type TestBroker } from "../support/harness.js";

let broker: TestBroker;

afterEach(async () => {
  expect((await broker.store.audit()).ok).toBe(true);
  await broker.close();
});

const available = async (accountId: string) =>
  (await broker.store.getBalance(accountId, broker.clock.now().toISOString())).available;

describe("top-ups with the dev provider", () => {
  it("credits at once and says so", async () => {
    broker = await createTestBroker({ dev: true, payments: createDevProvider() });
    const buyer = await broker.signUp();
    const response = await broker.call("POST", "/topups", { key: buyer.apiKey, body: { amount_usd: 12.34 } });
    expect(response.statusCode).toBe(201);
    const topup = response.json();
    const at = broker.clock.now().toISOString();
    expect(topup).toMatchObject({
      account_id: buyer.accountId,
      amount_usd: "12.340000",
      status: "succeeded",
      provider: "dev",
      checkout_url: null,
      note: DEV_TOPUP_NOTE,
      created_at: at,
      completed_at: at,
    });
    expect(await available(buyer.accountId)).toBe(12_340_000);
    const fetched = (await broker.call("GET", `/topups/${topup.topup_id}`, { key: buyer.apiKey })).json();
    expect(fetched).toMatchObject({ status: "succeeded" });
    expect(fetched).not.toHaveProperty("note");
    expect((await broker.store.audit()).totals.toppedUp).toBe(12_340_000);
  });

  it.each([
    ["9.99", 400, "TOPUP_TOO_SMALL"],
    [0, 400, "TOPUP_TOO_SMALL"],
    ["10.001", 400, "VALIDATION_ERROR"],
    ["10.000001", 400, "VALIDATION_ERROR"],
    ["10.0000001", 400, "VALIDATION_ERROR"],
    ["10000.01", 400, "VALIDATION_ERROR"],
    [-10, 400, "VALIDATION_ERROR"],
    ["1e3", 400, "VALIDATION_ERROR"],
    [null, 400, "VALIDATION_ERROR"],
    [true, 400, "VALIDATION_ERROR"],
  ] as const)("refuses amount_usd %j with %i %s and credits nothing", async (amount, status, code) => {
    broker = await createTestBroker({ dev: true, payments: createDevProvider() });
    const buyer = await broker.signUp();
    const response = await broker.call("POST", "/topups", {
      key: buyer.apiKey,
      body: { amount_usd: amount },
    });
    expect(response.statusCode).toBe(status);
    expect(response.json().error.code).toBe(code);
    expect(await available(buyer.accountId)).toBe(0);
  });

  it("takes the bounds, 10 and 10,000 USD, and refuses unknown fields", async () => {
    broker = await createTestBroker({ dev: true, payments: createDevProvider() });
    const buyer = await broker.signUp();
    for (const amount of ["10", "10000.00"]) {
      const response = await broker.call("POST", "/topups", {
        key: buyer.apiKey,
        body: { amount_usd: amount },
      });
      expect(response.statusCode).toBe(201);
    }
    const extra = await broker.call("POST", "/topups", {
      key: buyer.apiKey,
      body: { amount_usd: "10", account_id: "acct_someoneelse01" },
    });
    expect(extra.statusCode).toBe(400);
    expect(await available(buyer.accountId)).toBe(10_010_000_000);
  });

  it("explains the minimum", async () => {
    broker = await createTestBroker({ dev: true, payments: createDevProvider() });
    const buyer = await broker.signUp();
    const response = await broker.call("POST", "/topups", { key: buyer.apiKey, body: { amount_usd: "5" } });
    expect(response.json().error).toMatchObject({
      code: "TOPUP_TOO_SMALL",
      message: "The smallest top-up is 10.000000 USD; got 5.000000",
      details: { minimum_usd: "10.000000", amount_usd: "5.000000" },
    });
  });
});

describe("top-ups without a payment provider", () => {
  it("answer 503 with a clear message and change nothing", async () => {
    broker = await createTestBroker();
    const buyer = await broker.signUp();
    const response = await broker.call("POST", "/topups", { key: buyer.apiKey, body: { amount_usd: "20" } });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe("SERVICE_UNAVAILABLE");
    expect(response.json().error.message).toMatch(
      /no payment provider.*STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET/,
    );
    expect(await available(buyer.accountId)).toBe(0);
  });

  it("still validate the amount first, and need an account key", async () => {
    broker = await createTestBroker();
    const buyer = await broker.signUp();
    const small = await broker.call("POST", "/topups", { key: buyer.apiKey, body: { amount_usd: "1" } });
    expect(small.json().error.code).toBe("TOPUP_TOO_SMALL");
    expect((await broker.call("POST", "/topups", { body: { amount_usd: "20" } })).statusCode).toBe(401);
  });

  it("have no webhook to deliver to", async () => {
    broker = await createTestBroker();
    const response = await broker.app.inject({
      method: "POST",
      url: "/webhooks/stripe",
      headers: { "content-type": "application/json", "stripe-signature": "t=1,v1=00" },
      payload: "{}",
    });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe("NOT_FOUND");
  });
});
