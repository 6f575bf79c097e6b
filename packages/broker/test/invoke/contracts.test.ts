import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDevProvider } from "../../src/payments/dev-provider.js";
import { createTestBroker, type TestBroker } from "../support/harness.js";
import { type SellerAnswer, startTestSeller, type TestSeller } from "../support/test-sellers.js";

let broker: TestBroker;
let seller: TestSeller;
/** What the test seller answers next (default: the input echoed as `{"summary": …}`). */
let answer: (input: unknown) => SellerAnswer;

const INPUT_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: { symbol: { type: "string", pattern: "^[A-Z]{2,6}$" } },
  required: ["symbol"],
  additionalProperties: false,
};
const OUTPUT_SCHEMA = {
  type: "object",
  properties: { summary: { type: "string", minLength: 1 }, words: { type: "integer" } },
  required: ["summary"],
};

async function setUp(
  schemas: Record<string, unknown> = { input_schema: INPUT_SCHEMA, output_schema: OUTPUT_SCHEMA },
) {
  const owner = await broker.signUp("Seller");
  const buyer = await broker.signUp("Buyer");
  const agentId = await broker.register(owner.apiKey, {
    api_endpoint: `${seller.url}/agent`,
    pricing: { model: "per_call", price_per_call: 0.02 },
    ...schemas,
  });
  expect(
    (await broker.call("POST", "/topups", { key: buyer.apiKey, body: { amount_usd: 10 } })).statusCode,
  ).toBe(201);
  const purchase = await broker.call("POST", "/purchase", { key: buyer.apiKey, body: { agent_id: agentId } });
  expect(purchase.statusCode, purchase.body).toBe(201);
  return { owner, buyer, agentId, accessKey: (purchase.json() as { api_key: string }).api_key };
}

const invoke = (agentId: string, key: string, input: unknown, headers?: Record<string, string>) =>
  broker.call("POST", `/agents/${agentId}/invoke`, { key, body: { input }, ...(headers && { headers }) });

async function balance(apiKey: string) {
  return (await broker.call("GET", "/balance", { key: apiKey })).json() as {
    available_usd: string;
    held_usd: string;
    earnings_usd: string;
  };
}

async function metrics(agentId: string) {
  return (await broker.call("GET", `/agents/${agentId}/metrics`)).json() as {
    calls: number;
    successes: number;
    client_errors: number;
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
  answer = (input) => ({ body: JSON.stringify({ output: { summary: `about ${JSON.stringify(input)}` } }) });
  seller = await startTestSeller((call) => answer((JSON.parse(call.body) as { input: unknown }).input));
});

afterEach(async () => {
  await broker.close();
  await seller.close();
});

