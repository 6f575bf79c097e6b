import { createJwksKeyResolver, verifyCallSignature, verifyReceipt } from "@mercato/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateApiKey } from "../../src/accounts/api-keys.js";
import { createDevProvider } from "../../src/payments/dev-provider.js";
import { createTestBroker, type TestBroker } from "../support/harness.js";
import { apiKeyRecord } from "../support/records.js";
import { startTestSeller, type TestSeller } from "../support/test-sellers.js";

let broker: TestBroker;
let seller: TestSeller;

interface Setup {
  buyer: { accountId: string; apiKey: string };
  owner: { accountId: string; apiKey: string };
  agentId: string;
  accessKey: string;
  keyId: string;
}

async function setUp(
  options: { price?: number; topup?: number; purchase?: Record<string, unknown> } = {},
): Promise<Setup> {
  const owner = await broker.signUp("Seller");
  const buyer = await broker.signUp("Buyer");
  const agentId = await broker.register(owner.apiKey, {
    api_endpoint: `${seller.url}/agent`,
    pricing: { model: "per_call", price_per_call: options.price ?? 0.02 },
  });
  if (options.topup !== 0) {
    const topup = await broker.call("POST", "/topups", {
      key: buyer.apiKey,
      body: { amount_usd: options.topup ?? 10 },
    });
    expect(topup.statusCode).toBe(201);
  }
  const purchase = await broker.call("POST", "/purchase", {
    key: buyer.apiKey,
    body: { agent_id: agentId, plan: "per_call", ...options.purchase },
  });
  expect(purchase.statusCode, purchase.body).toBe(201);
  const json = purchase.json() as { api_key: string; key: { key_id: string } };
  return { buyer, owner, agentId, accessKey: json.api_key, keyId: json.key.key_id };
}

/**
 * Replaces the test broker with one outside dev mode, whose seller host resolves to a public
 * address until `rebindToLoopback()`; a buyer with $10 and one listed agent.
 */
async function productionBroker() {
  let rebind = false;
  await broker.close();
  broker = await createTestBroker({
    payments: createDevProvider(),
    resolveHost: async () => (rebind ? ["127.0.0.1"] : ["93.184.215.14"]),
  });
  const owner = await broker.signUp("Seller");
  const buyer = await broker.signUp("Buyer");
  const agentId = await broker.register(owner.apiKey, { api_endpoint: "https://seller.example.com/agent" });
  await broker.store.credit({
    id: "t1",
    accountId: buyer.accountId,
    amount: 10_000_000,
    reference: "test",
    at: "2026-03-01T12:00:00.000Z",
  });
  return {
    agentId,
    buyer,
    rebindToLoopback: () => {
      rebind = true;
    },
  };
}

const invoke = (
  agentId: string,
  key: string,
  body: unknown = { input: { symbol: "BTC" } },
  headers?: Record<string, string>,
) => broker.call("POST", `/agents/${agentId}/invoke`, { key, body, ...(headers && { headers }) });

async function balance(apiKey: string) {
  return (await broker.call("GET", "/balance", { key: apiKey })).json() as {
    available_usd: string;
    held_usd: string;
    earnings_usd: string;
  };
}

async function expectAuditOk() {
  const report = await broker.store.audit();
  expect(report.violations).toEqual([]);
  expect(report.ok).toBe(true);
}

beforeEach(async () => {
  broker = await createTestBroker({
    dev: true,
    payments: createDevProvider(),
    invoke: { defaultTimeoutMs: 2000 },
  });
  seller = await startTestSeller();
});

afterEach(async () => {
  await broker.close();
  await seller.close();
});

