import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorEnvelopeSchema } from "@mercato/protocol";
import Database from "better-sqlite3";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../../src/accounts/api-keys.js";
import { createBroker, ROUTES } from "../../src/app/create-broker.js";
import { createSqliteStore } from "../../src/app/sqlite-store.js";
import type { Store } from "../../src/app/store.js";
import { createManualClock } from "../../src/platform/clock.js";
import { plantAccessKey, publicResolver } from "../support/harness.js";

/**
 * Throws a table of bad requests at every route and checks each gets the right 4xx with the
 * error envelope, never a 500, and leaves every table of the database exactly as it was.
 */

const dir = mkdtempSync(join(tmpdir(), "mercato-bad-input-"));
const dbPath = join(dir, "broker.db");
let store: Store;
let app: FastifyInstance;
let reader: Database.Database;
const keys = { owner: "", stranger: "", revoked: "", access: "", unknown: generateApiKey("account").secret };
let agentId = "";
let otherSortCursor = "";

beforeAll(async () => {
  store = createSqliteStore({ path: dbPath });
  app = createBroker({
    store,
    clock: createManualClock(new Date("2026-03-01T12:00:00.000Z")),
    config: { logLevel: "silent" },
    resolveHost: publicResolver,
    validateResponses: true,
  });
  const signUp = async (name: string) => {
    const response = await app.inject({ method: "POST", url: "/accounts", payload: { name } });
    return response.json() as { account_id: string; api_key: string };
  };
  const owner = await signUp("Owner");
  keys.owner = owner.api_key;
  keys.stranger = (await signUp("Stranger")).api_key;
  const spare = await app.inject({
    method: "POST",
    url: "/keys",
    headers: { authorization: `Bearer ${keys.owner}` },
    payload: {},
  });
  keys.revoked = spare.json().api_key;
  await app.inject({
    method: "DELETE",
    url: `/keys/${spare.json().key_id}`,
    headers: { authorization: `Bearer ${keys.owner}` },
  });
  keys.access = await plantAccessKey(store, owner.account_id, "key_accessonly001");
  for (const name of ["First", "Second"]) {
    const registered = await app.inject({
      method: "POST",
      url: "/agents/register",
      headers: { authorization: `Bearer ${keys.owner}` },
      payload: { ...validAgent, name },
    });
    agentId = registered.json().agent_id;
  }
  const page = await app.inject({ method: "GET", url: "/agents/search?sort=price_asc&limit=1" });
  otherSortCursor = page.json().next_cursor;
  reader = new Database(dbPath, { readonly: true });
});

