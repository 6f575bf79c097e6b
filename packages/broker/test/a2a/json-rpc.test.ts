import type { AddressInfo } from "node:net";
import { type AgentCard, type Message, type Part, Role, verifyAgentCardSignature } from "@a2a-js/sdk";
import { ClientFactory, ClientFactoryOptions, JsonRpcTransportFactory } from "@a2a-js/sdk/client";
import { verifyReceipt } from "@mercato/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { generateApiKey } from "../../src/accounts/api-keys.js";
import { createDevProvider } from "../../src/payments/dev-provider.js";
import { createTestBroker, type TestBroker } from "../support/harness.js";
import { type SellerAnswer, startTestSeller, type TestSeller } from "../support/test-sellers.js";

// The official A2A client against a broker listening on loopback, and a stub seller.

let broker: TestBroker;
let seller: TestSeller;
let baseUrl: string;
let answer: (input: unknown) => SellerAnswer;

beforeEach(async () => {
  broker = await createTestBroker({
    dev: true,
    payments: createDevProvider(),
    invoke: { defaultTimeoutMs: 2000 },
  });
  await broker.app.listen({ port: 0, host: "127.0.0.1" });
  baseUrl = `http://127.0.0.1:${(broker.app.server.address() as AddressInfo).port}`;
  answer = (input) => ({ body: JSON.stringify({ output: { echo: input } }) });
  seller = await startTestSeller((call) => answer((JSON.parse(call.body) as { input: unknown }).input));
});

afterEach(async () => {
  await broker.close();
  await seller.close();
});

/** A seller's listing at 0.02 USD a call, a buyer with 10 USD and an access key for it. */
async function market(price = 0.02) {
  const owner = await broker.signUp("Seller");
  const buyer = await broker.signUp("Buyer");
  const agentId = await broker.register(owner.apiKey, {
    api_endpoint: `${seller.url}/agent`,
    pricing: { model: "per_call", price_per_call: price },
    input_schema: { type: "object", properties: { symbol: { type: "string" } }, required: ["symbol"] },
  });
  const topup = await broker.call("POST", "/topups", { key: buyer.apiKey, body: { amount_usd: 10 } });
  expect(topup.statusCode, topup.body).toBe(201);
  const purchase = await broker.call("POST", "/purchase", {
    key: buyer.apiKey,
    body: { agent_id: agentId, plan: "per_call" },
  });
  expect(purchase.statusCode, purchase.body).toBe(201);
  return { owner, buyer, agentId, accessKey: (purchase.json() as { api_key: string }).api_key };
}

/** The official client for an agent (or, without one, Mercato itself), from its card, sending `key` as the bearer. */
async function clientFor(agentId: string | undefined, key: string | undefined) {
  const fetchImpl: typeof fetch = (url, init) => {
    const headers = new Headers(init?.headers);
    if (key !== undefined) headers.set("authorization", `Bearer ${key}`);
    return fetch(url, { ...init, headers });
  };
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl })],
    }),
  );
  return agentId === undefined
    ? factory.createFromUrl(baseUrl)
    : factory.createFromUrl(baseUrl, `/agents/${agentId}/agent-card.json`);
}

const dataPart = (value: unknown): Part => ({
  content: { $case: "data", value },
  metadata: undefined,
  filename: "",
  mediaType: "application/json",
});

const textPart = (value: string): Part => ({
  content: { $case: "text", value },
  metadata: undefined,
  filename: "",
  mediaType: "text/plain",
});