describe("the proxy enforces a listing's contract", () => {
  it("refuses input that breaks the input schema: 400 with the issues, nothing held, the seller not called, a client error", async () => {
    const { buyer, owner, agentId, accessKey } = await setUp();
    for (const input of [{ symbol: "btc" }, { symbol: 5 }, {}, { symbol: "BTC", extra: 1 }, null]) {
      const refused = await invoke(agentId, accessKey, input);
      expect(refused.statusCode, refused.body).toBe(400);
      const error = refused.json().error;
      expect(error.code).toBe("VALIDATION_ERROR");
      expect(error.details.reason).toBe("input_schema");
      expect(error.details.issues.length).toBeGreaterThan(0);
      expect(error.details.issues[0]).toEqual({ path: expect.any(String), message: expect.any(String) });
    }
    const pattern = (await invoke(agentId, accessKey, { symbol: "btc" })).json().error;
    expect(pattern.details.issues).toEqual([
      { path: "/symbol", message: 'must match pattern "^[A-Z]{2,6}$"' },
    ]);
    expect(pattern.message).toContain("/symbol");
    expect(seller.calls).toHaveLength(0);
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });
    expect((await balance(owner.apiKey)).earnings_usd).toBe("0.000000");
    // The buyer's mistakes, counted apart: never a seller failure.
    await vi.waitFor(async () => expect((await metrics(agentId)).client_errors).toBe(6), { timeout: 60_000 });
    expect(await metrics(agentId)).toMatchObject({ calls: 0, successes: 0 });

    const ok = await invoke(agentId, accessKey, { symbol: "BTC" });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(seller.calls).toHaveLength(1);
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "9.980000", held_usd: "0.000000" });
    expect((await balance(owner.apiKey)).earnings_usd).toBe("0.018000");
    await expectAuditOk();
  });

  it("voids a 2xx whose output breaks the output schema: 502 SELLER_ERROR, reason output_schema, nothing charged, the seller's failure", async () => {
    const { buyer, owner, agentId, accessKey } = await setUp();
    answer = () => ({ body: JSON.stringify({ output: { summary: "", words: "many" } }) });
    const failed = await invoke(agentId, accessKey, { symbol: "BTC" });
    expect(failed.statusCode, failed.body).toBe(502);
    const error = failed.json().error;
    expect(error.code).toBe("SELLER_ERROR");
    expect(error.details).toMatchObject({
      reason: "output_schema",
      issues: [{ path: "/summary", message: "must NOT have fewer than 1 characters" }],
      transaction_id: expect.stringMatching(/^txn_/),
      cost_usd: "0.000000",
    });
    expect((await broker.store.getCharge(error.details.transaction_id))?.status).toBe("voided");
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });
    expect((await balance(owner.apiKey)).earnings_usd).toBe("0.000000");
    await vi.waitFor(async () => expect((await metrics(agentId)).calls).toBe(1), { timeout: 60_000 });
    expect(await metrics(agentId)).toMatchObject({ successes: 0, client_errors: 0 });

    // Without an output at all, or with ten issues and more: at most ten are reported.
    answer = () => ({ body: JSON.stringify({ output: null }) });
    expect((await invoke(agentId, accessKey, { symbol: "BTC" })).json().error.details.reason).toBe(
      "output_schema",
    );
    await expectAuditOk();
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });
  });

  it("answers an idempotent retry of a schema-breaking output the same, and never charges it", async () => {
    const { buyer, agentId, accessKey } = await setUp();
    answer = () => ({ body: JSON.stringify({ output: { words: 3 } }) });
    const headers = { "idempotency-key": "retry-me-1" };
    const first = await invoke(agentId, accessKey, { symbol: "ETH" }, headers);
    const again = await invoke(agentId, accessKey, { symbol: "ETH" }, headers);
    expect(first.statusCode).toBe(502);
    expect(again.statusCode).toBe(502);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    const strip = (body: string) => {
      const { request_id: _, ...error } = JSON.parse(body).error;
      return error;
    };
    expect(strip(again.body)).toEqual(strip(first.body));
    expect(seller.calls).toHaveLength(1);
    // The seller is fixed; the same key still answers the first outcome, uncharged.
    answer = () => ({ body: JSON.stringify({ output: { summary: "fine" } }) });
    expect((await invoke(agentId, accessKey, { symbol: "ETH" }, headers)).statusCode).toBe(502);
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });
    await expectAuditOk();
  });

  it("passes the seller's own error envelope to the buyer, capped and sanitised, and nothing else of its body", async () => {
    const { buyer, agentId, accessKey } = await setUp({});
    const issues = Array.from({ length: 15 }, (_, i) => ({
      path: `/f${i}\u0000`,
      message: `bad ${"y".repeat(400)}`,
      extra: "x",
    }));
    answer = () => ({
      status: 400,
      body: JSON.stringify({
        error: {
          code: "VALIDATION_ERROR",
          message: `symbol\u0007 unknown\u202e\n${"z".repeat(1000)}`,
          details: { issues: [...issues, { path: 1, message: 2 }], secret: "internal" },
        },
        stack: "at Seller.handle (/srv/app.js:1:1)",
      }),
    });
    const refused = await invoke(agentId, accessKey, { anything: true });
    expect(refused.statusCode).toBe(502);
    const details = refused.json().error.details;
    expect(details.seller_status).toBe(400);
    expect(details.seller_error.code).toBe("VALIDATION_ERROR");
    expect(details.seller_error.message).toBe(`symbol unknown${"z".repeat(486)}`);
    expect(details.seller_error.issues).toHaveLength(10);
    expect(details.seller_error.issues[0]).toEqual({ path: "/f0", message: `bad ${"y".repeat(296)}` });
    expect(Object.keys(details.seller_error).sort()).toEqual(["code", "issues", "message"]);
    expect(refused.body).not.toContain("internal");
    expect(refused.body).not.toContain("app.js");
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });

    // No envelope (or one that is not strings): nothing passed on.
    for (const body of ['{"error":"nope"}', '{"error":{"code":5,"message":"x"}}', "[1]", '"text"']) {
      answer = () => ({ status: 500, body });
      const failed = (await invoke(agentId, accessKey, {})).json().error;
      expect(failed.code).toBe("SELLER_ERROR");
      expect(failed.details.seller_error).toBeUndefined();
    }
    await expectAuditOk();
  });

  it("checks calls against the schemas as they are now: a PATCH replaces or removes them at once", async () => {
    const { owner, agentId, accessKey } = await setUp();
    expect((await invoke(agentId, accessKey, { symbol: "btc" })).statusCode).toBe(400);
    const patched = await broker.call("PATCH", `/agents/${agentId}`, {
      key: owner.apiKey,
      body: {
        input_schema: { type: "object", properties: { symbol: { type: "string" } } },
        output_schema: null,
      },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({
      input_schema: { properties: { symbol: { type: "string" } } },
      output_schema: null,
    });
    answer = () => ({ body: JSON.stringify({ output: { anything: 1 } }) });
    expect((await invoke(agentId, accessKey, { symbol: "btc" })).statusCode).toBe(200);
    expect(
      (await broker.call("PATCH", `/agents/${agentId}`, { key: owner.apiKey, body: { input_schema: null } }))
        .statusCode,
    ).toBe(200);
    expect((await invoke(agentId, accessKey, "free text")).statusCode).toBe(200);
    await expectAuditOk();
  });
});

