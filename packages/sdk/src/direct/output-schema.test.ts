import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBudget } from "../call/budget.js";
import type { MercatoClient } from "../client/mercato-client.js";
import type { FetchFunction } from "../client/request.js";
import { failure } from "../client/test-fixtures.js";
import { type Market, startMarket, startTestSeller, type TestSeller } from "./test-fixtures.js";

// The broker of this test predates output schemas on listings: a fetch in front of it adds each
// agent's `output_schema` to `GET /agents/{id}`, as a broker with contracts answers it.
let market: Market;
let owner: MercatoClient;
const sellers: TestSeller[] = [];
const schemas = new Map<string, object>();
let contractReads = 0;

const withSchemas: FetchFunction = async (url, init) => {
  const response = await fetch(url, init);
  const agent = /^\/agents\/(agent_[^/]+)$/.exec(new URL(url).pathname)?.[1];
  if (agent === undefined || (init.method ?? "GET") !== "GET" || !response.ok) return response;
  contractReads++;
  const body = (await response.json()) as Record<string, unknown>;
  return new Response(JSON.stringify({ ...body, output_schema: schemas.get(agent) ?? null }), {
    status: response.status,
    headers: { "content-type": "application/json" },
  });
};

beforeAll(async () => {
  market = await startMarket();
  owner = (await market.account("schema-owner")).client;
});

afterAll(async () => {
  await Promise.all(sellers.map((seller) => seller.close()));
  await market.close();
});

async function seller() {
  const started = await startTestSeller(market.baseUrl);
  sellers.push(started);
  return started;
}

/** The test seller answers `{ echo: input, call: n }`; these schemas pass or fail it. */
const FITS = {
  type: "object",
  required: ["echo", "call"],
  properties: { call: { type: "integer" } },
};
const NEEDS_SUMMARY = { type: "object", required: ["summary"], properties: { summary: { type: "string" } } };

describe("direct mode: an output outside the agent's output schema is a failed call", () => {
  it("call() fails over from a seller whose answers break its schema; the buyer pays price × successes, to the micro", async () => {
    const breaker = await seller();
    const keeper = await seller();
    const cheap = await market.agent(owner, breaker, "0.020", "schema-fx");
    const dear = await market.agent(owner, keeper, "0.030", "schema-fx");
    schemas.set(cheap, NEEDS_SUMMARY);
    schemas.set(dear, FITS);
    const { client } = await market.account("schema-buyer", withSchemas);
    const budget = createBudget("1.00");

    const result = await client.call({ category: "schema-fx", input: "q", mode: "direct", budget });
    expect(result.agentId).toBe(dear);
    expect(result.attempts.map((a) => [a.agentId, a.ok, a.code, a.costUsd])).toEqual([
      [cheap, false, "SELLER_ERROR", "0.000000"],
      [dear, true, undefined, "0.030000"],
    ]);
    // Failed over at once: no retry on a seller whose contract is broken.
    expect(breaker.seen.map((s) => s.status)).toEqual([200]);
    expect(budget.spentUsd).toBe("0.030000");

    // The next call: this client learned, and goes to the seller keeping its contract first.
    const again = await client.call({ category: "schema-fx", input: "r", mode: "direct", budget });
    expect(again.attempts.map((a) => [a.agentId, a.ok])).toEqual([[dear, true]]);
    expect(budget.spentUsd).toBe("0.060000");

    await client.close();
    const breakerGrant = result.attempts[0]?.grantId ?? "";
    expect(await client.grants.get(breakerGrant)).toMatchObject({
      status: "closed",
      redeemed_usd: "0.000000",
    });
    expect(await client.grants.get(again.grantId)).toMatchObject({
      status: "closed",
      redeemed_usd: "0.060000",
    });
  });

  it("a session counts only the answers that fit: its final voucher owes price × those, and the error says why", async () => {
    const mixed = await seller();
    const agentId = await market.agent(owner, mixed, "0.020", "schema-session");
    // Its first two answers fit; from the third on, `call` is above the schema's maximum.
    schemas.set(agentId, { ...FITS, properties: { call: { type: "integer", maximum: 2 } } });
    const { client } = await market.account("session-buyer", withSchemas);
    const session = client.openSession(agentId, { budgetUsd: "0.20" });
    const reads = contractReads;

    expect((await session.call(1)).costUsd).toBe("0.020000");
    expect((await session.call(2)).costUsd).toBe("0.020000");
    const broken = await failure(() => session.call(3));
    expect(broken.code).toBe("SELLER_ERROR");
    expect(broken.message).toContain("does not match its output schema");
    expect(broken.details).toMatchObject({
      reason: "output_schema",
      issues: [{ path: "/call", message: expect.any(String) }],
      cost_usd: "0.000000",
      sequence: 3,
    });
    // The contract was read once for the session's calls, not once per call.
    expect(contractReads - reads).toBe(1);

    const summary = await session.close();
    expect(summary).toMatchObject({ calls: 3, successes: 2, spentUsd: "0.040000" });
    const [grantId] = summary.grants;
    expect(await client.grants.get(grantId ?? "")).toMatchObject({
      status: "closed",
      redeemed_usd: "0.040000",
    });
  });

  it("an agent without an output schema is not checked, and its answers are paid as before", async () => {
    const plain = await seller();
    const agentId = await market.agent(owner, plain, "0.005", "schema-none");
    const { client } = await market.account("plain-buyer", withSchemas);
    const session = client.openSession(agentId, { budgetUsd: "0.05" });
    for (let n = 1; n <= 3; n++) expect((await session.call(n)).output).toEqual({ echo: n, call: n });
    expect(await session.close()).toMatchObject({ successes: 3, spentUsd: "0.015000" });
  });
});
