import { isMercatoError } from "@mercato/protocol/errors";
import { delay } from "msw";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createClient } from "./client.js";
import { createMemoryKeyStore, type KeyStore } from "./key-store.js";
import {
  brokerKey,
  envelope,
  failure,
  fakeBroker,
  mockServer,
  PAYLOAD,
  type Received,
  type Reply,
} from "./test-fixtures.js";
import type { ApiKey, Balance, InvokeResponse, PurchaseResponse, TransactionDetail } from "./types.js";

const BASE = "http://broker.test";
const AGENT = "agent_prices01";

function accessKey(id: string, agentId = AGENT): ApiKey {
  return {
    key_id: `key_${id.padEnd(8, "0")}`,
    kind: "access",
    name: null,
    prefix: "sk_live_ab",
    agent_id: agentId,
    rate_limit: null,
    spend_cap_usd: null,
    spent_usd: "0.000000",
    suspended_at: null,
    suspend_reason: null,
    expires_at: null,
    created_at: "2026-03-01T12:00:00.000Z",
    revoked_at: null,
  };
}

/** The broker's answer to `POST /purchase`, issuing `sk_live_<n>`. */
function purchased(n: number, agentId = AGENT): PurchaseResponse {
  return {
    api_key: `sk_live_${n}`,
    endpoint: `${BASE}/agents/${agentId}/invoke`,
    price_per_call: 0.02,
    price_per_call_usd: "0.020000",
    agent_id: agentId,
    plan: "per_call",
    key: accessKey(String(n), agentId),
  };
}

const INVOKED: InvokeResponse = {
  output: { symbol: "BTC", price: 64_000 },
  cost: 0.02,
  cost_usd: "0.020000",
  metrics: { response_time_ms: 42, seller_id: AGENT },
  transaction_id: "txn_abcdef01",
  receipt: { payload: PAYLOAD, jws: "h.p.s" },
};

/** A broker that sells keys `sk_live_1`, `sk_live_2`, … and answers invokes with `invoked`. */
function shop(invoked: (request: Received) => Reply = () => ({ body: INVOKED })) {
  let sold = 0;
  return fakeBroker(server, BASE, {
    "POST /purchase": () => ({ status: 201, body: purchased(++sold) }),
    [`POST /agents/${AGENT}/invoke`]: invoked,
  });
}

const server = mockServer();

afterEach(() => {
  vi.restoreAllMocks();
});

describe("purchase", () => {
  it("posts the agent and the key's options in snake_case with the account key, and keeps the access key", async () => {
    const { received } = shop();
    const client = createClient({ baseUrl: BASE, apiKey: "mk_account" });
    const answer = await client.purchase(AGENT, {
      name: "prices",
      expiresAt: new Date("2030-01-01T00:00:00Z"),
      rateLimit: 60,
      spendCapUsd: "5.00",
    });
    expect(answer).toEqual(purchased(1));
    const [request] = received as [Received];
    expect(request.method).toBe("POST");
    expect(request.path).toBe("/purchase");
    expect(request.headers.authorization).toBe("Bearer mk_account");
    expect(request.body).toEqual({
      agent_id: AGENT,
      plan: "per_call",
      name: "prices",
      expires_at: "2030-01-01T00:00:00.000Z",
      rate_limit: 60,
      spend_cap_usd: "5.00",
    });
    expect(await client.accessKeys.get(AGENT)).toBe("sk_live_1");
  });

  it("sends only agent and plan without options, and a string expiresAt as it is", async () => {
    const { received } = shop();
    const client = createClient({ baseUrl: BASE, apiKey: "mk_account" });
    await client.purchase(AGENT);
    await client.purchase(AGENT, { expiresAt: "2030-01-01T00:00:00Z", spendCapUsd: 2 });
    expect(received.map((request) => request.body)).toEqual([
      { agent_id: AGENT, plan: "per_call" },
      { agent_id: AGENT, plan: "per_call", expires_at: "2030-01-01T00:00:00Z", spend_cap_usd: 2 },
    ]);
    // The newest key replaces the older one.
    expect(await client.accessKeys.get(AGENT)).toBe("sk_live_2");
  });

  it("refuses an invalid Date before sending anything", async () => {
    const { received } = shop();
    const client = createClient({ baseUrl: BASE, apiKey: "mk_account" });
    expect((await failure(() => client.purchase(AGENT, { expiresAt: new Date("nope") }))).code).toBe(
      "VALIDATION_ERROR",
    );
    expect(received).toEqual([]);
  });
});