function userMessage(messageId: string, parts: Part[]): Message {
  return {
    messageId,
    contextId: "",
    taskId: "",
    role: Role.ROLE_USER,
    parts,
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

const send = (message: Message) => ({ tenant: "", message, configuration: undefined, metadata: undefined });

async function balance(apiKey: string) {
  return (await broker.call("GET", "/balance", { key: apiKey })).json() as {
    available_usd: string;
    held_usd: string;
    earnings_usd: string;
  };
}

async function jwks() {
  return (await broker.call("GET", "/.well-known/jwks.json")).json() as {
    keys: { kid: string; kty: "OKP"; crv: "Ed25519"; x: string; alg: "EdDSA"; use: "sig" }[];
  };
}

async function expectAuditOk() {
  const report = await broker.store.audit();
  expect(report.violations).toEqual([]);
  expect(report.ok).toBe(true);
}

/** The JSON-RPC error the client threw, as the wire had it. */
async function rpcError(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    const e = error as { envelopeCode?: number; data?: Record<string, unknown>; message: string };
    return { code: e.envelopeCode, data: e.data, message: e.message };
  }
  throw new Error("the call succeeded");
}

describe("POST /agents/{id}/a2a with the official A2A client", () => {
  it("SendMessage calls the agent through the metered proxy: output, charge, receipt, to the micro", async () => {
    const { owner, buyer, agentId, accessKey } = await market();
    const client = await clientFor(agentId, accessKey);
    // The card the client works from is signed by this broker.
    const card = (await (await fetch(`${baseUrl}/agents/${agentId}/agent-card.json`)).json()) as AgentCard;
    const { keys } = await jwks();
    await verifyAgentCardSignature(async (kid) => keys.find((k) => k.kid === kid) ?? Promise.reject(kid))(
      card,
    );

    const result = await client.sendMessage(send(userMessage("msg-1", [dataPart({ symbol: "BTC" })])));
    const reply = result as Message;
    expect(reply.role).toBe(Role.ROLE_AGENT);
    expect(reply.parts).toHaveLength(1);
    expect(reply.parts[0]?.content).toEqual({ $case: "data", value: { echo: { symbol: "BTC" } } });
    const metadata = reply.metadata as { transaction_id: string; cost_usd: string; receipt: { jws: string } };
    expect(metadata.cost_usd).toBe("0.020000");
    const receipt = await verifyReceipt(metadata.receipt as never, await jwks());
    expect(receipt).toMatchObject({
      transaction_id: metadata.transaction_id,
      buyer_id: buyer.accountId,
      agent_id: agentId,
      amount_usd: "0.020000",
    });
    expect(seller.calls).toHaveLength(1);
    expect(JSON.parse(seller.calls[0]?.body ?? "{}").input).toEqual({ symbol: "BTC" });
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "9.980000", held_usd: "0.000000" });
    // 10% fee: the seller earns 0.018.
    expect((await balance(owner.apiKey)).earnings_usd).toBe("0.018000");
    await expectAuditOk();
  });

  it("takes the input as a text part holding JSON", async () => {
    const { buyer, agentId, accessKey } = await market();
    const client = await clientFor(agentId, accessKey);
    const reply = (await client.sendMessage(
      send(userMessage("msg-text", [textPart('{"symbol":"ETH"}')])),
    )) as Message;
    expect(reply.parts[0]?.content).toEqual({ $case: "data", value: { echo: { symbol: "ETH" } } });
    expect((await balance(buyer.apiKey)).available_usd).toBe("9.980000");
    await expectAuditOk();
  });

  it("a retried messageId is answered the first outcome and charged once", async () => {
    const { buyer, agentId, accessKey } = await market();
    const client = await clientFor(agentId, accessKey);
    const message = userMessage("order-42", [dataPart({ symbol: "BTC" })]);
    const [first, second] = await Promise.all([
      client.sendMessage(send(message)),
      client.sendMessage(send(message)),
    ]);
    const third = await client.sendMessage(send(message));
    const ids = [first, second, third].map((m) => (m as Message).metadata?.transaction_id);
    expect(new Set(ids).size).toBe(1);
    expect(seller.calls).toHaveLength(1);
    expect((await balance(buyer.apiKey)).available_usd).toBe("9.980000");
    // The same messageId with another input is a conflict, and charges nothing.
    const conflict = await rpcError(
      client.sendMessage(send(userMessage("order-42", [dataPart({ symbol: "ETH" })]))),
    );
    expect(conflict.data).toMatchObject({ code: "CONFLICT", status: 409 });
    expect((await balance(buyer.apiKey)).available_usd).toBe("9.980000");
    await expectAuditOk();
  });

  it("charges nothing when the seller fails, answering a JSON-RPC error with SELLER_ERROR", async () => {
    const { owner, buyer, agentId, accessKey } = await market();
    answer = () => ({
      status: 500,
      body: JSON.stringify({ error: { code: "INTERNAL_ERROR", message: "down" } }),
    });
    const client = await clientFor(agentId, accessKey);
    const error = await rpcError(
      client.sendMessage(send(userMessage("msg-fail", [dataPart({ symbol: "BTC" })]))),
    );
    expect(error.code).toBe(-32000);
    expect(error.data).toMatchObject({
      code: "SELLER_ERROR",
      status: 502,
      details: { cost_usd: "0.000000" },
    });
    expect(seller.calls).toHaveLength(1);
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });
    expect((await balance(owner.apiKey)).earnings_usd).toBe("0.000000");
    await expectAuditOk();
  });

  it("refuses input that breaks the contract before anything is held (-32602, VALIDATION_ERROR)", async () => {
    const { buyer, agentId, accessKey } = await market();
    const client = await clientFor(agentId, accessKey);
    const error = await rpcError(client.sendMessage(send(userMessage("msg-bad", [dataPart({ coin: 1 })]))));
    expect(error.code).toBe(-32602);
    expect(error.data).toMatchObject({ code: "VALIDATION_ERROR", status: 400 });
    const parts = await rpcError(
      client.sendMessage(send(userMessage("msg-2", [dataPart({ symbol: "A" }), dataPart({ symbol: "B" })]))),
    );
    expect(parts.data).toMatchObject({ code: "VALIDATION_ERROR" });
    const notJson = await rpcError(client.sendMessage(send(userMessage("msg-3", [textPart("BTC please")]))));
    expect(notJson.data).toMatchObject({ code: "VALIDATION_ERROR" });
    expect(seller.calls).toHaveLength(0);
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });
    // The buyer's mistakes, counted apart as the invoke route counts them: never a seller failure.
    const metrics = async () =>
      (await broker.call("GET", `/agents/${agentId}/metrics`)).json() as {
        calls: number;
        client_errors: number;
      };
    await vi.waitFor(async () => expect((await metrics()).client_errors).toBe(3), { timeout: 60_000 });
    expect((await metrics()).calls).toBe(0);
    await expectAuditOk();
  });

  it("authenticates as the invoke does: no key, an unknown key, an account key, another agent's key", async () => {
    const { buyer, agentId } = await market();
    const other = await market();
    const message = send(userMessage("msg-auth", [dataPart({ symbol: "BTC" })]));
    const none = await rpcError((await clientFor(agentId, undefined)).sendMessage(message));
    expect(none.data).toMatchObject({ code: "UNAUTHENTICATED", status: 401 });
    const unknownKey = generateApiKey("access", "test").secret;
    const unknown = await rpcError((await clientFor(agentId, unknownKey)).sendMessage(message));
    expect(unknown.data).toMatchObject({ code: "INVALID_API_KEY" });
    const account = await rpcError((await clientFor(agentId, buyer.apiKey)).sendMessage(message));
    expect(account.data).toMatchObject({ code: "AGENT_NOT_PURCHASED" });
    const foreign = await rpcError((await clientFor(agentId, other.accessKey)).sendMessage(message));
    expect(foreign.data).toMatchObject({ code: "AGENT_NOT_PURCHASED" });
    expect(seller.calls).toHaveLength(0);
    expect((await balance(buyer.apiKey)).available_usd).toBe("10.000000");
    await expectAuditOk();
  });

  it("refuses a buyer who cannot pay, and an agent taken off the market, holding nothing", async () => {
    const { owner, buyer, agentId, accessKey } = await market(20);
    const client = await clientFor(agentId, accessKey);
    const poor = await rpcError(
      client.sendMessage(send(userMessage("msg-poor", [dataPart({ symbol: "BTC" })]))),
    );
    expect(poor.data).toMatchObject({ code: "INSUFFICIENT_FUNDS", status: 402 });
    const off = await broker.call("PATCH", `/agents/${agentId}`, {
      key: owner.apiKey,
      body: { status: "inactive" },
    });
    expect(off.statusCode).toBe(200);
    const inactive = await rpcError(
      client.sendMessage(send(userMessage("msg-off", [dataPart({ symbol: "BTC" })]))),
    );
    expect(inactive.data).toMatchObject({ code: "AGENT_INACTIVE" });
    expect(seller.calls).toHaveLength(0);
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });
    await expectAuditOk();
  });
});

