// The Streamable HTTP server (`startHttpServer`) in-process against a real broker: what it refuses
// before any MCP exchange (wrong path, method, host, missing or forged key, too many accounts), and
// that the session budget is the account's, shared by its keys and untouched by other accounts.
// Money is checked to the micro at the broker, and the ledger audit ends the file.
import { request as httpRequest } from "node:http";
import { parseUsd } from "@mercato/protocol";
import { createClient } from "@mercato/sdk";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningHttpServer, startHttpServer } from "../src/http.js";
import { type PolicyOptions, parsePolicy } from "../src/policy.js";
import { createShared } from "../src/server.js";
import { closeAudited, type Market, type Seller, startMarket, structured, toolError } from "./support.js";

const CATEGORY = "http-unit";
const LIST = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
const JSON_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

let market: Market;
let seller: Seller;
const running: RunningHttpServer[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  market = await startMarket("mcp-http-unit-admin-0001");
  seller = await market.seller({ name: "http summarizer", price: "0.02", category: CATEGORY });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(running.map((r) => r.close()));
  await closeAudited(market);
});

async function serve(policy: PolicyOptions, extra: { maxAccounts?: number; maxBodyBytes?: number } = {}) {
  const shared = createShared({
    brokerUrl: market.broker.url,
    policy: parsePolicy(policy),
    agentTools: undefined,
    agentToolsTtlMs: 0,
  });
  const server = await startHttpServer({ shared, port: 0, ...extra });
  running.push(server);
  return server;
}

async function mcpClient(url: string, key: string): Promise<Client> {
  const client = new Client({ name: "mcp-http-unit", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    }),
  );
  clients.push(client);
  return client;
}

const call = async (client: Client, text: string) =>
  (await client.callTool({
    name: "call_agent",
    arguments: { agent_id: seller.agentId, input: { text } },
  })) as CallToolResult;

/** A raw POST with a Host header of our choosing (fetch does not let one set it). */
function rawPost(url: string, host: string, key: string): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { ...JSON_HEADERS, host, authorization: `Bearer ${key}` },
      },
      (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => {
          body += chunk.toString("utf8");
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(LIST);
  });
}

describe("what the HTTP server refuses before any MCP exchange", () => {
  let server: RunningHttpServer;
  let key: string;

  beforeAll(async () => {
    server = await serve({});
    key = (await market.buyer("http refusals buyer", "10")).key;
  });

  it("listens on 127.0.0.1 at /mcp by default", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  });

  it("GET /mcp is 405 with Allow: POST (stateless: no SSE stream, no session)", async () => {
    const response = await fetch(server.url, { headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    const deleted = await fetch(server.url, {
      method: "DELETE",
      headers: { authorization: `Bearer ${key}` },
    });
    expect(deleted.status).toBe(405);
  });

  it("another path is 404", async () => {
    for (const path of ["/other", "/mcp/", "/mcp/../admin", "/", "/MCP"]) {
      const response = await fetch(new URL(path, server.url), {
        method: "POST",
        headers: { ...JSON_HEADERS, authorization: `Bearer ${key}` },
        body: LIST,
      });
      expect(response.status, path).toBe(404);
    }
  });

  it("a request whose Host is another name is 403 (DNS rebinding), even with a good key", async () => {
    const port = new URL(server.url).port;
    for (const host of [
      "evil.example",
      `evil.example:${port}`,
      `127.0.0.1.evil.example:${port}`,
      `localhost.evil.example`,
      "[::2]",
    ]) {
      const response = await rawPost(server.url, host, key);
      expect(response.status, host).toBe(403);
      expect(response.body).not.toContain("search_agents");
    }
    // The loopback names it is reached by are served.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "localhost"]) {
      const response = await rawPost(server.url, host, key);
      expect(response.status, host).toBe(200);
      expect(response.body).toContain("search_agents");
    }
  });

  it("no bearer key is 401 with WWW-Authenticate", async () => {
    for (const authorization of [undefined, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer  ", "mk_abc"]) {
      const headers: Record<string, string> = { ...JSON_HEADERS };
      if (authorization !== undefined) headers.authorization = authorization;
      const response = await fetch(server.url, { method: "POST", headers, body: LIST });
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="mercato"');
    }
  });

  it("a forged key is 401 invalid_token, and is not remembered as good", async () => {
    for (const forged of [`mk_${"x".repeat(43)}`, `${key}x`, key.slice(0, -1)]) {
      const response = await fetch(server.url, {
        method: "POST",
        headers: { ...JSON_HEADERS, authorization: `Bearer ${forged}` },
        body: LIST,
      });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
      const body = await response.text();
      expect(body).not.toContain(forged);
      const again = await fetch(server.url, {
        method: "POST",
        headers: { ...JSON_HEADERS, authorization: `Bearer ${forged}` },
        body: LIST,
      });
      expect(again.status).toBe(401);
    }
  });

  it("a body larger than maxBodyBytes is refused, and nothing is called", async () => {
    const small = await serve({}, { maxBodyBytes: 1024 });
    const buyer = await market.buyer("big body buyer", "10");
    const before = await buyer.available();
    const served = seller.served();
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name: "call_agent",
        arguments: { agent_id: seller.agentId, input: { text: "x".repeat(900) } },
      },
    });
    expect(body.length).toBeGreaterThan(1024);
    const response = await fetch(small.url, {
      method: "POST",
      headers: { ...JSON_HEADERS, authorization: `Bearer ${buyer.key}` },
      body,
    });
    expect(response.status).toBe(413);
    expect(await buyer.available()).toBe(before);
    expect(seller.served()).toBe(served);
  });
});