describe("invoke", () => {
  it("calls with the stored access key, the input, the seller timeout and the Idempotency-Key", async () => {
    const { received } = shop();
    const client = createClient({
      baseUrl: BASE,
      apiKey: "mk_account",
      accessKeys: { [AGENT]: "sk_live_seed" },
    });
    const answer: InvokeResponse = await client.invoke(
      AGENT,
      { symbol: "BTC" },
      { timeoutMs: 2_000, idempotencyKey: "call-1" },
    );
    expect(answer).toEqual(INVOKED);
    const [request] = received as [Received];
    expect(request.method).toBe("POST");
    expect(request.path).toBe(`/agents/${AGENT}/invoke`);
    expect(request.headers).toMatchObject({
      authorization: "Bearer sk_live_seed",
      "idempotency-key": "call-1",
      "content-type": "application/json",
    });
    expect(request.body).toEqual({ input: { symbol: "BTC" }, timeout_ms: 2_000 });
  });

  it("waits 5 s longer than the seller timeout, and the client's timeout without one", async () => {
    const timeout = vi.spyOn(AbortSignal, "timeout");
    const { received } = shop();
    const client = createClient({
      baseUrl: BASE,
      timeoutMs: 12_000,
      accessKeys: { [AGENT]: "sk_live_seed" },
    });
    await client.invoke(AGENT, "x", { timeoutMs: 2_000 });
    await client.invoke(AGENT, undefined);
    expect(timeout.mock.calls).toEqual([[7_000], [12_000]]);
    // No Idempotency-Key unless asked for; a missing input is sent as null.
    expect(received[1]?.headers["idempotency-key"]).toBeUndefined();
    expect(received[1]?.body).toEqual({ input: null });
    expect((await failure(() => client.invoke(AGENT, "x", { timeoutMs: -1 }))).code).toBe("VALIDATION_ERROR");
  });

  it("buys an access key with the account key when it has none, keeps it, and uses it next time", async () => {
    const { received, routes } = shop();
    const client = createClient({ baseUrl: BASE, apiKey: "mk_account" });
    await client.invoke(AGENT, { symbol: "BTC" });
    await client.invoke(AGENT, { symbol: "ETH" });
    expect(routes()).toEqual([
      "POST /purchase",
      `POST /agents/${AGENT}/invoke`,
      `POST /agents/${AGENT}/invoke`,
    ]);
    expect(received.map((request) => request.headers.authorization)).toEqual([
      "Bearer mk_account",
      "Bearer sk_live_1",
      "Bearer sk_live_1",
    ]);
    expect(received[0]?.body).toEqual({ agent_id: AGENT, plan: "per_call" });
    expect(await client.accessKeys.get(AGENT)).toBe("sk_live_1");
  });

  it("buys one key for concurrent invokes of the same agent", async () => {
    const { routes } = shop();
    const client = createClient({ baseUrl: BASE, apiKey: "mk_account" });
    await Promise.all([client.invoke(AGENT, 1), client.invoke(AGENT, 2), client.invoke(AGENT, 3)]);
    expect(routes().filter((route) => route === "POST /purchase")).toHaveLength(1);
  });

  it("lets a caller abort while a key is being bought without failing the other callers", async () => {
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { routes } = fakeBroker(server, BASE, {
      "POST /purchase": async () => {
        await released;
        return { status: 201, body: purchased(1) };
      },
      [`POST /agents/${AGENT}/invoke`]: () => ({ body: INVOKED }),
    });
    const client = createClient({ baseUrl: BASE, apiKey: "mk_account" });
    const controller = new AbortController();
    const gaveUp = client.invoke(AGENT, 1, { signal: controller.signal }).catch((error: unknown) => error);
    const patient = client.invoke(AGENT, 2);
    controller.abort();
    release();
    expect(((await gaveUp) as Error).name).toBe("AbortError");
    expect(await patient).toEqual(INVOKED);
    expect(routes()).toEqual(["POST /purchase", `POST /agents/${AGENT}/invoke`]);
    expect(await client.accessKeys.get(AGENT)).toBe("sk_live_1");
  });

  it("uses options.accessKey over the store's, and never stores or deletes for it", async () => {
    const { received } = shop(() => ({
      status: 401,
      body: envelope("INVALID_API_KEY", "This API key was revoked"),
    }));
    const client = createClient({
      baseUrl: BASE,
      apiKey: "mk_account",
      accessKeys: { [AGENT]: "sk_live_seed" },
    });
    const error = await failure(() => client.invoke(AGENT, 1, { accessKey: "sk_live_explicit" }));
    expect(error.code).toBe("INVALID_API_KEY");
    expect(received[0]?.headers.authorization).toBe("Bearer sk_live_explicit");
    expect(await client.accessKeys.get(AGENT)).toBe("sk_live_seed");
  });

  it("deletes a stored key the broker refuses as INVALID_API_KEY, without buying another; the next call buys one", async () => {
    let refuse = true;
    const { routes, received } = shop(() =>
      refuse
        ? { status: 401, body: envelope("INVALID_API_KEY", "This API key has expired") }
        : { body: INVOKED },
    );
    const client = createClient({
      baseUrl: BASE,
      apiKey: "mk_account",
      accessKeys: { [AGENT]: "sk_live_old" },
    });
    const error = await failure(() => client.invoke(AGENT, 1));
    expect(error).toMatchObject({ code: "INVALID_API_KEY", status: 401, requestId: "req_fake0001" });
    expect(routes()).toEqual([`POST /agents/${AGENT}/invoke`]);
    expect(await client.accessKeys.get(AGENT)).toBeUndefined();

    refuse = false;
    await client.invoke(AGENT, 1);
    expect(routes()).toEqual([
      `POST /agents/${AGENT}/invoke`,
      "POST /purchase",
      `POST /agents/${AGENT}/invoke`,
    ]);
    expect(received[2]?.headers.authorization).toBe("Bearer sk_live_1");
  });

  it("keeps a key another call stored while a refused one was in flight", async () => {
    const store = createMemoryKeyStore({ [AGENT]: "sk_live_old" });
    shop(() => {
      store.set(AGENT, "sk_live_newer");
      return { status: 401, body: envelope("INVALID_API_KEY", "This API key was revoked") };
    });
    const client = createClient({ baseUrl: BASE, apiKey: "mk_account", keyStore: store });
    await failure(() => client.invoke(AGENT, 1));
    expect(await store.get(AGENT)).toBe("sk_live_newer");
  });

  it("throws the seller's failure with the broker's details, and keeps the key", async () => {
    const details = { transaction_id: "txn_voided01", status: "voided" };
    shop(() => ({
      status: 504,
      body: envelope("SELLER_TIMEOUT", "The seller did not answer", details),
    }));
    const client = createClient({ baseUrl: BASE, accessKeys: { [AGENT]: "sk_live_seed" } });
    const error = await failure(() => client.invoke(AGENT, 1));
    expect(error).toMatchObject({ code: "SELLER_TIMEOUT", status: 504, details });
    expect(await client.accessKeys.get(AGENT)).toBe("sk_live_seed");
  });

  it("puts a 429's Retry-After into the details as retry_after_s", async () => {
    shop(() => ({
      status: 429,
      headers: { "retry-after": "12" },
      body: envelope("RATE_LIMITED", "Too many calls", { limit_per_minute: 60 }),
    }));
    const client = createClient({ baseUrl: BASE, accessKeys: { [AGENT]: "sk_live_seed" } });
    const error = await failure(() => client.invoke(AGENT, 1));
    expect(error.code).toBe("RATE_LIMITED");
    expect(error.details).toEqual({ limit_per_minute: 60, retry_after_s: 12 });
  });

  it("refuses to buy without an account key, sending nothing", async () => {
    const { received } = shop();
    const error = await failure(() => createClient({ baseUrl: BASE }).invoke(AGENT, 1));
    expect(error.code).toBe("UNAUTHENTICATED");
    expect(error.message).toContain(AGENT);
    expect(received).toEqual([]);
  });

  it("throws the caller's abort, and a timeout as SERVICE_UNAVAILABLE", async () => {
    fakeBroker(server, BASE, {
      // Never answers: the caller's abort, or the client's timeout, ends the request.
      [`POST /agents/${AGENT}/invoke`]: async () => {
        await delay("infinite");
        return { body: null };
      },
    });
    const client = createClient({
      baseUrl: BASE,
      timeoutMs: 30,
      accessKeys: { [AGENT]: "sk_live_seed" },
    });
    const controller = new AbortController();
    const aborted = client.invoke(AGENT, 1, { signal: controller.signal }).catch((error: unknown) => error);
    controller.abort();
    const abortError = await aborted;
    expect(isMercatoError(abortError)).toBe(false);
    expect((abortError as Error).name).toBe("AbortError");

    const timedOut = await failure(() => client.invoke(AGENT, 1));
    expect(timedOut.code).toBe("SERVICE_UNAVAILABLE");
    expect(timedOut.message).toContain("no answer within 30 ms");
  });
});

