// The demo's market: the seven seller processes it starts (program, name, price, failure rate), how
// many calls the market's other buyers make to each, and with what input.
import { BUYER_CAP, BUYER_WEIGHT } from "@mercato/protocol";
import type { RegisterAgentRequest } from "@mercato/sdk";
import { gasTrackerManifest } from "../sellers/gas-tracker.js";
import { NEWS_FEED, newsSummarizerManifest } from "../sellers/news-summarizer.js";
import { portfolioRiskManifest } from "../sellers/portfolio-risk.js";
import { PRICE_TABLE, priceOracleManifest } from "../sellers/price-oracle.js";
import { cryptoManifest } from "../sellers/run-seller.js";
import { sentimentScorerManifest } from "../sellers/sentiment-scorer.js";

/**
 * The market's other buyers: new accounts, each topped up. Ranking weighs each buyer's calls to a
 * seller, capped (at ten calls' weight in a market this small), and an account younger than a day
 * weighs a quarter of that (see `BUYER_WEIGHT`): one buyer's calls, however many, would barely move
 * a seller from the prior (20 calls at 95%). So the history comes from many buyers, and each makes the calls that weigh
 * the most it can: ten to each summarizer, a quarter call each, 2.5 calls' weight per buyer.
 */
export const MARKET_BUYERS = 40;
/** Calls each market buyer makes to each summarizer: the cap, in calls (ten). */
export const CALLS_PER_BUYER = BUYER_CAP.minUnits / BUYER_WEIGHT.establishedUnits;
/**
 * Calls the market makes to each summarizer (400, weighing 100 calls: the Digest then ranks at
 * (50 + 19) / (100 + 20) = 57.5%, $0.0209 per success, above the Pro's $0.0202), and to each other
 * seller (spread over the buyers, one call each).
 */
export const SUMMARIZER_HISTORY = MARKET_BUYERS * CALLS_PER_BUYER;
const OTHER_HISTORY = 30;

/** One seller process of the demo. */
export interface SellerPlan {
  key: string;
  program:
    | "news-summarizer"
    | "price-oracle"
    | "sentiment-scorer"
    | "gas-tracker"
    | "portfolio-risk"
    | "quickstart-seller";
  name: string;
  priceUsd: string;
  failRate: string;
  /** How long its failing calls take before they fail, ms (default 0: at once). */
  failAfterMs?: number;
  /** The program's registration builder; the demo passes the name and price above. */
  manifest: (endpointUrl: string, overrides?: Partial<RegisterAgentRequest>) => RegisterAgentRequest;
  /** Other fields of its registration. */
  overrides?: Partial<RegisterAgentRequest>;
  /** The market's calls to it. */
  history: number;
  /** The market's input for call `n`. */
  input: (n: number) => unknown;
}

const TOPICS = ["bitcoin", "ethereum", "solana", "stablecoins", "regulation", "security", "markets", "defi"];
const pick = <T>(list: readonly T[], n: number): T => list[n % list.length] as T;
const summarizerInput = (n: number) =>
  n % 5 === 4 ? { text: pick(NEWS_FEED, n).body } : { topic: pick(TOPICS, n) };

export const SELLERS: readonly SellerPlan[] = [
  {
    key: "pro",
    program: "news-summarizer",
    name: "Crypto News Summarizer Pro",
    priceUsd: "0.020",
    failRate: "0",
    manifest: newsSummarizerManifest,
    history: SUMMARIZER_HISTORY,
    input: summarizerInput,
  },
  {
    key: "digest",
    program: "news-summarizer",
    name: "Crypto News Digest",
    priceUsd: "0.012",
    // Half its calls fail, after two seconds of waiting: free, but a buyer's time is not (call()
    // values it at $0.01 a second), so the Pro answers more cheaply per useful answer.
    failRate: "0.5",
    failAfterMs: 2_000,
    manifest: newsSummarizerManifest,
    overrides: {
      description: "The same crypto news summaries for less: three sentences and the top headlines.",
    },
    history: SUMMARIZER_HISTORY,
    input: summarizerInput,
  },
  {
    // The README quickstart's seller, listed minutes ago and cheaper: it summarizes a `text`, and
    // answers a `topic` with {"summary": "", "words": 0}, which its own output schema forbids. No
    // history: the ranking must not put it above the Pro on the strength of a prior alone.
    key: "lite",
    program: "quickstart-seller",
    name: "Crypto News Summarizer Lite",
    priceUsd: "0.015",
    failRate: "0",
    manifest: cryptoManifest({
      name: "Crypto News Summarizer Lite",
      description: "Summarizes crypto news for less: the first twelve words. Input: {text}.",
      tags: ["news", "summary"],
      priceUsd: "0.015",
    }),
    history: 0,
    input: summarizerInput,
  },
  {
    key: "price",
    program: "price-oracle",
    name: "Crypto Price Oracle",
    priceUsd: "0.002",
    failRate: "0",
    manifest: priceOracleManifest,
    history: OTHER_HISTORY,
    input: (n) => ({ symbol: pick([...PRICE_TABLE.keys()], n) }),
  },
  {
    key: "sentiment",
    program: "sentiment-scorer",
    name: "Crypto Sentiment Scorer",
    priceUsd: "0.004",
    failRate: "0",
    manifest: sentimentScorerManifest,
    history: OTHER_HISTORY,
    input: (n) => ({ text: pick(NEWS_FEED, n).headline }),
  },
  {
    key: "gas",
    program: "gas-tracker",
    name: "Gas Fee Tracker",
    priceUsd: "0.001",
    failRate: "0",
    manifest: gasTrackerManifest,
    history: OTHER_HISTORY,
    input: (n) => ({ chain: pick(["eth", "btc", "arbitrum", "base", "polygon", "sol"], n) }),
  },
  {
    key: "risk",
    program: "portfolio-risk",
    name: "Portfolio Risk Scorer",
    priceUsd: "0.010",
    failRate: "0",
    manifest: portfolioRiskManifest,
    history: OTHER_HISTORY,
    input: (n) => ({
      holdings: [
        { symbol: "BTC", amount: `0.${(n % 9) + 1}` },
        { symbol: "ETH", amount: String((n % 4) + 1) },
        { symbol: pick(["SOL", "USDC", "LINK"], n), amount: String(10 * ((n % 3) + 1)) },
      ],
    }),
  },
];