describe("POST /purchase", () => {
  it("issues an access key for the agent, with where to invoke it and the price", async () => {
    const owner = await broker.signUp("Seller");
    const buyer = await broker.signUp("Buyer");
    const agentId = await broker.register(owner.apiKey, { api_endpoint: `${seller.url}/agent` });
    const response = await broker.call("POST", "/purchase", {
      key: buyer.apiKey,
      body: {
        buyer_id: buyer.accountId,
        agent_id: agentId,
        plan: "per_call",
        rate_limit: 30,
        spend_cap_usd: "1.5",
      },
    });
    expect(response.statusCode).toBe(201);
    const json = response.json();
    expect(json).toMatchObject({
      endpoint: `http://localhost:80/agents/${agentId}/invoke`,
      price_per_call: 0.02,
      price_per_call_usd: "0.020000",
      agent_id: agentId,
      plan: "per_call",
      key: {
        kind: "access",
        agent_id: agentId,
        rate_limit: 30,
        spend_cap_usd: "1.500000",
        spent_usd: "0.000000",
      },
    });
    // A dev broker moves test money only: its keys say so.
    expect(json.api_key).toMatch(/^sk_test_[A-Za-z0-9_-]{43}$/);
    // Stored hashed: listed without the secret.
    const keys = (await broker.call("GET", "/keys", { key: buyer.apiKey })).json().data;
    expect(keys.find((k: { kind: string }) => k.kind === "access")).toMatchObject({ agent_id: agentId });
    expect(JSON.stringify(keys)).not.toContain(json.api_key);
  });

  it("refuses another buyer_id, an unknown or deactivated agent and a past expiry, issuing nothing", async () => {
    const owner = await broker.signUp("Seller");
    const buyer = await broker.signUp("Buyer");
    const agentId = await broker.register(owner.apiKey, { api_endpoint: `${seller.url}/agent` });
    const purchase = (body: Record<string, unknown>) =>
      broker.call("POST", "/purchase", { key: buyer.apiKey, body });
    expect((await purchase({ agent_id: agentId, buyer_id: owner.accountId })).json().error.code).toBe(
      "FORBIDDEN",
    );
    expect((await purchase({ agent_id: "agent_nosuchagent" })).statusCode).toBe(404);
    expect((await purchase({ agent_id: agentId, expires_at: "2020-01-01T00:00:00.000Z" })).statusCode).toBe(
      400,
    );
    expect((await purchase({ agent_id: agentId, plan: "monthly" })).statusCode).toBe(400);
    await broker.call("DELETE", `/agents/${agentId}`, { key: owner.apiKey });
    const inactive = await purchase({ agent_id: agentId });
    expect(inactive.statusCode).toBe(409);
    expect(inactive.json().error.code).toBe("AGENT_INACTIVE");
    const keys = (await broker.call("GET", "/keys", { key: buyer.apiKey })).json().data;
    expect(keys.filter((k: { kind: string }) => k.kind === "access")).toEqual([]);
  });
});