describe("the key store", () => {
  it("is the memory store by default, seeded by accessKeys", async () => {
    const client = createClient({ baseUrl: BASE, accessKeys: { agent_one0001: "sk_live_one" } });
    expect(await client.accessKeys.get("agent_one0001")).toBe("sk_live_one");
    await client.accessKeys.set("agent_two0002", "sk_live_two");
    expect(await client.accessKeys.get("agent_two0002")).toBe("sk_live_two");
    await client.accessKeys.delete("agent_one0001");
    expect(await client.accessKeys.get("agent_one0001")).toBeUndefined();
  });

  it("is the custom store when given one: seeded, read, written and cleared through it, asynchronously", async () => {
    const saved = new Map<string, string>();
    const calls: string[] = [];
    const tick = () => new Promise((resolve) => setTimeout(resolve, 1));
    const store: KeyStore = {
      async get(agentId) {
        calls.push(`get ${agentId}`);
        await tick();
        return saved.get(agentId);
      },
      async set(agentId, key) {
        await tick();
        calls.push(`set ${agentId} ${key}`);
        saved.set(agentId, key);
      },
      async delete(agentId) {
        await tick();
        calls.push(`delete ${agentId}`);
        saved.delete(agentId);
      },
    };
    let refuse = false;
    const { received } = shop(() =>
      refuse ? { status: 401, body: envelope("INVALID_API_KEY", "revoked") } : { body: INVOKED },
    );
    const client = createClient({
      baseUrl: BASE,
      apiKey: "mk_account",
      keyStore: store,
      accessKeys: { [AGENT]: "sk_live_seed" },
    });
    expect(client.accessKeys).toBe(store);

    // The seed's asynchronous set has finished before the invoke reads the store.
    await client.invoke(AGENT, 1);
    expect(received[0]?.headers.authorization).toBe("Bearer sk_live_seed");
    refuse = true;
    await failure(() => client.invoke(AGENT, 1));
    refuse = false;
    await client.invoke(AGENT, 1);
    expect(calls).toEqual([
      `set ${AGENT} sk_live_seed`,
      `get ${AGENT}`,
      `get ${AGENT}`,
      `get ${AGENT}`,
      `delete ${AGENT}`,
      `get ${AGENT}`,
      `set ${AGENT} sk_live_1`,
    ]);
    expect(saved.get(AGENT)).toBe("sk_live_1");
  });

  it("throws a custom store's failure to seed at the first use", async () => {
    const store: KeyStore = {
      get: () => undefined,
      set: async () => {
        throw new Error("disk full");
      },
      delete: () => undefined,
    };
    shop();
    const client = createClient({
      baseUrl: BASE,
      keyStore: store,
      accessKeys: { [AGENT]: "sk_live_seed" },
    });
    await expect(client.invoke(AGENT, 1)).rejects.toThrow("disk full");
  });

  it("refuses an empty seeded access key", () => {
    expect(() => createClient({ baseUrl: BASE, accessKeys: { [AGENT]: "" } })).toThrow(
      expect.objectContaining({ code: "VALIDATION_ERROR" }),
    );
  });
});