describe("accounts over HTTP", () => {
  it("maxAccounts: 1 — a second account gets 503 while the first keeps working", async () => {
    const server = await serve({ budget: "1" }, { maxAccounts: 1 });
    const first = await market.buyer("first account", "10");
    const second = await market.buyer("second account", "10");
    const a = await mcpClient(server.url, first.key);
    const before = await first.available();
    expect(structured(await call(a, "first")).cost_usd).toBe("0.020000");

    for (let i = 0; i < 2; i += 1) {
      const refused = await fetch(server.url, {
        method: "POST",
        headers: { ...JSON_HEADERS, authorization: `Bearer ${second.key}` },
        body: LIST,
      });
      expect(refused.status).toBe(503);
    }
    // A second key of the first account is the same account: served.
    const firstAgain = await first.client.keys.create({ name: "second key" });
    const response = await fetch(server.url, {
      method: "POST",
      headers: { ...JSON_HEADERS, authorization: `Bearer ${firstAgain.api_key}` },
      body: LIST,
    });
    expect(response.status).toBe(200);

    expect(structured(await call(a, "still here")).cost_usd).toBe("0.020000");
    expect(await first.available()).toBe(before - 40_000n);
  });

  it("two keys of the same account share one session budget, even when their calls race", async () => {
    const server = await serve({ budget: "0.05" });
    const buyer = await market.buyer("two keys account", "10");
    const other = await buyer.client.keys.create({ name: "second" });
    expect(other.api_key).not.toBe(buyer.key);
    const one = await mcpClient(server.url, buyer.key);
    const two = await mcpClient(server.url, other.api_key);
    const before = await buyer.available();
    const served = seller.served();

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call(i % 2 === 0 ? one : two, `race ${i}`)),
    );
    expect(results.filter((r) => !r.isError)).toHaveLength(2);
    for (const refused of results.filter((r) => r.isError)) {
      expect(toolError(refused)).toMatchObject({
        code: "BUDGET_EXCEEDED",
        details: { limit: "session_budget" },
      });
    }
    expect(await buyer.available()).toBe(before - 40_000n);
    expect(seller.served()).toBe(served + 2);

    // Either key now sees 0.01 left.
    for (const client of [one, two]) {
      expect(toolError(await call(client, "over"))).toMatchObject({
        code: "BUDGET_EXCEEDED",
        details: { limit: "session_budget", remaining_usd: "0.010000" },
      });
    }
    const read = await two.readResource({ uri: "mercato://policy" });
    const policy = JSON.parse((read.contents[0] as { text: string }).text) as {
      spending: { session: Record<string, string> };
    };
    expect(policy.spending.session).toEqual({
      spent_usd: "0.040000",
      reserved_usd: "0.000000",
      remaining_usd: "0.010000",
    });
  });

  // The account's meter reads the day's spending with the key that served it last, so revoking the
  // key that first served the account does not break its other keys.
  it("a revoked first key does not break the account's other keys (daily budget)", async () => {
    const server = await serve({ dailyBudget: "1" });
    const buyer = await market.buyer("rotating account", "10");
    const second = await buyer.client.keys.create({ name: "second" });
    const first = await mcpClient(server.url, buyer.key);
    // The first key is seen first: the account's meter is made with it (tools/list reads no budget).
    expect((await first.listTools()).tools.map((t) => t.name)).toContain("call_agent");
    const withSecond = createClient({ baseUrl: market.broker.url, apiKey: second.api_key });
    const keys = await withSecond.keys.list();
    const firstKey = keys.data.find((k) => k.name === "default" && k.kind === "account");
    expect(firstKey).toBeDefined();
    await withSecond.keys.revoke(firstKey?.key_id as string);

    const before = parseUsd((await withSecond.balance()).available_usd);
    const client = await mcpClient(server.url, second.api_key);
    const result = await call(client, "after the rotation");
    expect(structured<{ cost_usd: string }>(result).cost_usd).toBe("0.020000");
    expect(parseUsd((await withSecond.balance()).available_usd)).toBe(before - 20_000n);
  });

  it("account A's spending does not touch account B's session budget", async () => {
    const server = await serve({ budget: "0.04" });
    const a = await market.buyer("account A", "10");
    const b = await market.buyer("account B", "10");
    const clientA = await mcpClient(server.url, a.key);
    const clientB = await mcpClient(server.url, b.key);
    const [beforeA, beforeB] = [await a.available(), await b.available()];

    for (const text of ["a1", "a2"]) expect(structured(await call(clientA, text)).cost_usd).toBe("0.020000");
    expect(toolError(await call(clientA, "a3")).details).toMatchObject({ limit: "session_budget" });
    // B has its whole budget.
    for (const text of ["b1", "b2"]) expect(structured(await call(clientB, text)).cost_usd).toBe("0.020000");
    expect(toolError(await call(clientB, "b3")).details).toMatchObject({
      limit: "session_budget",
      remaining_usd: "0.000000",
    });
    expect(await a.available()).toBe(beforeA - 40_000n);
    expect(await b.available()).toBe(beforeB - 40_000n);
    // Each sees only its own transactions.
    const listed = (await clientB.callTool({ name: "list_transactions", arguments: {} })) as CallToolResult;
    const transactions = structured<{ transactions: Array<{ role: string }> }>(listed).transactions;
    expect(transactions).toHaveLength(2);
    expect(transactions.every((t) => t.role === "buyer")).toBe(true);
  });
});