describe("POST /agents/{id}/invoke", () => {
  it("holds, calls the seller with a signed request, captures with the 10% fee and returns a verifiable receipt", async () => {
    const s = await setUp({ price: 0.02 });
    const response = await invoke(s.agentId, s.accessKey, { input: { symbol: "BTC" }, timeout_ms: 1500 });
    expect(response.statusCode, response.body).toBe(200);
    const json = response.json();
    expect(json).toMatchObject({
      output: { echo: { symbol: "BTC" } },
      cost: 0.02,
      cost_usd: "0.020000",
      metrics: { seller_id: s.agentId },
    });
    expect(json.metrics.response_time_ms).toBeGreaterThanOrEqual(0);
    expect(response.headers["ratelimit-limit"]).toBe("600");
    expect(response.headers["ratelimit-remaining"]).toBe("599");

    // The seller got the seller protocol body, signed by a key the broker publishes.
    const [call] = seller.calls;
    expect(call?.url).toBe("/agent");
    expect(JSON.parse(call?.body ?? "")).toEqual({
      input: { symbol: "BTC" },
      call_id: json.transaction_id,
      timeout_ms: 1500,
    });
    const jwks = (await broker.call("GET", "/.well-known/jwks.json")).json();
    const resolveKey = createJwksKeyResolver({ load: async () => jwks });
    const verified = await verifyCallSignature(
      {
        method: "POST",
        path: "/agent",
        body: call?.body ?? "",
        header: (name) => call?.headers[name] as string,
      },
      { resolveKey },
    );
    expect(verified.callId).toBe(json.transaction_id);
    // The signature names the listing the buyer pays: its agent, its owner and the price.
    expect(verified).toMatchObject({
      agentId: s.agentId,
      agentOwner: s.owner.accountId,
      priceMicros: 20_000,
    });

    // Money: 10.00 − 0.02 for the buyer; 0.018 for the seller; 0.002 fee.
    expect(await balance(s.buyer.apiKey)).toMatchObject({ available_usd: "9.980000", held_usd: "0.000000" });
    expect(await balance(s.owner.apiKey)).toMatchObject({ earnings_usd: "0.018000" });
    const receipt = await verifyReceipt(json.receipt, jwks);
    expect(receipt).toMatchObject({
      transaction_id: json.transaction_id,
      buyer_id: s.buyer.accountId,
      agent_id: s.agentId,
      amount_usd: "0.020000",
      fee_usd: "0.002000",
      seller_share_usd: "0.018000",
    });
    const transaction = await broker.call("GET", `/transactions/${json.transaction_id}`, {
      key: s.buyer.apiKey,
    });
    expect(transaction.json()).toMatchObject({ status: "completed", amount_usd: "0.020000" });
    const keys = (await broker.call("GET", "/keys", { key: s.buyer.apiKey })).json().data;
    expect(keys.find((k: { key_id: string }) => k.key_id === s.keyId).spent_usd).toBe("0.020000");
    await expectAuditOk();
  });

  it.each([
    [
      "a 500",
      { status: 500, body: '{"error":{"code":"INTERNAL_ERROR","message":"x","request_id":"r"}}' },
      502,
      "SELLER_ERROR",
    ],
    ["invalid JSON", { body: "<html>oops</html>" }, 502, "SELLER_ERROR"],
    ["JSON without output", { body: '{"result":1}' }, 502, "SELLER_ERROR"],
    ["a redirect", { status: 302, body: "{}" }, 502, "SELLER_ERROR"],
    ["a timeout", { delayMs: 1500, body: '{"output":1}' }, 504, "SELLER_TIMEOUT"],
  ])("charges nothing when the seller answers %s", async (_name, answer, status, code) => {
    await seller.close();
    seller = await startTestSeller(() => answer);
    const s = await setUp();
    const response = await invoke(s.agentId, s.accessKey, { input: 1, timeout_ms: 300 });
    expect(response.statusCode, response.body).toBe(status);
    const error = response.json().error;
    expect(error.code).toBe(code);
    expect(error.message).toContain("not charged");
    expect(error.details).toMatchObject({ cost_usd: "0.000000" });
    const transaction = await broker.call("GET", `/transactions/${error.details.transaction_id}`, {
      key: s.buyer.apiKey,
    });
    expect(transaction.json()).toMatchObject({ status: "voided", amount_usd: "0.000000" });
    expect(await balance(s.buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });
    expect(await balance(s.owner.apiKey)).toMatchObject({ earnings_usd: "0.000000" });
    await expectAuditOk();
  });

  it("passes the seller's status and error code on in details", async () => {
    await seller.close();
    seller = await startTestSeller(() => ({
      status: 400,
      body: '{"error":{"code":"VALIDATION_ERROR","message":"bad symbol","request_id":"r"}}',
    }));
    const s = await setUp();
    const error = (await invoke(s.agentId, s.accessKey)).json().error;
    expect(error.details).toMatchObject({ seller_status: 400, seller_error_code: "VALIDATION_ERROR" });
  });

  it("charges nothing when the seller cannot be reached", async () => {
    const s = await setUp();
    await seller.close();
    const response = await invoke(s.agentId, s.accessKey);
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe("SELLER_UNAVAILABLE");
    expect(await balance(s.buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });
    await expectAuditOk();
  });

  it("treats an answer over the size limit as a failed call", async () => {
    await broker.close();
    broker = await createTestBroker({
      dev: true,
      payments: createDevProvider(),
      invoke: { maxResponseBytes: 1000 },
    });
    await seller.close();
    seller = await startTestSeller(() => ({ body: JSON.stringify({ output: "x".repeat(5000) }) }));
    const s = await setUp();
    const response = await invoke(s.agentId, s.accessKey);
    expect(response.statusCode).toBe(502);
    expect(response.json().error.message).toContain("more than 1000 bytes");
    await expectAuditOk();
  });

  it("does not pay a seller whose output nests deeper than the limit, and refuses such an input before holding", async () => {
    await seller.close();
    const deep = `${"[".repeat(8000)}${"]".repeat(8000)}`;
    seller = await startTestSeller(() => ({ body: `{"output":${deep}}` }));
    const s = await setUp();
    const response = await invoke(s.agentId, s.accessKey, { input: 1 }, { "idempotency-key": "deep-1" });
    expect(response.statusCode, response.body).toBe(502);
    const { error } = response.json();
    expect(error.code).toBe("SELLER_ERROR");
    expect(error.message).toContain("64 levels");
    expect(error.details.cost_usd).toBe("0.000000");
    const replay = await invoke(s.agentId, s.accessKey, { input: 1 }, { "idempotency-key": "deep-1" });
    expect(replay.statusCode).toBe(502);
    expect(seller.calls).toHaveLength(1);

    const tooDeep = await broker.app.inject({
      method: "POST",
      url: `/agents/${s.agentId}/invoke`,
      headers: { authorization: `Bearer ${s.accessKey}`, "content-type": "application/json" },
      payload: `{"input":${"[".repeat(5000)}${"]".repeat(5000)}}`,
    });
    expect(tooDeep.statusCode, tooDeep.body).toBe(400);
    expect(tooDeep.json().error.code).toBe("VALIDATION_ERROR");
    expect(seller.calls).toHaveLength(1);

    expect(await balance(s.buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });
    expect(await balance(s.owner.apiKey)).toMatchObject({ earnings_usd: "0.000000" });
    await expectAuditOk();
  });

  it("refuses a key bought for another agent, an account key, a revoked key and an unknown agent", async () => {
    const s = await setUp();
    const other = await broker.register(s.owner.apiKey, {
      name: "Other",
      api_endpoint: `${seller.url}/other`,
    });
    const wrong = await invoke(other, s.accessKey);
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().error.code).toBe("AGENT_NOT_PURCHASED");
    expect((await invoke(s.agentId, s.buyer.apiKey)).json().error.code).toBe("AGENT_NOT_PURCHASED");

    // Used once (so the key is cached), then revoked: refused at once.
    expect((await invoke(s.agentId, s.accessKey)).statusCode).toBe(200);
    const revoke = await broker.call("DELETE", `/keys/${s.keyId}`, { key: s.buyer.apiKey });
    expect(revoke.statusCode).toBe(200);
    const revoked = await invoke(s.agentId, s.accessKey);
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().error.code).toBe("INVALID_API_KEY");
    expect(seller.calls).toHaveLength(1);
    await expectAuditOk();
  });

  it("refuses a deactivated agent and a timeout above the maximum without calling the seller", async () => {
    const s = await setUp();
    expect((await invoke(s.agentId, s.accessKey, { input: 1, timeout_ms: 600_000 })).statusCode).toBe(400);
    await broker.call("DELETE", `/agents/${s.agentId}`, { key: s.owner.apiKey });
    const inactive = await invoke(s.agentId, s.accessKey);
    expect(inactive.statusCode).toBe(409);
    expect(inactive.json().error.code).toBe("AGENT_INACTIVE");
    expect(seller.calls).toHaveLength(0);
  });

  it("refuses a call whose price the seller raised past the buyer's max_price_usd, holding and charging nothing", async () => {
    const s = await setUp({ price: 0.02 });
    // The buyer looked at 0.02; the seller raises to 0.50 before the call arrives.
    const raised = await broker.call("PATCH", `/agents/${s.agentId}`, {
      key: s.owner.apiKey,
      body: { pricing: { model: "per_call", price_per_call: 0.5 } },
    });
    expect(raised.statusCode, raised.body).toBe(200);
    const refused = await invoke(s.agentId, s.accessKey, { input: 1, max_price_usd: "0.02" });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toMatchObject({
      code: "CONFLICT",
      details: { reason: "price_above_max", price_usd: "0.500000", max_price_usd: "0.020000" },
    });
    expect(seller.calls).toHaveLength(0);
    expect(await balance(s.buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });
    // At or under the ceiling the call runs and is charged the price, not the ceiling.
    const ok = await invoke(s.agentId, s.accessKey, { input: 1, max_price_usd: 0.6 });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().cost_usd).toBe("0.500000");
    expect((await invoke(s.agentId, s.accessKey, { input: 1, max_price_usd: "-1" })).statusCode).toBe(400);
    expect(await balance(s.buyer.apiKey)).toMatchObject({ available_usd: "9.500000" });
    await expectAuditOk();
  });

  it("rate-limits per key with 429, Retry-After and RateLimit headers, then refills", async () => {
    const s = await setUp({ purchase: { rate_limit: 2 } });
    expect((await invoke(s.agentId, s.accessKey)).statusCode).toBe(200);
    const second = await invoke(s.agentId, s.accessKey);
    expect(second.headers["ratelimit-remaining"]).toBe("0");
    const limited = await invoke(s.agentId, s.accessKey);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe("RATE_LIMITED");
    expect(limited.headers["retry-after"]).toBe("30");
    expect(limited.headers["ratelimit-policy"]).toBe("2;w=60");
    expect(seller.calls).toHaveLength(2);
    broker.clock.advance(30_000);
    expect((await invoke(s.agentId, s.accessKey)).statusCode).toBe(200);
    // A key's limit can be changed; the cache does not keep the old one.
    await broker.call("PATCH", `/keys/${s.keyId}`, { key: s.buyer.apiKey, body: { rate_limit: 1000 } });
    expect((await invoke(s.agentId, s.accessKey)).headers["ratelimit-limit"]).toBe("1000");
    await expectAuditOk();
  });

  it("refuses a call past the wallet or the key's spend cap, charging nothing", async () => {
    const s = await setUp({ price: 3, purchase: { spend_cap_usd: 6 } });
    expect((await invoke(s.agentId, s.accessKey)).statusCode).toBe(200);
    expect((await invoke(s.agentId, s.accessKey)).statusCode).toBe(200);
    const capped = await invoke(s.agentId, s.accessKey);
    expect(capped.statusCode).toBe(402);
    expect(capped.json().error.code).toBe("SPEND_CAP_EXCEEDED");
    // Remove the cap: one more call fits the wallet (4.00 left), then the wallet stops the next.
    await broker.call("PATCH", `/keys/${s.keyId}`, { key: s.buyer.apiKey, body: { spend_cap_usd: null } });
    expect((await invoke(s.agentId, s.accessKey)).statusCode).toBe(200);
    const broke = await invoke(s.agentId, s.accessKey);
    expect(broke.statusCode).toBe(402);
    expect(broke.json().error.code).toBe("INSUFFICIENT_FUNDS");
    expect(seller.calls).toHaveLength(3);
    expect(await balance(s.buyer.apiKey)).toMatchObject({ available_usd: "1.000000" });
    await expectAuditOk();
  });

  it("charges once for the same Idempotency-Key sent 10 times at once, answering each the same", async () => {
    await seller.close();
    seller = await startTestSeller((call) => ({
      delayMs: 100,
      body: JSON.stringify({ output: { n: (JSON.parse(call.body) as { input: number }).input } }),
    }));
    const s = await setUp();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        invoke(s.agentId, s.accessKey, { input: 7 }, { "idempotency-key": "order-42" }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    const bodies = new Set(responses.map((r) => r.body));
    expect(bodies.size).toBe(1);
    expect(responses.filter((r) => r.headers["idempotent-replayed"] === "true")).toHaveLength(9);
    expect(seller.calls).toHaveLength(1);
    expect(await balance(s.buyer.apiKey)).toMatchObject({ available_usd: "9.980000" });
    // A later retry too; the same key with another body is a conflict.
    expect((await invoke(s.agentId, s.accessKey, { input: 7 }, { "idempotency-key": "order-42" })).body).toBe(
      responses[0]?.body,
    );
    const reused = await invoke(s.agentId, s.accessKey, { input: 8 }, { "idempotency-key": "order-42" });
    expect(reused.statusCode).toBe(409);
    expect(seller.calls).toHaveLength(1);
    await expectAuditOk();
  });

  it("replays a failed first outcome too, and refuses a malformed Idempotency-Key", async () => {
    await seller.close();
    seller = await startTestSeller(() => ({ status: 500, body: "{}" }));
    const s = await setUp();
    const first = await invoke(s.agentId, s.accessKey, { input: 1 }, { "idempotency-key": "k1" });
    const again = await invoke(s.agentId, s.accessKey, { input: 1 }, { "idempotency-key": "k1" });
    expect(first.statusCode).toBe(502);
    expect(again.statusCode).toBe(502);
    expect(again.json().error.details.transaction_id).toBe(first.json().error.details.transaction_id);
    expect(seller.calls).toHaveLength(1);
    const bad = await invoke(s.agentId, s.accessKey, { input: 1 }, { "idempotency-key": "a b" });
    expect(bad.statusCode).toBe(400);
    await expectAuditOk();
  });

  it("does not remember a refusal made before anything was held: the same Idempotency-Key runs once the buyer can pay", async () => {
    const s = await setUp({ topup: 0, purchase: { spend_cap_usd: "0.01" } });
    const headers = { "idempotency-key": "after-topup" };
    const broke = await invoke(s.agentId, s.accessKey, { input: 1 }, headers);
    expect(broke.statusCode).toBe(402);
    expect(broke.json().error.code).toBe("INSUFFICIENT_FUNDS");
    const topup = await broker.call("POST", "/topups", { key: s.buyer.apiKey, body: { amount_usd: 10 } });
    expect(topup.statusCode).toBe(201);
    const capped = await invoke(s.agentId, s.accessKey, { input: 1 }, headers);
    expect(capped.statusCode).toBe(402);
    expect(capped.json().error.code).toBe("SPEND_CAP_EXCEEDED");
    expect(capped.headers["idempotent-replayed"]).toBeUndefined();
    await broker.call("PATCH", `/keys/${s.keyId}`, { key: s.buyer.apiKey, body: { spend_cap_usd: null } });
    const paid = await invoke(s.agentId, s.accessKey, { input: 1 }, headers);
    expect(paid.statusCode, paid.body).toBe(200);
    expect(paid.headers["idempotent-replayed"]).toBeUndefined();
    // The call that ran is remembered: a retry is answered its outcome, charged once.
    const again = await invoke(s.agentId, s.accessKey, { input: 1 }, headers);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body).toBe(paid.body);
    expect(seller.calls).toHaveLength(1);
    expect(await balance(s.buyer.apiKey)).toMatchObject({ available_usd: "9.980000" });
    await expectAuditOk();
  });

  it("records outcomes for the monitoring, but not calls from the agent's own owner", async () => {
    const s = await setUp();
    await invoke(s.agentId, s.accessKey);
    const own = await broker.call("POST", "/topups", { key: s.owner.apiKey, body: { amount_usd: 10 } });
    expect(own.statusCode).toBe(201);
    const ownKey = (
      await broker.call("POST", "/purchase", { key: s.owner.apiKey, body: { agent_id: s.agentId } })
    ).json().api_key;
    expect((await invoke(s.agentId, ownKey)).statusCode).toBe(200);
    await (broker.app as unknown as { close(): Promise<void> }).close();
    const agent = await broker.store.getAgent(s.agentId);
    expect(agent?.counters.calls).toBe(1);
    expect(agent?.counters.successes).toBe(1);
  });
});