describe("account, charges and receipts", () => {
  const BALANCE: Balance = {
    account_id: "acct_buyer0001",
    available_usd: "19.980000",
    held_usd: "0.000000",
    earnings_usd: "0.000000",
    currency: "USD",
    monthly_cap_usd: null,
    spent_this_month_usd: "0.020000",
  };

  function charge(id: string): TransactionDetail {
    return {
      id,
      buyer_id: "acct_buyer0001",
      seller_id: AGENT,
      seller_account_id: "acct_seller001",
      amount: 0.02,
      currency: "USD",
      status: "completed",
      created_at: "2026-03-01T12:00:00.000Z",
      held_usd: "0.020000",
      amount_usd: "0.020000",
      fee_usd: "0.002000",
      seller_share_usd: "0.018000",
      resolved_at: "2026-03-01T12:00:01.000Z",
    };
  }

  it("reads the balance with the account key", async () => {
    const { received } = fakeBroker(server, BASE, { "GET /balance": () => ({ body: BALANCE }) });
    const balance: Balance = await createClient({ baseUrl: BASE, apiKey: "mk_account" }).balance();
    expect(balance).toEqual(BALANCE);
    expect(received[0]?.headers.authorization).toBe("Bearer mk_account");
  });

  it("lists charges: awaited, the first page; iterated, every charge across pages", async () => {
    const pages: Record<string, { data: TransactionDetail[]; next_cursor: string | null }> = {
      "": { data: [charge("txn_a"), charge("txn_b")], next_cursor: "p2" },
      p2: { data: [charge("txn_c")], next_cursor: null },
    };
    const { received } = fakeBroker(server, BASE, {
      "GET /transactions": (request) => ({ body: pages[request.query.get("cursor") ?? ""] }),
    });
    const client = createClient({ baseUrl: BASE, apiKey: "mk_account" });
    const first = await client.transactions.list({ role: "buyer", limit: 2 });
    expect(first).toEqual(pages[""]);
    const ids: string[] = [];
    for await (const transaction of client.transactions.list({ role: "buyer", limit: 2 }))
      ids.push(transaction.id);
    expect(ids).toEqual(["txn_a", "txn_b", "txn_c"]);
    expect(received.map((request) => request.query.toString())).toEqual([
      "role=buyer&limit=2",
      "role=buyer&limit=2",
      "role=buyer&limit=2&cursor=p2",
    ]);
  });

  it("refuses a transactions cursor that comes back", async () => {
    fakeBroker(server, BASE, {
      "GET /transactions": () => ({ body: { data: [charge("txn_a")], next_cursor: "loop" } }),
    });
    const list = createClient({ baseUrl: BASE }).transactions.list({ cursor: "loop" });
    const error = await failure(async () => {
      for await (const _ of list) {
        // drains the pages
      }
    });
    expect(error.code).toBe("INTERNAL_ERROR");
  });

  it("gets a charge and its receipt by id", async () => {
    const receipt = await (await brokerKey("k1")).sign();
    const { routes } = fakeBroker(server, BASE, {
      "GET /transactions/txn_a": () => ({ body: charge("txn_a") }),
      "GET /transactions/txn_a/receipt": () => ({ body: receipt }),
    });
    const client = createClient({ baseUrl: BASE, apiKey: "mk_account" });
    expect(await client.transactions.get("txn_a")).toEqual(charge("txn_a"));
    expect(await client.receipts.get("txn_a")).toEqual(receipt);
    expect(routes()).toEqual(["GET /transactions/txn_a", "GET /transactions/txn_a/receipt"]);
  });

  it("verifies receipts against the broker's JWKS, fetched once, refetched for a new kid at most every 30 s", async () => {
    const first = await brokerKey("k1");
    const second = await brokerKey("k2");
    const third = await brokerKey("k3");
    let published = [first.jwk];
    const { routes } = fakeBroker(server, BASE, {
      "GET /.well-known/jwks.json": () => ({ body: { keys: published } }),
    });
    let now = 5_000_000;
    vi.spyOn(Date, "now").mockImplementation(() => now);
    const client = createClient({ baseUrl: BASE });
    const jwksFetches = () => routes().filter((route) => route === "GET /.well-known/jwks.json").length;

    expect(await client.receipts.verify(await first.sign())).toEqual(PAYLOAD);
    expect(await client.receipts.verify((await first.sign()).jws)).toEqual(PAYLOAD);
    expect(jwksFetches()).toBe(1);

    published = [second.jwk, first.jwk];
    now += 30_000;
    expect(await client.receipts.verify(await second.sign())).toEqual(PAYLOAD);
    expect(jwksFetches()).toBe(2);

    published = [third.jwk, second.jwk];
    now += 10_000;
    const thirdReceipt = await third.sign();
    const refused = await failure(() => client.receipts.verify(thirdReceipt));
    expect(refused.code).toBe("VALIDATION_ERROR");
    expect(jwksFetches()).toBe(2);
    now += 20_000;
    expect(await client.receipts.verify(thirdReceipt)).toEqual(PAYLOAD);
    expect(jwksFetches()).toBe(3);

    const tampered = await failure(() =>
      client.receipts.verify({ ...thirdReceipt, payload: { ...PAYLOAD, amount_usd: "0.010000" } }),
    );
    expect(tampered.code).toBe("VALIDATION_ERROR");
  });
});

