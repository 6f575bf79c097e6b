// A paid call whose outcome the server never learns: the broker charged it, but the answer was lost on
// the way back (the connection broke, the SDK's timeout fired). The spending policy must count it, or
// the model can spend past the session budget. Real broker and seller kit; the loss of the answer is
// made by an injected fetch, after the broker has answered. The ledger audit ends the file.
import type { FetchFunction } from "@mercato/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeAudited, connect, type Market, type Seller, startMarket, toolError } from "./support.js";

let market: Market;
let seller: Seller;

beforeAll(async () => {
  market = await startMarket("mcp-outcome-unit-admin-0001");
  seller = await market.seller({ name: "outcome summarizer", price: "0.02", category: "outcome-unit" });
});

afterAll(() => closeAudited(market));

/**
 * A server whose first `losses` invokes reach the broker (the first one is charged; the others are
 * the broker's replays of its outcome, never charged again) but whose answers are lost.
 */
async function losingAnswers(key: string, budget: string, losses: number) {
  let lost = 0;
  const fetchThrough: FetchFunction = async (input, init) => {
    const response = await fetch(input, init);
    if (/\/agents\/[^/]+\/invoke$/.test(new URL(input).pathname) && lost < losses) {
      lost += 1;
      await response.text();
      // What fetch throws when the connection breaks before the answer is read.
      throw new TypeError("fetch failed", { cause: new Error("socket hang up") });
    }
    return response;
  };
  const mcp = await connect(market.broker.url, key, { budget }, undefined, undefined, fetchThrough);
  return {
    call: (text: string) => mcp.tool("call_agent", { agent_id: seller.agentId, input: { text } }),
    policy: mcp.policy,
    close: mcp.close,
  };
}

describe("a charged call whose answer is lost", () => {
  it("asks the broker for the outcome with the same idempotency key: the answer, charged once, counted", async () => {
    const buyer = await market.buyer("lost answer buyer", "10");
    const mcp = await losingAnswers(buyer.key, "1", 1);
    try {
      const before = await buyer.available();
      const served = seller.served();
      const result = await mcp.call("lost once");
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ cost_usd: "0.020000" });
      // The seller ran once and the buyer paid once, though the invoke was sent twice.
      expect(seller.served()).toBe(served + 1);
      expect(await buyer.available()).toBe(before - 20_000n);
      expect((await mcp.policy()).spending.session.spent_usd).toBe("0.020000");
    } finally {
      await mcp.close();
    }
  });

  it("counts a call whose outcome it never learns at its price, so no call passes the budget", async () => {
    const buyer = await market.buyer("past budget buyer", "10");
    const mcp = await losingAnswers(buyer.key, "0.03", 2);
    try {
      const before = await buyer.available();
      const lost = toolError(await mcp.call("lost"));
      expect(lost.code).toBe("SERVICE_UNAVAILABLE");
      expect(lost.message).toContain("may have been charged");
      expect(lost.details).toMatchObject({ counted_usd: "0.020000" });
      expect(await buyer.available()).toBe(before - 20_000n);
      // The broker charged 0.02: the policy counts it.
      expect((await mcp.policy()).spending.session.spent_usd).toBe("0.020000");
      // 0.01 is left: the next 0.02 call is refused, with nothing charged.
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
