// A portfolio risk scorer: values holdings at the price oracle's fixed prices (exactly, in
// micro-USD), then scores concentration (Herfindahl-Hirschman index) and volatility-weighted risk
// from fixed per-asset volatilities.
//
//   MERCATO_URL=http://127.0.0.1:4020 node examples/dist/sellers/portfolio-risk.js --port 5055
import { formatUsd, MercatoError } from "@mercato/protocol";
import * as z from "zod";
import { isMainModule } from "../is-main-module.js";
import { PRICE_TABLE, PRICES_AS_OF } from "./price-oracle.js";
import { cryptoManifest, runSellerProgram, type SellerDefinition } from "./run-seller.js";

/** Amounts carry at most eight decimals (a satoshi): they are exact integers of 10⁻⁸ units. */
const AMOUNT_DECIMALS = 8;
const AMOUNT_SCALE = 10n ** BigInt(AMOUNT_DECIMALS);
const AMOUNT = /^(\d{1,15})(?:\.(\d{1,8}))?$/;

/** An amount of an asset, a decimal string or a number, as integer units of 10⁻⁸. */
const Amount = z
  .union([z.string().max(40), z.number().nonnegative().finite()])
  .transform((value, context) => {
    const match = AMOUNT.exec(String(value).trim());
    if (!match) {
      context.addIssue({
        code: "custom",
        message: "must be a non-negative decimal with at most 8 decimals, such as 0.5",
      });
      return z.NEVER;
    }
    return BigInt(match[1] ?? "0") * AMOUNT_SCALE + BigInt((match[2] ?? "").padEnd(AMOUNT_DECIMALS, "0"));
  });

/** The input schema: up to 50 holdings, each a symbol and an amount. */
export const PortfolioInput = z.strictObject({
  holdings: z
    .array(
      z.strictObject({
        symbol: z
          .string()
          .trim()
          .min(1)
          .max(12)
          .transform((symbol) => symbol.toUpperCase()),
        amount: Amount,
      }),
    )
    .min(1)
    .max(50),
});

/** The output schema: the scorer's answer, as its contract promises it. */
export const PortfolioRiskOutput = z.strictObject({
  holdings: z
    .array(
      z.strictObject({
        symbol: z.string().min(1),
        amount: z.string().min(1),
        price_usd: z.string().min(1),
        value_usd: z.string().min(1),
        weight: z.number().min(0).max(1).describe("Share of the portfolio's value"),
        volatility: z.number().nonnegative().describe("The asset's annualized volatility"),
      }),
    )
    .min(1),
  total_value_usd: z.string().min(1).describe("Exact sum of the holdings' values"),
  concentration_hhi: z.number().min(0).max(1).describe("Σ weight²: 1/n evenly spread, 1 for one asset"),
  effective_holdings: z.number().nonnegative(),
  weighted_volatility: z.number().nonnegative(),
  risk_score: z.number().min(0).max(100),
  risk_label: z.enum(["low", "moderate", "high", "very high"]),
  as_of: z.iso.datetime(),
});

/** One holding in the scorer's answer. */
export interface HoldingRisk {
  symbol: string;
  amount: string;
  price_usd: string;
  value_usd: string;
  /** Share of the portfolio's value, four decimals. */
  weight: number;
  /** The asset's annualized volatility. */
  volatility: number;
}

/** The scorer's answer. */
export interface PortfolioRisk {
  holdings: HoldingRisk[];
  /** Exact sum of the holdings' values. */
  total_value_usd: string;
  /** Σ weight², from 1/n (evenly spread) to 1 (one asset); four decimals. */
  concentration_hhi: number;
  /** 1 / HHI: how many equal holdings the portfolio is worth, two decimals. */
  effective_holdings: number;
  /** Σ weight × volatility: the portfolio's volatility if its assets moved together; four decimals. */
  weighted_volatility: number;
  /** 0–100: 100 × min(1, weighted_volatility × (0.6 + 0.4 × HHI)). */
  risk_score: number;
  risk_label: "low" | "moderate" | "high" | "very high";
  as_of: string;
}