describe("keys.update", () => {
  it("patches the key with snake_case fields, sending null to clear and leaving out what is absent", async () => {
    const updated = { ...accessKey("k"), rate_limit: 60, spend_cap_usd: "5.000000" };
    const { received } = fakeBroker(server, BASE, { "PATCH /keys/key_k0000000": () => ({ body: updated }) });
    const client = createClient({ baseUrl: BASE, apiKey: "mk_account" });
    const answer: ApiKey = await client.keys.update("key_k0000000", { rateLimit: 60, spendCapUsd: "5.00" });
    expect(answer).toEqual(updated);
    await client.keys.update("key_k0000000", { name: null, rateLimit: null, spendCapUsd: null });
    await client.keys.update("key_k0000000", { name: "renamed" });
    expect(received.map((request) => [request.method, request.headers.authorization, request.body])).toEqual([
      ["PATCH", "Bearer mk_account", { rate_limit: 60, spend_cap_usd: "5.00" }],
      ["PATCH", "Bearer mk_account", { name: null, rate_limit: null, spend_cap_usd: null }],
      ["PATCH", "Bearer mk_account", { name: "renamed" }],
    ]);
  });
});

describe("agents.search", () => {
  it("awaits to the first page and iterates every result across pages; searchAll iterates the same", async () => {
    const result = (id: string) => ({ agent_id: id }) as never;
    const pages: Record<string, unknown> = {
      "": { results: [result("agent_a00001"), result("agent_b00001")], next_cursor: "next" },
      next: { results: [result("agent_c00001")], next_cursor: null },
    };
    const { received } = fakeBroker(server, BASE, {
      "GET /agents/search": (request) => ({ body: pages[request.query.get("cursor") ?? ""] }),
    });
    const client = createClient({ baseUrl: BASE });
    expect(await client.agents.search({ category: "crypto" })).toEqual(pages[""]);
    const ids: string[] = [];
    for await (const agent of client.agents.search({ category: "crypto" })) ids.push(agent.agent_id);
    const all: string[] = [];
    for await (const agent of client.agents.searchAll({ category: "crypto" })) all.push(agent.agent_id);
    expect(ids).toEqual(["agent_a00001", "agent_b00001", "agent_c00001"]);
    expect(all).toEqual(ids);
    expect(received.map((request) => request.query.toString())).toEqual([
      "category=crypto",
      "category=crypto",
      "category=crypto&cursor=next",
      "category=crypto",
      "category=crypto&cursor=next",
    ]);
  });
});
