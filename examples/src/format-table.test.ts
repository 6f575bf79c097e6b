import type { SearchResult } from "@mercato/sdk";
import { expect, it } from "vitest";
import { formatTable } from "./format-table.js";

function result(agentId: string, name: string, price: number, successRate: number): SearchResult {
  return {
    agent_id: agentId,
    name,
    description: "",
    owner_id: "acct_12345678",
    category: "crypto",
    tags: [],
    version: "1.0.0",
    status: "active",
    price_per_call: price,
    currency: "USD",
    success_rate: successRate,
    avg_response_time_ms: 120,
    uptime_24h: 1,
    total_calls: 10,
    trust_score: 0.9123,
    cost_per_success: price / successRate,
  };
}

it("aligns a header and one line per agent, numbers to the right", () => {
  const table = formatTable([
    result("agent_aaaaaa", "BTC Price", 0.02, 0.8),
    result("agent_bbbbbbbb", "News", 0.005, 1),
  ]);
  expect(table.split("\n")).toEqual([
    "AGENT           NAME       CATEGORY  PRICE/CALL  SUCCESS  TRUST  COST/SUCCESS",
    "agent_aaaaaa    BTC Price  crypto     $0.020000    80.0%  0.912     $0.025000",
    "agent_bbbbbbbb  News       crypto     $0.005000   100.0%  0.912     $0.005000",
  ]);
});

it("prints only the header when there are no agents", () => {
  expect(formatTable([])).toBe("AGENT  NAME  CATEGORY  PRICE/CALL  SUCCESS  TRUST  COST/SUCCESS");
});