afterAll(async () => {
  reader.close();
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const validAgent = {
  name: "Crypto News Summarizer",
  description: "Summarizes crypto news",
  category: "crypto",
  tags: ["news"],
  api_endpoint: "https://api.example.com/agent",
  pricing: { model: "per_call", price_per_call: 0.02 },
};
const withPrice = (price: unknown) => ({
  ...validAgent,
  pricing: { model: "per_call", price_per_call: price },
});

/** Every row of every table, as text: equal snapshots mean nothing changed. */
function snapshot(): string {
  const tables = reader
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all() as Array<{ name: string }>;
  return JSON.stringify(tables.map(({ name }) => [name, reader.prepare(`SELECT * FROM "${name}"`).all()]));
}

type KeyName = keyof typeof keys;
interface BadRequest {
  name: string;
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  url: string | (() => string);
  key?: KeyName;
  header?: string;
  body?: unknown;
  raw?: string;
  contentType?: string;
  status: number;
  code: string;
}

const jsonBodyRoutes: Array<Pick<BadRequest, "method" | "url" | "key">> = [
  { method: "POST", url: "/accounts" },
  { method: "POST", url: "/keys", key: "owner" },
  { method: "POST", url: "/agents/register", key: "owner" },
  { method: "PATCH", url: () => `/agents/${agentId}`, key: "owner" },
  { method: "PUT", url: "/accounts/me/limits", key: "owner" },
  { method: "POST", url: "/purchase", key: "owner" },
  { method: "PATCH", url: "/keys/key_whatever0001", key: "owner" },
  { method: "POST", url: () => `/agents/${agentId}/invoke`, key: "access" },
];

/** JSON arrays nested `levels` deep, as text. */
const nestedJson = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;

const purchase = (body: unknown, status = 400, code = "VALIDATION_ERROR"): BadRequest => ({
  name: `purchase: ${JSON.stringify(body)}`,
  method: "POST",
  url: "/purchase",
  key: "owner",
  body,
  status,
  code,
});
const invoke = (name: string, body: unknown, extra: Partial<BadRequest> = {}): BadRequest => ({
  name: `invoke: ${name}`,
  method: "POST",
  url: () => `/agents/${agentId}/invoke`,
  key: "access",
  body,
  status: 400,
  code: "VALIDATION_ERROR",
  ...extra,
});

const table: BadRequest[] = [
  // Malformed bodies, on every route that takes one.
  ...jsonBodyRoutes.flatMap((route): BadRequest[] => [
    { ...route, name: "malformed JSON", raw: '{"name":', status: 400, code: "INVALID_JSON" },
    { ...route, name: "empty JSON body", raw: "", status: 400, code: "INVALID_JSON" },
    {
      ...route,
      name: "prototype poisoning",
      raw: '{"__proto__":{"admin":true}}',
      status: 400,
      code: "INVALID_JSON",
    },
    {
      ...route,
      name: "text/plain body",
      raw: "name=x",
      contentType: "text/plain",
      status: 415,
      code: "UNSUPPORTED_MEDIA_TYPE",
    },
    {
      ...route,
      name: "oversized body",
      // Past the largest limit of these routes: a registration's, with its two 64 KiB contract schemas.
      body: { name: "x".repeat(200_000) },
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
    },
    {
      ...route,
      name: "body nested 5,000 levels deep",
      raw: `{"name":${nestedJson(5000)}}`,
      status: 400,
      code: "VALIDATION_ERROR",
    },
    { ...route, name: "array body", body: [1, 2], status: 400, code: "VALIDATION_ERROR" },
    { ...route, name: "null body", raw: "null", status: 400, code: "VALIDATION_ERROR" },
    { ...route, name: "string body", raw: '"hello"', status: 400, code: "VALIDATION_ERROR" },
  ]),
  // Authentication, on every route that needs it.
  ...ROUTES.filter((route) => route.auth === "account").flatMap((route): BadRequest[] => {
    const url = () => route.url.replace(":id", route.url.startsWith("/keys") ? "key_whatever0001" : agentId);
    const body = route.body === "RegisterAgentRequest" ? validAgent : route.body ? { name: "x" } : undefined;
    const base = { method: route.method as BadRequest["method"], url, body };
    return [
      { ...base, name: `${route.operationId}: no key`, status: 401, code: "UNAUTHENTICATED" },
      {
        ...base,
        name: `${route.operationId}: not a bearer`,
        header: "Token abc",
        status: 401,
        code: "UNAUTHENTICATED",
      },
      {
        ...base,
        name: `${route.operationId}: malformed key`,
        header: "Bearer mk_short",
        status: 401,
        code: "UNAUTHENTICATED",
      },
      {
        ...base,
        name: `${route.operationId}: unknown key`,
        key: "unknown",
        status: 401,
        code: "INVALID_API_KEY",
      },
      {
        ...base,
        name: `${route.operationId}: revoked key`,
        key: "revoked",
        status: 401,
        code: "INVALID_API_KEY",
      },
      { ...base, name: `${route.operationId}: access key`, key: "access", status: 403, code: "FORBIDDEN" },
    ];
  }),
  // Accounts and keys.
  {
    name: "account without name",
    method: "POST",
    url: "/accounts",
    body: {},
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "account blank name",
    method: "POST",
    url: "/accounts",
    body: { name: "  " },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "account long name",
    method: "POST",
    url: "/accounts",
    body: { name: "x".repeat(101) },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "account numeric name",
    method: "POST",
    url: "/accounts",
    body: { name: 42 },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "account bad email",
    method: "POST",
    url: "/accounts",
    body: { name: "a", email: "nope" },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "account unknown field",
    method: "POST",
    url: "/accounts",
    body: { name: "a", admin: true },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "key bad expiry",
    method: "POST",
    url: "/keys",
    key: "owner",
    body: { expires_at: "tomorrow" },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "key past expiry",
    method: "POST",
    url: "/keys",
    key: "owner",
    body: { expires_at: "2020-01-01T00:00:00Z" },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "key unknown field",
    method: "POST",
    url: "/keys",
    key: "owner",
    body: { kind: "access" },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "revoke unknown key",
    method: "DELETE",
    url: "/keys/key_doesnotexist01",
    key: "owner",
    status: 404,
    code: "NOT_FOUND",
  },
  {
    name: "revoke over-long id",
    method: "DELETE",
    url: `/keys/${"k".repeat(100)}`,
    key: "owner",
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "revoke a stranger's key",
    method: "DELETE",
    url: "/keys/key_accessonly001",
    key: "stranger",
    status: 404,
    code: "NOT_FOUND",
  },
  {
    name: "a URL with bad percent-encoding",
    method: "GET",
    url: "/agents/%ZZ",
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "an id longer than any route takes",
    method: "GET",
    url: `/agents/${"a".repeat(250)}`,
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "rotate unknown key",
    method: "POST",
    url: "/keys/key_doesnotexist01/rotate",
    key: "owner",
    status: 404,
    code: "NOT_FOUND",
  },
  // Registration.
  ...(
    [
      ["negative price", withPrice(-0.02)],
      ["negative price string", withPrice("-0.02")],
      ["zero price", withPrice(0)],
      ["over-precise price", withPrice(0.0000001)],
      ["over-precise price string", withPrice("0.0200001")],
      ["float artefact price", withPrice(0.1 + 0.2)],
      ["exponent price", withPrice("2e-2")],
      ["price too high", withPrice(1000.000001)],
      ["price word", withPrice("cheap")],
      ["price object", withPrice({ usd: 1 })],
      ["price null", withPrice(null)],
      ["no pricing", { ...validAgent, pricing: undefined }],
      ["subscription model", { ...validAgent, pricing: { model: "subscription", price_per_call: 1 } }],
      [
        "euro currency",
        { ...validAgent, pricing: { model: "per_call", price_per_call: 1, currency: "EUR" } },
      ],
      [
        "pricing unknown field",
        { ...validAgent, pricing: { model: "per_call", price_per_call: 1, discount: 5 } },
      ],
      ["upper-case category", { ...validAgent, category: "Crypto" }],
      ["tags not a list", { ...validAgent, tags: "news" }],
      ["21 tags", { ...validAgent, tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }],
      ["repeated tags", { ...validAgent, tags: ["news", "news"] }],
      ["blank name", { ...validAgent, name: "" }],
      ["long description", { ...validAgent, description: "d".repeat(2001) }],
      ["unknown field", { ...validAgent, owner_id: "acct_someoneelse" }],
      ["ftp endpoint", { ...validAgent, api_endpoint: "ftp://api.example.com/agent" }],
      ["not a URL", { ...validAgent, api_endpoint: "api.example.com" }],
    ] as const
  ).map(
    ([name, body]): BadRequest => ({
      name: `register: ${name}`,
      method: "POST",
      url: "/agents/register",
      key: "owner",
      body,
      status: 400,
      code: "VALIDATION_ERROR",
    }),
  ),
  {
    name: "register: loopback endpoint",
    method: "POST",
    url: "/agents/register",
    key: "owner",
    body: { ...validAgent, api_endpoint: "https://127.0.0.1/x" },
    status: 400,
    code: "INVALID_ENDPOINT",
  },
  {
    name: "register: http endpoint",
    method: "POST",
    url: "/agents/register",
    key: "owner",
    body: { ...validAgent, api_endpoint: "http://api.example.com/x" },
    status: 400,
    code: "INVALID_ENDPOINT",
  },
  {
    name: "register: metadata endpoint",
    method: "POST",
    url: "/agents/register",
    key: "owner",
    body: { ...validAgent, api_endpoint: "https://169.254.169.254/x" },
    status: 400,
    code: "INVALID_ENDPOINT",
  },
  // Updates.
  {
    name: "update: empty patch",
    method: "PATCH",
    url: () => `/agents/${agentId}`,
    key: "owner",
    body: {},
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "update: empty pricing",
    method: "PATCH",
    url: () => `/agents/${agentId}`,
    key: "owner",
    body: { pricing: {} },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "update: negative price",
    method: "PATCH",
    url: () => `/agents/${agentId}`,
    key: "owner",
    body: { pricing: { price_per_call: -1 } },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "update: unknown status",
    method: "PATCH",
    url: () => `/agents/${agentId}`,
    key: "owner",
    body: { status: "deleted" },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "update: private endpoint",
    method: "PATCH",
    url: () => `/agents/${agentId}`,
    key: "owner",
    body: { api_endpoint: "https://192.168.1.1/x" },
    status: 400,
    code: "INVALID_ENDPOINT",
  },
  {
    name: "update: not the owner",
    method: "PATCH",
    url: () => `/agents/${agentId}`,
    key: "stranger",
    body: { name: "Mine now" },
    status: 403,
    code: "FORBIDDEN",
  },
  {
    name: "update: unknown agent",
    method: "PATCH",
    url: "/agents/agent_nosuchagent",
    key: "owner",
    body: { name: "x" },
    status: 404,
    code: "AGENT_NOT_FOUND",
  },
  {
    name: "deactivate: not the owner",
    method: "DELETE",
    url: () => `/agents/${agentId}`,
    key: "stranger",
    status: 403,
    code: "FORBIDDEN",
  },
  {
    name: "deactivate: unknown agent",
    method: "DELETE",
    url: "/agents/agent_nosuchagent",
    key: "owner",
    status: 404,
    code: "AGENT_NOT_FOUND",
  },
  // Reads.
  {
    name: "get unknown agent",
    method: "GET",
    url: "/agents/agent_nosuchagent",
    status: 404,
    code: "AGENT_NOT_FOUND",
  },
  {
    name: "get over-long agent id",
    method: "GET",
    url: `/agents/${"a".repeat(150)}`,
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "price history of unknown agent",
    method: "GET",
    url: "/agents/agent_nosuchagent/price-history",
    status: 404,
    code: "AGENT_NOT_FOUND",
  },
  ...(
    [
      ["unknown sort", "sort=cheapest"],
      ["limit 0", "limit=0"],
      ["limit 101", "limit=101"],
      ["limit word", "limit=ten"],
      ["fractional limit", "limit=1.5"],
      ["negative max_price", "max_price=-1"],
      ["over-precise max_price", "max_price=0.0000001"],
      ["word max_price", "max_price=cheap"],
      ["min_trust above 1", "min_trust=2"],
      ["word min_trust", "min_trust=high"],
      ["upper-case category", "category=Crypto"],
      ["garbage cursor", "cursor=%25%25notacursor"],
      ["unknown parameter", "colour=red"],
      ["over-long query", `q=${"q".repeat(201)}`],
      ["too many tags", `tags=${Array.from({ length: 21 }, (_, i) => `t${i}`).join(",")}`],
      ["repeated sort", "sort=price_asc&sort=price_asc"],
    ] as const
  ).map(
    ([name, query]): BadRequest => ({
      name: `search: ${name}`,
      method: "GET",
      url: `/agents/search?${query}`,
      status: 400,
      code: "VALIDATION_ERROR",
    }),
  ),
  {
    name: "search: cursor of another sort",
    method: "GET",
    url: () => `/agents/search?sort=trust_score_desc&cursor=${otherSortCursor}`,
    status: 400,
    code: "VALIDATION_ERROR",
  },
  // Billing.
  {
    name: "transactions: limit 0",
    method: "GET",
    url: "/transactions?limit=0",
    key: "owner",
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "transactions: unknown role",
    method: "GET",
    url: "/transactions?role=admin",
    key: "owner",
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "transactions: garbage cursor",
    method: "GET",
    url: "/transactions?cursor=bm9wZQ",
    key: "owner",
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "transaction: unknown id",
    method: "GET",
    url: "/transactions/txn_nope",
    key: "owner",
    status: 404,
    code: "NOT_FOUND",
  },
  {
    name: "receipt: unknown id",
    method: "GET",
    url: "/transactions/txn_nope/receipt",
    key: "owner",
    status: 404,
    code: "NOT_FOUND",
  },
  {
    name: "limits: negative cap",
    method: "PUT",
    url: "/accounts/me/limits",
    key: "owner",
    body: { monthly_cap_usd: -5 },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "limits: missing cap",
    method: "PUT",
    url: "/accounts/me/limits",
    key: "owner",
    body: {},
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "limits: over-precise cap",
    method: "PUT",
    url: "/accounts/me/limits",
    key: "owner",
    body: { monthly_cap_usd: "1.0000001" },
    status: 400,
    code: "VALIDATION_ERROR",
  },
  // Purchase, key limits and the invoke proxy.
  purchase({}),
  purchase({ agent_id: "not-an-agent" }),
  purchase({ agent_id: "agent_nosuchagent01" }, 404, "AGENT_NOT_FOUND"),
  purchase({ agent_id: "agent_nosuchagent01", plan: "monthly" }),
  purchase({ agent_id: "agent_nosuchagent01", rate_limit: 0 }),
  purchase({ agent_id: "agent_nosuchagent01", rate_limit: 1.5 }),
  purchase({ agent_id: "agent_nosuchagent01", spend_cap_usd: "-1" }),
  purchase({ agent_id: "agent_nosuchagent01", spend_cap_usd: "0.0000001" }),
  purchase({ agent_id: "agent_nosuchagent01", buyer_id: "acct_someoneelse01" }, 403, "FORBIDDEN"),
  purchase({ agent_id: "agent_nosuchagent01", extra: true }),
  {
    name: "key update: nothing to change",
    method: "PATCH",
    url: "/keys/key_whatever0001",
    key: "owner",
    body: {},
    status: 400,
    code: "VALIDATION_ERROR",
  },
  {
    name: "key update: unknown key",
    method: "PATCH",
    url: "/keys/key_whatever0001",
    key: "owner",
    body: { name: "x" },
    status: 404,
    code: "NOT_FOUND",
  },
  invoke("timeout_ms zero", { input: 1, timeout_ms: 0 }),
  invoke("timeout_ms fraction", { input: 1, timeout_ms: 1.5 }),
  invoke("timeout_ms string", { input: 1, timeout_ms: "5000" }),
  invoke("unknown field", { input: 1, extra: 1 }),
  invoke("input nested 5,000 levels deep", undefined, { raw: `{"input":${nestedJson(5000)}}` }),
  invoke("input nested 65 levels deep", undefined, { raw: `{"input":${nestedJson(65)}}` }),
  invoke("no key", { input: 1 }, { key: undefined, status: 401, code: "UNAUTHENTICATED" }),
  invoke("account key", { input: 1 }, { key: "owner", status: 403, code: "AGENT_NOT_PURCHASED" }),
  invoke("revoked key", { input: 1 }, { key: "revoked", status: 401, code: "INVALID_API_KEY" }),
  invoke("access key for another agent", { input: 1 }, { status: 403, code: "AGENT_NOT_PURCHASED" }),
  { name: "audit: admin routes off", method: "GET", url: "/admin/audit", status: 403, code: "FORBIDDEN" },
  { name: "unknown route", method: "GET", url: "/agents/search/extra/path", status: 404, code: "NOT_FOUND" },
  { name: "unknown method on a route", method: "DELETE", url: "/accounts", status: 404, code: "NOT_FOUND" },
];

async function send(request: BadRequest) {
  const url = typeof request.url === "function" ? request.url() : request.url;
  const headers: Record<string, string> = {};
  if (request.header !== undefined) headers.authorization = request.header;
  else if (request.key !== undefined) headers.authorization = `Bearer ${keys[request.key]}`;
  if (request.raw !== undefined || request.contentType !== undefined) {
    headers["content-type"] = request.contentType ?? "application/json";
  }
  return app.inject({
    method: request.method,
    url,
    headers,
    ...(request.raw !== undefined
      ? { payload: request.raw }
      : request.body !== undefined && { payload: request.body as object }),
  });
}

describe("bad input", () => {
  it.each(table.map((request) => [request.name, request] as const))("%s", async (_name, request) => {
    const before = snapshot();
    const response = await send(request);
    expect(response.statusCode, response.body).toBe(request.status);
    const envelope = ErrorEnvelopeSchema.parse(response.json());
    expect(envelope.error.code).toBe(request.code);
    expect(envelope.error.message.length).toBeGreaterThan(0);
    expect(envelope.error.request_id).toBe(response.headers["x-request-id"]);
    expect(snapshot()).toBe(before);
  });

  it("answers bytes that are not HTTP, after a pipelined request, with the error envelope", async () => {
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === "string") throw new Error("not listening on a port");
    const socket = connect(address.port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n\x00\x01 not http at all\r\n\r\n");
    await closed;
    const received = Buffer.concat(chunks).toString("utf8");
    expect(received).not.toContain("Client Error");
    const refusal =
      received.split(/(?=HTTP\/1\.1 )/).find((answer) => answer.startsWith("HTTP/1.1 400 ")) ?? "";
    const [head = "", body = ""] = refusal.split("\r\n\r\n");
    expect(head.toLowerCase()).toContain("content-type: application/json");
    const envelope = ErrorEnvelopeSchema.parse(JSON.parse(body));
    expect(envelope.error.code).toBe("VALIDATION_ERROR");
    expect(head.toLowerCase()).toContain(`x-request-id: ${envelope.error.request_id}`);
  });

  it("answers no random JSON body on any route with a 5xx", async () => {
    const routes = [
      ...jsonBodyRoutes,
      { method: "POST" as const, url: "/keys/key_whatever0001/rotate", key: "owner" as const },
      { method: "PATCH" as const, url: "/keys/key_whatever0001", key: "owner" as const },
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.jsonValue({ maxDepth: 3 }), async (route, body) => {
        const response = await send({
          ...route,
          name: "fuzz",
          raw: JSON.stringify(body) ?? "null",
          status: 0,
          code: "",
        });
        expect(response.statusCode, response.body).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });

  it("answers no random search query with a 5xx", async () => {
    const param = fc.constantFrom(
      "category",
      "tags",
      "q",
      "max_price",
      "min_trust",
      "sort",
      "limit",
      "cursor",
      "x",
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(param, fc.string({ maxLength: 30 })), { maxLength: 5 }),
        async (pairs) => {
          const query = new URLSearchParams(pairs).toString();
          const response = await app.inject({ method: "GET", url: `/agents/search?${query}` });
          expect(response.statusCode, `${query} → ${response.body}`).toBeLessThan(500);
        },
      ),
      { numRuns: 200 },
    );
  });
});
