// A paid call whose outcome the server never learns: the broker charged it, but the answer was lost on
// the way back (the connection broke, the SDK's timeout fired). The spending policy must count it, or
// the model can spend past the session budget. Real broker and seller kit; the loss of the answer is
// made by an injected fetch, after the broker has answered. The ledger audit ends the file.
import type { FetchFunction } from "@mercato/sdk";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePolicy } from "../src/policy.js";
import { createAccountSession, createMcpServer, createShared } from "../src/server.js";
import { type Market, type PolicyResource, type Seller, startMarket, toolError } from "./support.js";

let market: Market;
let seller: Seller;

beforeAll(async () => {
  market = await startMarket("mcp-outcome-unit-admin-0001");
  seller = await market.seller({ name: "outcome summarizer", price: "0.02", category: "outcome-unit" });
});

afterAll(async () => {
  if (!market) return;
  const audit = await market.audit();
  expect(audit.violations).toEqual([]);
  expect(audit.ok).toBe(true);
  await market.close();
});

/** A server whose first invoke reaches the broker (and is charged) but whose answer is lost. */
async function losingFirstAnswer(key: string, budget: string) {
  let lost = 0;
  const fetchThrough: FetchFunction = async (input, init) => {
    const response = await fetch(input, init);
    if (/\/agents\/[^/]+\/invoke$/.test(new URL(input).pathname) && lost === 0) {
      lost += 1;
      await response.text();
      // What fetch throws when the connection breaks before the answer is read.
      throw new TypeError("fetch failed", { cause: new Error("socket hang up") });
    }
    return response;
  };
  const shared = createShared({
    brokerUrl: market.broker.url,
    policy: parsePolicy({ budget }),
    agentTools: undefined,
    agentToolsTtlMs: 0,
    fetch: fetchThrough,
  });
  const server = createMcpServer(shared, createAccountSession(shared, key));
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "mcp-outcome", version: "1.0.0" });
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  return {
    call: async (text: string) =>
      (await client.callTool({
        name: "call_agent",
        arguments: { agent_id: seller.agentId, input: { text } },
      })) as CallToolResult,
    policy: async () =>
      JSON.parse(
        ((await client.readResource({ uri: "mercato://policy" })).contents[0] as { text: string }).text,
      ) as PolicyResource,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

describe("a charged call whose answer is lost", () => {
  it("is an error the model can read, and the broker did charge it", async () => {
    const buyer = await market.buyer("lost answer buyer", "10");
    const mcp = await losingFirstAnswer(buyer.key, "1");
    try {
      const before = await buyer.available();
      const served = seller.served();
      const lost = toolError(await mcp.call("lost"));
      expect(lost.code).toBe("SERVICE_UNAVAILABLE");
      expect(seller.served()).toBe(served + 1);
      expect(await buyer.available()).toBe(before - 20_000n);
    } finally {
      await mcp.close();
    }
  });

  // BUG (src/tools.ts, callOne): the catch after `client.invoke` releases the reservation for any
  // MercatoError ("The broker answered: a refused or failed call is not charged") and commits it only for
  // other errors ("No answer (the connection broke)"). But the SDK turns every failure to get an answer
  // (fetch's TypeError, its own timeout) into MercatoError SERVICE_UNAVAILABLE (sdk request.ts), so the
  // "no answer" branch never runs for a lost answer: a call the broker charged is released, the policy
  // counts nothing, and the model can go on spending past the session (and daily) budget: here 0.04 USD
  // is spent under a 0.03 budget.
  // Fix: release only when the broker itself answered with a refusal or failure; when there was no answer
  // (SERVICE_UNAVAILABLE without a broker response, e.g. no `requestId`/status from a response, or a
  // `details`/flag the SDK sets for "no answer"), commit the price as the comment intends, and say in the
  // error that the call may have been charged. Better still, retry the same invoke once with the same
  // idempotency key (the broker answers the first outcome without charging again) and commit what it says.
  it.fails("counts the lost call against the session budget, so no call passes it", async () => {
    const buyer = await market.buyer("past budget buyer", "10");
    const mcp = await losingFirstAnswer(buyer.key, "0.03");
    try {
      const before = await buyer.available();
      toolError(await mcp.call("lost"));
      expect(await buyer.available()).toBe(before - 20_000n);
      // The broker charged 0.02: the policy must count it.
      expect((await mcp.policy()).spending.session.spent_usd).toBe("0.020000");
      // 0.01 is left: the next 0.02 call must be refused, with nothing charged.
      const next = await mcp.call("past the budget");
      expect(toolError(next)).toMatchObject({
        code: "BUDGET_EXCEEDED",
        details: { limit: "session_budget" },
      });
      expect(await buyer.available()).toBe(before - 20_000n);
    } finally {
      await mcp.close();
    }
  });
});