describe("contracts on listings", () => {
  it("serves the schemas as registered in GET /agents/{id}, and says which listings have them in search", async () => {
    const { agentId } = await setUp();
    const detail = (await broker.call("GET", `/agents/${agentId}`)).json();
    expect(detail.input_schema).toEqual(INPUT_SCHEMA);
    expect(detail.output_schema).toEqual(OUTPUT_SCHEMA);
    const owner = await broker.signUp("Plain");
    const plainId = await broker.register(owner.apiKey, { name: "Plain agent" });
    expect((await broker.call("GET", `/agents/${plainId}`)).json()).toMatchObject({
      input_schema: null,
      output_schema: null,
    });
    const results = (await broker.call("GET", "/agents/search?sort=price_asc")).json().results as {
      agent_id: string;
      has_input_schema: boolean;
      has_output_schema: boolean;
    }[];
    expect(results.find((r) => r.agent_id === agentId)).toMatchObject({
      has_input_schema: true,
      has_output_schema: true,
    });
    expect(results.find((r) => r.agent_id === plainId)).toMatchObject({
      has_input_schema: false,
      has_output_schema: false,
    });
  });

  it("refuses a registration or a PATCH whose schema is unsafe or invalid, saying why, and changes nothing", async () => {
    const owner = await broker.signUp("Seller");
    const cases: [unknown, string][] = [
      [{ $ref: "http://169.254.169.254/latest/meta-data" }, "input_schema/$ref"],
      [{ type: "string", pattern: "^(a)\\1$" }, "input_schema/pattern"],
      [{ type: "nope" }, "input_schema/type"],
      [{ description: "x".repeat(70_000) }, "input_schema"],
    ];
    for (const [schema, path] of cases) {
      const refused = await broker.call("POST", "/agents/register", {
        key: owner.apiKey,
        body: {
          name: "A",
          description: "",
          category: "crypto",
          api_endpoint: `${seller.url}/a`,
          pricing: { model: "per_call", price_per_call: 0.01 },
          input_schema: schema,
        },
      });
      expect(refused.statusCode, refused.body).toBe(400);
      expect(refused.json().error.code).toBe("VALIDATION_ERROR");
      expect(refused.json().error.details.issues[0].path).toBe(path);
    }
    const poisoned = await broker.app.inject({
      method: "POST",
      url: "/agents/register",
      headers: { authorization: `Bearer ${owner.apiKey}`, "content-type": "application/json" },
      payload: `{"name":"A","description":"","category":"crypto","api_endpoint":"${seller.url}/a","pricing":{"model":"per_call","price_per_call":0.01},"input_schema":{"properties":{"__proto__":{"type":"string"}}}}`,
    });
    expect(poisoned.statusCode).toBe(400);
    expect((await broker.call("GET", "/agents/search")).json().results).toEqual([]);

    // A schema near the limit fits in a registration, with both schemas.
    const near = { type: "object", description: "d".repeat(60_000) };
    const id = await broker.register(owner.apiKey, { input_schema: near, output_schema: near });
    const patch = await broker.call("PATCH", `/agents/${id}`, {
      key: owner.apiKey,
      body: { output_schema: { $id: "https://evil.example/" } },
    });
    expect(patch.statusCode).toBe(400);
    expect(patch.json().error.details.issues[0].path).toBe("output_schema/$id");
    expect((await broker.call("GET", `/agents/${id}`)).json().output_schema).toEqual(near);
  });
});
