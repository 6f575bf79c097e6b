import type { SearchResult } from "@mercato/sdk";
import { expect, it } from "vitest";
import { formatAgentTable, formatTable, percent, usd } from "./format-table.js";

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
    ranking: { success_rate: successRate, success_lower_bound: successRate, category_prior: 0.95 },
    has_input_schema: true,
    has_output_schema: true,
  };
}

it("aligns a header and one line per agent, numbers to the right", () => {
  const table = formatAgentTable([
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
  expect(formatAgentTable([])).toBe("AGENT  NAME  CATEGORY  PRICE/CALL  SUCCESS  TRUST  COST/SUCCESS");
});

it("formats any rows with the columns given", () => {
  const rows = [
    { name: "Pro", calls: 200 },
    { name: "Digest", calls: 7 },
  ];
  const table = formatTable(
    [
      { title: "SELLER", cell: (row: { name: string }) => row.name },
      { title: "CALLS", cell: (row: { calls: number }) => String(row.calls), right: true },
    ],
    rows,
  );
  expect(table).toBe(["SELLER  CALLS", "Pro       200", "Digest      7"].join("\n"));
});

it("shows exact amounts with at least the decimals asked", () => {
  expect(usd("0.020000")).toBe("$0.020");
  expect(usd(1_200n)).toBe("$0.0012");
  expect(usd(4_000_000n, 2)).toBe("$4.00");
  expect(usd("12.5", 0)).toBe("$12.5");
  expect(usd(0n, 0)).toBe("$0");
  expect(percent(0.5412)).toBe("54.1%");
});
