import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createBroker, createDevProvider, createSqliteStore } from "@mercato/broker";
import { isMercatoError, MercatoError } from "@mercato/protocol/errors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "./client.js";
import type { MercatoClient } from "./mercato-client.js";
import type { FetchFunction } from "./request.js";
import type { RegisterAgentRequest } from "./types.js";

let app: ReturnType<typeof createBroker>;
let baseUrl: string;

beforeAll(async () => {
  app = createBroker({
    store: createSqliteStore({ path: ":memory:" }),
    config: { dev: true, logLevel: "silent" },
    payments: createDevProvider(),
    validateResponses: true,
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app.close();
});

/** Signs up a fresh account and returns a client holding its key. */
async function signUp(name: string): Promise<{ client: MercatoClient; apiKey: string; accountId: string }> {
  const created = await createClient({ baseUrl }).accounts.create({ name, email: `${name}@example.com` });
  return {
    client: createClient({ baseUrl, apiKey: created.api_key }),
    apiKey: created.api_key,
    accountId: created.account_id,
  };
}

function agent(name: string, price: number, tags: string[]): RegisterAgentRequest {
  return {
    name,
    description: `${name}: prices of crypto assets`,
    category: "crypto",
    tags,
    api_endpoint: `http://127.0.0.1:65535/${name.toLowerCase().replace(/\W+/g, "-")}`,
    pricing: { model: "per_call", price_per_call: price },
  };
}

/** Runs `action` and returns the MercatoError it throws. */
async function failure(action: () => Promise<unknown>): Promise<MercatoError> {
  try {
    await action();
  } catch (error) {
    expect(isMercatoError(error)).toBe(true);
    return error as MercatoError;
  }
  throw new Error("expected a MercatoError, got success");
}

describe("createClient against a real broker", () => {
  it("creates an account and reads it back with its key", async () => {
    const created = await createClient({ baseUrl }).accounts.create({ name: "alice" });
    expect(created.api_key).toMatch(/^mk_/);
    expect(created.key.kind).toBe("account");
    const me = await createClient({ baseUrl, apiKey: created.api_key }).accounts.me();
    expect(me).toStrictEqual({
      account_id: created.account_id,
      name: "alice",
      email: null,
      created_at: created.created_at,
    });
  });

  it("answers UNAUTHENTICATED without a key, and bad input as VALIDATION_ERROR", async () => {
    const anonymous = createClient({ baseUrl });
    const noKey = await failure(() => anonymous.accounts.me());
    expect(noKey.code).toBe("UNAUTHENTICATED");
    expect(noKey.status).toBe(401);
    expect(noKey.requestId).toMatch(/^req_/);
    const invalid = await failure(() => anonymous.accounts.create({ name: "" }));
    expect(invalid.code).toBe("VALIDATION_ERROR");
    expect(invalid.status).toBe(400);
  });

  it("registers, searches, gets, updates and deactivates agents; only the owner may change one", async () => {
    const seller = await signUp("seller");
    const cheap = await seller.client.agents.register(agent("Cheap Prices", 0.01, ["prices", "btc"]));
    const dear = await seller.client.agents.register(agent("Dear Prices", 0.05, ["prices"]));
    expect(cheap.status).toBe("registered");

    const page = await seller.client.agents.search({ q: "prices", sort: "price_asc" });
    expect(page.results.map((result) => result.agent_id)).toEqual([cheap.agent_id, dear.agent_id]);
    expect(page.next_cursor).toBeNull();
    const tagged = await createClient({ baseUrl }).agents.search({ tags: ["prices", "btc"] });
    expect(tagged.results.map((result) => result.agent_id)).toEqual([cheap.agent_id]);

    const detail = await createClient({ baseUrl }).agents.get(cheap.agent_id);
    expect(detail).toMatchObject({
      id: cheap.agent_id,
      name: "Cheap Prices",
      owner_id: seller.accountId,
      pricing: { price_per_call: 0.01, currency: "USD" },
    });

    const updated = await seller.client.agents.update(cheap.agent_id, {
      description: "Now cheaper",
      pricing: { price_per_call: "0.008" },
    });
    expect(updated.description).toBe("Now cheaper");
    expect(updated.pricing.price_per_call).toBe(0.008);
    const history = await seller.client.agents.priceHistory(cheap.agent_id);
    expect(history.data.map((change) => change.price_per_call)).toEqual([0.008, 0.01]);

    const stranger = await signUp("stranger");
    const forbidden = await failure(() => stranger.client.agents.update(cheap.agent_id, { name: "Mine" }));
    expect(forbidden).toBeInstanceOf(MercatoError);
    expect(forbidden.code).toBe("FORBIDDEN");
    expect(forbidden.status).toBe(403);
    expect((await failure(() => stranger.client.agents.deactivate(cheap.agent_id))).code).toBe("FORBIDDEN");

    expect(await seller.client.agents.deactivate(dear.agent_id)).toEqual({
      agent_id: dear.agent_id,
      status: "inactive",
    });
    const afterDeactivation = await seller.client.agents.search({ q: "prices" });
    expect(afterDeactivation.results.map((result) => result.agent_id)).toEqual([cheap.agent_id]);
    const categories = await createClient({ baseUrl }).agents.categories();
    expect(categories.categories).toContainEqual({ category: "crypto", count: 1 });
  });

  it("answers AGENT_NOT_FOUND for an unknown agent, with the broker's request id", async () => {
    const error = await failure(() => createClient({ baseUrl }).agents.get("agent_doesnotexist"));
    expect(error.code).toBe("AGENT_NOT_FOUND");
    expect(error.status).toBe(404);
    expect(error.requestId).toMatch(/^req_/);
  });

  it("searchAll follows next_cursor across pages", async () => {
    const seller = await signUp("pager");
    const ids = new Set<string>();
    for (const name of ["Pager One", "Pager Two", "Pager Three"]) {
      ids.add((await seller.client.agents.register({ ...agent(name, 0.02, ["pager"]) })).agent_id);
    }
    const urls: string[] = [];
    const counting: FetchFunction = (input, init) => {
      urls.push(input);
      return fetch(input, init);
    };
    const client = createClient({ baseUrl, fetch: counting });
    const seen: string[] = [];
    for await (const result of client.agents.searchAll({ tags: ["pager"], limit: 1 })) {
      seen.push(result.agent_id);
    }
    expect(new Set(seen)).toEqual(ids);
    expect(seen).toHaveLength(3);
    expect(urls.length).toBeGreaterThanOrEqual(3);
    expect(urls.slice(1).every((url) => url.includes("cursor="))).toBe(true);
  });

  it("lists, creates, rotates and revokes keys; a revoked key answers INVALID_API_KEY", async () => {
    const owner = await signUp("keyholder");
    const second = await owner.client.keys.create({ name: "ci" });
    expect(second.api_key).toMatch(/^mk_/);
    expect(second.name).toBe("ci");
    const withSecond = createClient({ baseUrl, apiKey: second.api_key });
    expect((await withSecond.accounts.me()).account_id).toBe(owner.accountId);

    const listed = await owner.client.keys.list();
    expect(listed.data.map((key) => key.key_id)).toContain(second.key_id);

    const rotated = await owner.client.keys.rotate(second.key_id);
    expect(rotated.key_id).not.toBe(second.key_id);
    expect(rotated.name).toBe("ci");
    const stale = await failure(() => withSecond.accounts.me());
    expect(stale.code).toBe("INVALID_API_KEY");

    const revoked = await owner.client.keys.revoke(rotated.key_id);
    expect(revoked.revoked_at).not.toBeNull();
    const error = await failure(() => createClient({ baseUrl, apiKey: rotated.api_key }).accounts.me());
    expect(error.code).toBe("INVALID_API_KEY");
    expect(error.status).toBe(401);

    const onlyKey = listed.data.find((key) => key.key_id !== second.key_id);
    expect(onlyKey).toBeDefined();
    const last = await failure(() => owner.client.keys.revoke(onlyKey?.key_id ?? ""));
    expect(last.code).toBe("CONFLICT");
  });

  it("turns a fetch that throws into SERVICE_UNAVAILABLE, keeping the cause", async () => {
    const cause = new TypeError("fetch failed");
    const client = createClient({
      baseUrl,
      fetch: async () => {
        throw cause;
      },
    });
    const error = await failure(() => client.agents.search());
    expect(error.code).toBe("SERVICE_UNAVAILABLE");
    expect(error.status).toBe(503);
    expect(error.message).toContain(baseUrl);
    expect(error.cause).toBe(cause);
  });

  it("turns a refused connection into SERVICE_UNAVAILABLE", async () => {
    // A port just freed, not a low one like 9: fetch() refuses the Fetch standard's "bad ports"
    // without connecting at all.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(() =>
      createClient({ baseUrl: `http://127.0.0.1:${port}` }).agents.categories(),
    );
    expect(error.code).toBe("SERVICE_UNAVAILABLE");
    expect(error.cause).toBeInstanceOf(Error);
    expect((error.cause as Error & { cause?: { code?: string } }).cause?.code).toBe("ECONNREFUSED");
  });
});

describe("buying and invoking through a real broker", () => {
  let seller: Server;
  let sellerUrl: string;
  let failing = false;

  beforeAll(async () => {
    // A seller that echoes its input; the broker (in dev mode) may call a loopback endpoint.
    seller = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk) => {
        text += chunk;
      });
      request.on("end", () => {
        const body = JSON.parse(text) as { input: unknown };
        response.writeHead(failing ? 500 : 200, { "content-type": "application/json" });
        response.end(JSON.stringify(failing ? { error: "down" } : { output: { echo: body.input } }));
      });
    });
    await new Promise<void>((resolve) => seller.listen(0, "127.0.0.1", resolve));
    sellerUrl = `http://127.0.0.1:${(seller.address() as AddressInfo).port}/echo`;
  });

  afterAll(async () => {
    await new Promise((resolve) => seller.close(resolve));
  });

  it("buys access on the first invoke, is charged, and verifies the receipt against the broker's keys", async () => {
    const owner = await signUp("echo-owner");
    const { agent_id: agentId } = await owner.client.agents.register({
      ...agent("Echo", 0.02, ["echo"]),
      api_endpoint: sellerUrl,
    });
    const buyer = await signUp("echo-buyer");
    expect((await buyer.client.topups.create({ amountUsd: "10" })).status).toBe("succeeded");

    const answer = await buyer.client.invoke(agentId, { symbol: "BTC" }, { idempotencyKey: "first-call" });
    expect(answer.output).toEqual({ echo: { symbol: "BTC" } });
    expect(answer.cost_usd).toBe("0.020000");
    expect(await buyer.client.accessKeys.get(agentId)).toMatch(/^sk_test_/);
    // The same Idempotency-Key answers the first outcome and is not charged again.
    const again = await buyer.client.invoke(agentId, { symbol: "BTC" }, { idempotencyKey: "first-call" });
    expect(again.transaction_id).toBe(answer.transaction_id);

    const balance = await buyer.client.balance();
    expect(balance.available_usd).toBe("9.980000");
    const paid = await buyer.client.receipts.verify(answer.receipt);
    expect(paid).toMatchObject({
      transaction_id: answer.transaction_id,
      amount_usd: "0.020000",
      agent_id: agentId,
    });
    const fetched = await buyer.client.receipts.get(answer.transaction_id);
    expect(await buyer.client.receipts.verify(fetched.jws)).toEqual(paid);

    await buyer.client.invoke(agentId, { symbol: "ETH" });
    const charges: string[] = [];
    for await (const charge of buyer.client.transactions.list({ role: "buyer", limit: 1 }))
      charges.push(charge.id);
    expect(charges).toHaveLength(2);
    expect(charges).toContain(answer.transaction_id);
    expect((await buyer.client.transactions.get(answer.transaction_id)).fee_usd).toBe("0.002000");

    failing = true;
    const failed = await failure(() => buyer.client.invoke(agentId, { symbol: "BTC" }));
    failing = false;
    expect(failed.code).toBe("SELLER_ERROR");
    expect((await buyer.client.balance()).available_usd).toBe("9.960000");
  });

  it("caps a purchased key through keys.update, and forgets a revoked access key so that the next call buys a new one", async () => {
    const owner = await signUp("cap-owner");
    const { agent_id: agentId } = await owner.client.agents.register({
      ...agent("Capped", 0.02, ["capped"]),
      api_endpoint: sellerUrl,
    });
    const buyer = await signUp("cap-buyer");
    await buyer.client.topups.create({ amountUsd: "10" });
    const bought = await buyer.client.purchase(agentId, { name: "capped", rateLimit: 5 });
    expect(bought.key).toMatchObject({ name: "capped", rate_limit: 5, kind: "access", agent_id: agentId });
    const capped = await buyer.client.keys.update(bought.key.key_id, {
      spendCapUsd: "1.00",
      rateLimit: null,
    });
    expect(capped).toMatchObject({ spend_cap_usd: "1.000000", rate_limit: null });

    await buyer.client.keys.revoke(bought.key.key_id);
    const refused = await failure(() => buyer.client.invoke(agentId, "hi"));
    expect(refused.code).toBe("INVALID_API_KEY");
    expect(await buyer.client.accessKeys.get(agentId)).toBeUndefined();
    expect((await buyer.client.invoke(agentId, "hi")).output).toEqual({ echo: "hi" });
    expect(await buyer.client.accessKeys.get(agentId)).not.toBe(bought.api_key);
  });

  it("tops up (credited at once by the dev provider), reads the top-up back, lists settlements and refuses to reinstate a working key", async () => {
    const buyer = await signUp("topper");
    const topup = await buyer.client.topups.create({ amountUsd: "12.50" });
    expect(topup).toMatchObject({ amount_usd: "12.500000", status: "succeeded", provider: "dev" });
    expect(topup.note).toMatch(/dev/i);
    expect(await buyer.client.topups.get(topup.topup_id)).toMatchObject({
      topup_id: topup.topup_id,
      status: "succeeded",
    });
    expect((await buyer.client.balance()).available_usd).toBe("12.500000");

    const small = await failure(() => buyer.client.topups.create({ amountUsd: "9.99" }));
    expect(small.code).toBe("TOPUP_TOO_SMALL");
    const stranger = await signUp("stranger");
    expect((await failure(() => stranger.client.topups.get(topup.topup_id))).code).toBe("NOT_FOUND");

    expect(await buyer.client.settlements.list()).toEqual({ data: [] });
    const [key] = (await buyer.client.keys.list()).data;
    expect((await failure(() => buyer.client.keys.reinstate(key?.key_id ?? ""))).code).toBe("CONFLICT");
  });
});