describe("POST /agents/{id}/a2a, raw JSON-RPC", () => {
  const post = (
    agentId: string,
    key: string | undefined,
    body: unknown,
    headers: Record<string, string> = {},
  ) =>
    fetch(`${baseUrl}/agents/${agentId}/a2a`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(key !== undefined && { authorization: `Bearer ${key}` }),
        ...headers,
      },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  it("answers the request docs/a2a.md shows with the message docs/a2a.md describes", async () => {
    const { agentId, accessKey } = await market();
    const response = await post(agentId, accessKey, {
      jsonrpc: "2.0",
      id: 1,
      method: "SendMessage",
      params: {
        message: {
          messageId: "order-42",
          role: "ROLE_USER",
          parts: [{ data: { symbol: "BTC" }, mediaType: "application/json" }],
        },
      },
    });
    expect(response.status).toBe(200);
    const json = (await response.json()) as {
      id: number;
      result: { message: { role: string; parts: unknown[]; metadata: Record<string, unknown> } };
    };
    expect(json.id).toBe(1);
    expect(json.result.message.role).toBe("ROLE_AGENT");
    expect(json.result.message.parts).toEqual([
      { data: { echo: { symbol: "BTC" } }, mediaType: "application/json" },
    ]);
    expect(json.result.message.metadata).toMatchObject({ cost_usd: "0.020000" });
    expect(Object.keys(json.result.message.metadata).sort()).toEqual([
      "cost_usd",
      "metrics",
      "receipt",
      "transaction_id",
    ]);
    await expectAuditOk();
  });

  it("answers JSON-RPC errors for bad envelopes, unknown methods, other versions and bodies that are not JSON", async () => {
    const { agentId, accessKey } = await market();
    const cases: [unknown, Record<string, string>, number][] = [
      ["{not json", {}, -32700],
      [[1, 2], {}, -32600],
      [{ jsonrpc: "1.0", id: 1, method: "SendMessage" }, {}, -32600],
      [{ jsonrpc: "2.0", id: 1, method: "message/send", params: {} }, {}, -32601],
      [{ jsonrpc: "2.0", id: 1, method: "GetTask", params: {} }, {}, -32601],
      [{ jsonrpc: "2.0", id: 1, method: "SendMessage", params: {} }, { "a2a-version": "0.3" }, -32009],
      [{ jsonrpc: "2.0", id: 1, method: "SendMessage", params: "x" }, {}, -32602],
      [{ jsonrpc: "2.0", id: 1, method: "SendMessage", params: { message: { parts: [] } } }, {}, -32602],
    ];
    for (const [body, headers, code] of cases) {
      const response = await post(agentId, accessKey, body, headers);
      expect(response.status, JSON.stringify(body)).toBe(200);
      const json = (await response.json()) as { jsonrpc: string; error: { code: number } };
      expect(json.jsonrpc).toBe("2.0");
      expect(json.error.code, JSON.stringify(body)).toBe(code);
    }
    expect(seller.calls).toHaveLength(0);
  });

  it("answers 401 with a JSON-RPC error without a key, and never a 500 for an id with path tricks", async () => {
    const { agentId } = await market();
    const response = await post(agentId, undefined, {
      jsonrpc: "2.0",
      id: 7,
      method: "SendMessage",
      params: {},
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain("Bearer");
    expect(await response.json()).toMatchObject({
      id: 7,
      error: { code: -32000, data: { code: "UNAUTHENTICATED" } },
    });
    for (const id of ["..%2F..%2Fadmin", "agent_x%00", "a".repeat(100)]) {
      const tricked = await post(id, "sk_test_x", {
        jsonrpc: "2.0",
        id: 1,
        method: "SendMessage",
        params: {},
      });
      expect(tricked.status, id).toBeLessThan(500);
    }
  });
});

describe("POST /a2a (Mercato itself) with the official A2A client", () => {
  it("finds the marketplace's card at the well-known path, signed, pointing at /a2a", async () => {
    const card = (await (await fetch(`${baseUrl}/.well-known/agent-card.json`)).json()) as AgentCard & {
      supportedInterfaces: { url: string }[];
    };
    expect(card.supportedInterfaces.map((i) => i.url)).toEqual([`${baseUrl}/a2a`]);
    const { keys } = await jwks();
    await verifyAgentCardSignature(async (kid) => keys.find((k) => k.kid === kid) ?? Promise.reject(kid))(
      card,
    );
  });

  it("search: a data part holding the query answers the results, with no key", async () => {
    const { agentId } = await market();
    const owner = await broker.signUp("Other seller");
    await broker.register(owner.apiKey, {
      name: "Weather oracle",
      description: "Forecasts",
      category: "weather",
    });
    const client = await clientFor(undefined, undefined);
    const reply = (await client.sendMessage(
      send(userMessage("search-1", [dataPart({ q: "crypto news" })])),
    )) as Message;
    const content = reply.parts[0]?.content;
    if (content?.$case !== "data") throw new Error("no data part");
    const page = content.value as {
      results: { agent_id: string; agent_card_url: string }[];
      next_cursor: null;
    };
    expect(page.results.map((r) => r.agent_id)).toEqual([agentId]);
    expect(page.results[0]?.agent_card_url).toBe(`${baseUrl}/agents/${agentId}/agent-card.json`);
    const all = (await client.sendMessage(send(userMessage("search-2", [dataPart({})])))) as Message;
    const everything = all.parts[0]?.content;
    expect(everything?.$case === "data" && (everything.value as { results: unknown[] }).results).toHaveLength(
      2,
    );
    const bad = await rpcError(
      client.sendMessage(send(userMessage("search-3", [dataPart({ limit: 1000 })]))),
    );
    expect(bad).toMatchObject({ code: -32602, data: { code: "VALIDATION_ERROR" } });
    expect(seller.calls).toHaveLength(0);
  });

  it("call: {agent_id, input} with the agent's access key invokes it through the proxy, to the micro", async () => {
    const { owner, buyer, agentId, accessKey } = await market();
    const client = await clientFor(undefined, accessKey);
    const message = userMessage("call-1", [dataPart({ agent_id: agentId, input: { symbol: "SOL" } })]);
    const reply = (await client.sendMessage(send(message))) as Message;
    expect(reply.parts[0]?.content).toEqual({ $case: "data", value: { echo: { symbol: "SOL" } } });
    const metadata = reply.metadata as { transaction_id: string; cost_usd: string; receipt: unknown };
    expect(metadata.cost_usd).toBe("0.020000");
    expect(await verifyReceipt(metadata.receipt as never, await jwks())).toMatchObject({
      transaction_id: metadata.transaction_id,
      agent_id: agentId,
    });
    // The same messageId again: the first outcome, not a second charge.
    const again = (await client.sendMessage(send(message))) as Message;
    expect(again.metadata?.transaction_id).toBe(metadata.transaction_id);
    expect(seller.calls).toHaveLength(1);
    expect((await balance(buyer.apiKey)).available_usd).toBe("9.980000");
    expect((await balance(owner.apiKey)).earnings_usd).toBe("0.018000");
    // Without a key, or with an account key: refused before anything is held.
    const anonymous = await clientFor(undefined, undefined);
    const none = await rpcError(
      anonymous.sendMessage(send(userMessage("call-2", [dataPart({ agent_id: agentId, input: {} })]))),
    );
    expect(none.data).toMatchObject({ code: "UNAUTHENTICATED" });
    const withAccount = await clientFor(undefined, buyer.apiKey);
    const account = await rpcError(
      withAccount.sendMessage(
        send(userMessage("call-3", [dataPart({ agent_id: agentId, input: { symbol: "SOL" } })])),
      ),
    );
    expect(account.data).toMatchObject({ code: "AGENT_NOT_PURCHASED" });
    expect(seller.calls).toHaveLength(1);
    expect((await balance(buyer.apiKey)).available_usd).toBe("9.980000");
    await expectAuditOk();
  });
});