describe("test and live access keys", () => {
  it("a dev broker issues test keys (sk_test_…) on purchase and rotation, and they invoke", async () => {
    const s = await setUp();
    expect(s.accessKey).toMatch(/^sk_test_[A-Za-z0-9_-]{43}$/);
    expect((await invoke(s.agentId, s.accessKey)).statusCode).toBe(200);
    const rotated = await broker.call("POST", `/keys/${s.keyId}/rotate`, { key: s.buyer.apiKey });
    expect(rotated.statusCode).toBe(201);
    const replacement = rotated.json() as { api_key: string; prefix: string };
    expect(replacement.api_key).toMatch(/^sk_test_[A-Za-z0-9_-]{43}$/);
    expect(replacement.prefix).toBe(replacement.api_key.slice(0, 14));
    expect((await invoke(s.agentId, replacement.api_key)).statusCode).toBe(200);
    expect((await invoke(s.agentId, s.accessKey)).json().error.code).toBe("INVALID_API_KEY");
    // Account keys move no money by themselves and keep their one prefix.
    expect(s.buyer.apiKey).toMatch(/^mk_/);
  });

  it("a production broker issues live keys (sk_live_…) that invoke, and knows no test key", async () => {
    const { agentId, buyer, rebindToLoopback } = await productionBroker();
    const purchase = (
      await broker.call("POST", "/purchase", { key: buyer.apiKey, body: { agent_id: agentId } })
    ).json();
    expect(purchase.api_key).toMatch(/^sk_live_[A-Za-z0-9_-]{43}$/);
    const rotated = (
      await broker.call("POST", `/keys/${purchase.key.key_id}/rotate`, { key: buyer.apiKey })
    ).json() as { api_key: string };
    expect(rotated.api_key).toMatch(/^sk_live_[A-Za-z0-9_-]{43}$/);
    // The key is accepted: the call goes as far as the seller, which no test can reach from here.
    rebindToLoopback();
    const live = await invoke(agentId, rotated.api_key);
    expect(live.json().error.code).toBe("SELLER_UNAVAILABLE");
    const test = await invoke(agentId, `sk_test_${rotated.api_key.slice(8)}`);
    expect(test.statusCode).toBe(401);
    expect(test.json().error.code).toBe("INVALID_API_KEY");
  });

  it("a dev broker still takes the live keys it issued before", async () => {
    const s = await setUp();
    const live = generateApiKey("access", "live");
    await broker.store.insertApiKey(
      apiKeyRecord({
        id: "key_oldlive0001",
        accountId: s.buyer.accountId,
        kind: "access",
        agentId: s.agentId,
        prefix: live.prefix,
        hash: live.hash,
      }),
    );
    expect(live.secret).toMatch(/^sk_live_/);
    expect((await invoke(s.agentId, live.secret)).statusCode).toBe(200);
  });
});

describe("invoke outside dev mode", () => {
  it("refuses a seller host that resolves to a private address at call time (DNS rebinding)", async () => {
    const { agentId, buyer, rebindToLoopback } = await productionBroker();
    const key = (
      await broker.call("POST", "/purchase", { key: buyer.apiKey, body: { agent_id: agentId } })
    ).json().api_key;
    rebindToLoopback();
    const response = await invoke(agentId, key);
    expect(response.statusCode).toBe(503);
    expect(response.json().error.message).toContain("non-public address (127.0.0.1)");
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "10.000000" });
    await expectAuditOk();
  });
});
