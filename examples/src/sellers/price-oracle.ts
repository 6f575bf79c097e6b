// A price oracle: the USD price of a crypto asset from a fixed table, with the time it is as of.
// An unknown symbol is the buyer's mistake: a 404 the broker passes on, which is not charged.
//
//   MERCATO_URL=http://127.0.0.1:4020 node examples/dist/sellers/price-oracle.js --port 5052
import { formatUsd, MercatoError, parseUsd } from "@mercato/protocol";
import * as z from "zod";
import { isMainModule } from "../is-main-module.js";
import { cryptoManifest, runSellerProgram, type SellerDefinition } from "./run-seller.js";

/** One asset the oracle prices. */
export interface PricedAsset {
  symbol: string;
  name: string;
  /** USD price in micro-USD (exact). */
  priceMicros: bigint;
  /** Annualized volatility (0.55 = 55%), used by the portfolio risk scorer. */
  volatility: number;
}

/** When the table's prices were taken: every answer is as of this instant. */
export const PRICES_AS_OF = "2025-06-30T16:00:00.000Z";

const asset = (symbol: string, name: string, price: string, volatility: number): PricedAsset => ({
  symbol,
  name,
  priceMicros: parseUsd(price),
  volatility,
});

/** The fixed price table, by symbol. */
export const PRICE_TABLE: ReadonlyMap<string, PricedAsset> = new Map(
  [
    asset("BTC", "Bitcoin", "64250.120000", 0.55),
    asset("ETH", "Ether", "3120.450000", 0.7),
    asset("SOL", "Solana", "148.230000", 0.95),
    asset("BNB", "BNB", "575.800000", 0.6),
    asset("XRP", "XRP", "0.512300", 0.85),
    asset("ADA", "Cardano", "0.391200", 0.9),
    asset("DOGE", "Dogecoin", "0.124560", 1.1),
    asset("AVAX", "Avalanche", "27.610000", 1.0),
    asset("LINK", "Chainlink", "13.870000", 0.95),
    asset("MATIC", "Polygon", "0.571000", 1.0),
    asset("USDC", "USD Coin", "1.000000", 0.01),
    asset("USDT", "Tether", "1.000100", 0.01),
  ].map((entry) => [entry.symbol, entry]),
);

/** The input schema: a ticker symbol, any case (`btc`, `BTC`). */
export const PriceQuoteInput = z.strictObject({
  symbol: z
    .string()
    .trim()
    .min(1)
    .max(12)
    .regex(/^[A-Za-z0-9]+$/, "must be a ticker symbol such as BTC")
    .transform((symbol) => symbol.toUpperCase()),
});

/** The output schema: the oracle's answer, as its contract promises it. */
export const PriceQuoteOutput = z.strictObject({
  symbol: z.string().min(1).describe("The ticker, upper case"),
  name: z.string().min(1).describe("The asset's name"),
  price_usd: z
    .string()
    .regex(/^\d+\.\d{6}$/)
    .describe("Exact USD price, six decimals"),
  currency: z.literal("USD"),
  as_of: z.iso.datetime().describe("When the price was taken"),
  source: z.literal("fixed-table"),
});

/** The oracle's answer. */
export interface PriceQuote {
  symbol: string;
  name: string;
  /** Exact USD price, six decimals. */
  price_usd: string;
  currency: "USD";
  as_of: string;
  source: "fixed-table";
}

/**
 * The price of `symbol` from the fixed table.
 *
 * @throws MercatoError `NOT_FOUND` (404) for a symbol the table does not hold, with the known ones in `details.known`.
 * @example quotePrice({ symbol: "BTC" }); // { symbol: "BTC", price_usd: "64250.120000", as_of: "2025-06-30T16:00:00.000Z", … }
 */
export function quotePrice(input: z.output<typeof PriceQuoteInput>): PriceQuote {
  const found = PRICE_TABLE.get(input.symbol);
  if (found === undefined) {
    throw new MercatoError("NOT_FOUND", `No price for ${input.symbol}`, {
      details: { symbol: input.symbol, known: [...PRICE_TABLE.keys()] },
    });
  }
  return {
    symbol: found.symbol,
    name: found.name,
    price_usd: formatUsd(found.priceMicros),
    currency: "USD",
    as_of: PRICES_AS_OF,
    source: "fixed-table",
  };
}

const DEFAULT_NAME = "Crypto Price Oracle";
const DEFAULT_PRICE = "0.002";

/**
 * The oracle's registration: category `crypto`, tags `prices` and `oracle`; `overrides` replace fields.
 *
 * @example priceOracleManifest("http://127.0.0.1:5052/price");
 */
export const priceOracleManifest = cryptoManifest({
  name: DEFAULT_NAME,
  description: `USD spot prices of ${PRICE_TABLE.size} major crypto assets with their as-of time. Input: {symbol}.`,
  tags: ["prices", "oracle", "market-data"],
  priceUsd: DEFAULT_PRICE,
});

/** The program: `node dist/sellers/price-oracle.js`. */
export const priceOracle: SellerDefinition<typeof PriceQuoteInput, typeof PriceQuoteOutput> = {
  program: "price-oracle",
  path: "/price",
  defaultName: DEFAULT_NAME,
  defaultPriceUsd: DEFAULT_PRICE,
  input: PriceQuoteInput,
  output: PriceQuoteOutput,
  handler: quotePrice,
  manifest: priceOracleManifest,
};

if (isMainModule(import.meta.url, priceOracle.program)) await runSellerProgram(priceOracle);
