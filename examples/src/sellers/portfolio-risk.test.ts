import { RegisterAgentRequest } from "@mercato/protocol";
import { expect, it } from "vitest";
import { PortfolioInput, portfolioRiskManifest, scorePortfolio } from "./portfolio-risk.js";

const score = (holdings: { symbol: string; amount: string | number }[]) =>
  scorePortfolio(PortfolioInput.parse({ holdings }));

it("values holdings exactly and scores one asset as fully concentrated", () => {
  const result = score([{ symbol: "btc", amount: "0.1" }]);
  expect(result.total_value_usd).toBe("6425.012000");
  expect(result.holdings).toEqual([
    {
      symbol: "BTC",
      amount: "0.1",
      price_usd: "64250.120000",
      value_usd: "6425.012000",
      weight: 1,
      volatility: 0.55,
    },
  ]);
  expect(result).toMatchObject({
    concentration_hhi: 1,
    effective_holdings: 1,
    weighted_volatility: 0.55,
    risk_score: 55,
    risk_label: "high",
  });
});

it("scores a stablecoin-heavy portfolio lower and less concentrated", () => {
  const result = score([
    { symbol: "BTC", amount: 1 },
    { symbol: "USDC", amount: "64250.12" },
  ]);
  expect(result.total_value_usd).toBe("128500.240000");
  expect(result.concentration_hhi).toBe(0.5);
  expect(result.effective_holdings).toBe(2);
  expect(result.weighted_volatility).toBe(0.28);
  expect(result.risk_score).toBe(22); // 100 × 0.28 × (0.6 + 0.4 × 0.5)
  expect(result.risk_label).toBe("low");
});

it("merges repeated symbols and gives the same answer every time", () => {
  const split = score([
    { symbol: "ETH", amount: "1.5" },
    { symbol: "eth", amount: "0.5" },
  ]);
  expect(split.holdings).toHaveLength(1);
  expect(split.holdings[0]?.amount).toBe("2");
  expect(split).toEqual(score([{ symbol: "ETH", amount: 2 }]));
});

it("refuses unknown symbols (404) and malformed amounts (schema)", () => {
  expect(() => score([{ symbol: "NOPE", amount: 1 }])).toThrow(
    expect.objectContaining({ code: "NOT_FOUND" }),
  );
  expect(PortfolioInput.safeParse({ holdings: [{ symbol: "BTC", amount: "1.123456789" }] }).success).toBe(
    false,
  );
  expect(PortfolioInput.safeParse({ holdings: [{ symbol: "BTC", amount: -1 }] }).success).toBe(false);
  expect(PortfolioInput.safeParse({ holdings: [] }).success).toBe(false);
});

it("registers in crypto", () => {
  expect(
    RegisterAgentRequest.parse(portfolioRiskManifest("http://127.0.0.1:5055/portfolio-risk")).category,
  ).toBe("crypto");
});