/**
 * Values and scores a portfolio at the fixed prices. Values are exact (micro-USD, rounded down per
 * holding); weights, HHI and volatility are ratios. Holdings of the same symbol are merged.
 *
 * @throws MercatoError `NOT_FOUND` (404) for a symbol without a price, with the known ones in `details.known`.
 * @example scorePortfolio({ holdings: [{ symbol: "BTC", amount: 100_000_000n }] }); // risk_score 55, concentration_hhi 1
 */
export function scorePortfolio(input: z.output<typeof PortfolioInput>): PortfolioRisk {
  const units = new Map<string, bigint>();
  for (const { symbol, amount } of input.holdings) units.set(symbol, (units.get(symbol) ?? 0n) + amount);

  const valued = [...units].map(([symbol, amount]) => {
    const asset = PRICE_TABLE.get(symbol);
    if (asset === undefined) {
      throw new MercatoError("NOT_FOUND", `No price for ${symbol}`, {
        details: { symbol, known: [...PRICE_TABLE.keys()] },
      });
    }
    return { asset, amount, valueMicros: (amount * asset.priceMicros) / AMOUNT_SCALE };
  });
  const total = valued.reduce((sum, holding) => sum + holding.valueMicros, 0n);
  // Ratios of exact integers; an empty (all-zero) portfolio has no weights.
  const weightOf = (micros: bigint) => (total === 0n ? 0 : Number(micros) / Number(total));

  const hhi = valued.reduce((sum, holding) => sum + weightOf(holding.valueMicros) ** 2, 0);
  const volatility = valued.reduce(
    (sum, holding) => sum + weightOf(holding.valueMicros) * holding.asset.volatility,
    0,
  );
  const score = Math.round(100 * Math.min(1, volatility * (0.6 + 0.4 * hhi)));
  return {
    holdings: valued.map(({ asset, amount, valueMicros }) => ({
      symbol: asset.symbol,
      amount: formatAmount(amount),
      price_usd: formatUsd(asset.priceMicros),
      value_usd: formatUsd(valueMicros),
      weight: round(weightOf(valueMicros), 4),
      volatility: asset.volatility,
    })),
    total_value_usd: formatUsd(total),
    concentration_hhi: round(hhi, 4),
    effective_holdings: hhi === 0 ? 0 : round(1 / hhi, 2),
    weighted_volatility: round(volatility, 4),
    risk_score: score,
    risk_label: score < 25 ? "low" : score < 50 ? "moderate" : score < 75 ? "high" : "very high",
    as_of: PRICES_AS_OF,
  };
}

function formatAmount(units: bigint): string {
  const fraction = (units % AMOUNT_SCALE).toString().padStart(AMOUNT_DECIMALS, "0").replace(/0+$/, "");
  return `${units / AMOUNT_SCALE}${fraction === "" ? "" : `.${fraction}`}`;
}

function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

const DEFAULT_NAME = "Portfolio Risk Scorer";
const DEFAULT_PRICE = "0.010";

/**
 * The scorer's registration: category `crypto`, tags `portfolio` and `risk`; `overrides` replace fields.
 *
 * @example portfolioRiskManifest("http://127.0.0.1:5055/portfolio-risk");
 */
export const portfolioRiskManifest = cryptoManifest({
  name: DEFAULT_NAME,
  description:
    "Values a crypto portfolio and scores its concentration (HHI) and volatility-weighted risk, 0 to 100. Input: {holdings: [{symbol, amount}]}.",
  tags: ["portfolio", "risk", "analytics"],
  priceUsd: DEFAULT_PRICE,
});

/** The program: `node dist/sellers/portfolio-risk.js`. */
export const portfolioRisk: SellerDefinition<typeof PortfolioInput, typeof PortfolioRiskOutput> = {
  program: "portfolio-risk",
  path: "/portfolio-risk",
  defaultName: DEFAULT_NAME,
  defaultPriceUsd: DEFAULT_PRICE,
  input: PortfolioInput,
  output: PortfolioRiskOutput,
  handler: scorePortfolio,
  manifest: portfolioRiskManifest,
};

if (isMainModule(import.meta.url, portfolioRisk.program)) await runSellerProgram(portfolioRisk);
