// A sentiment scorer for crypto text: a fixed lexicon of market words, negation ("not bullish"),
// a score in [-1, 1] and a label.
//
//   MERCATO_URL=http://127.0.0.1:4020 node examples/dist/sellers/sentiment-scorer.js --port 5053
import * as z from "zod";
import { isMainModule } from "../is-main-module.js";
import { cryptoManifest, runSellerProgram, type SellerDefinition } from "./run-seller.js";

/** Word weights from −3 (very negative) to +3 (very positive), lower case. */
export const LEXICON: ReadonlyMap<string, number> = new Map([
  ["bullish", 3],
  ["moon", 3],
  ["soar", 3],
  ["soars", 3],
  ["record", 2],
  ["rally", 2],
  ["rallies", 2],
  ["surge", 2],
  ["surges", 2],
  ["gain", 2],
  ["gains", 2],
  ["inflows", 2],
  ["approval", 2],
  ["approved", 2],
  ["adoption", 2],
  ["breakout", 2],
  ["upgrade", 1],
  ["rise", 1],
  ["rises", 1],
  ["rose", 1],
  ["up", 1],
  ["growth", 1],
  ["grow", 1],
  ["grows", 1],
  ["partnership", 1],
  ["recover", 1],
  ["recovers", 1],
  ["recovered", 1],
  ["welcome", 1],
  ["welcomed", 1],
  ["stable", 1],
  ["down", -1],
  ["fall", -1],
  ["falls", -1],
  ["fell", -1],
  ["drop", -1],
  ["drops", -1],
  ["outflows", -2],
  ["fine", -1],
  ["delay", -1],
  ["delayed", -1],
  ["lawsuit", -2],
  ["ban", -2],
  ["banned", -2],
  ["selloff", -2],
  ["liquidations", -2],
  ["liquidated", -2],
  ["outage", -2],
  ["plunge", -2],
  ["plunges", -2],
  ["loss", -2],
  ["losses", -2],
  ["lost", -2],
  ["bearish", -3],
  ["crash", -3],
  ["crashes", -3],
  ["hack", -3],
  ["hacked", -3],
  ["exploit", -3],
  ["fraud", -3],
  ["scam", -3],
  ["rugpull", -3],
  ["bankrupt", -3],
  ["bankruptcy", -3],
]);

/** Words that flip the weight of the next lexicon word within three words. */
const NEGATORS = new Set(["not", "no", "never", "without", "hardly", "isn't", "wasn't", "don't", "didn't"]);
const NEGATION_REACH = 3;
/** How fast the score saturates: sum / sqrt(sum² + ALPHA), as VADER normalizes. */
const ALPHA = 15;
/** Scores within ±THRESHOLD are neutral. */
const THRESHOLD = 0.05;

/** The input schema: the text to score. */
export const SentimentInput = z.strictObject({ text: z.string().trim().min(1).max(20_000) });

/** The output schema: the scorer's answer, as its contract promises it. */
export const SentimentOutput = z.strictObject({
  score: z.number().min(-1).max(1).describe("From −1 (very negative) to 1 (very positive)"),
  label: z.enum(["positive", "neutral", "negative"]),
  matches: z
    .array(z.strictObject({ word: z.string().min(1), weight: z.number() }))
    .describe("Lexicon words found, with the weight each counted for"),
  words: z.number().int().nonnegative().describe("Words read"),
});

/** The scorer's answer. */
export interface SentimentScore {
  /** From −1 (very negative) to 1 (very positive), four decimals. */
  score: number;
  label: "positive" | "neutral" | "negative";
  /** Lexicon words found, with the weight each counted for (negative when negated). */
  matches: { word: string; weight: number }[];
  /** Words read. */
  words: number;
}

/**
 * Scores the sentiment of a text with the lexicon: the weights of the words found (flipped after a
 * negator such as "not"), summed and squashed into [-1, 1]. Deterministic.
 *
 * @example scoreSentiment({ text: "Bitcoin rallies to a record" }); // { score: 0.7171, label: "positive", … }
 */
export function scoreSentiment(input: z.output<typeof SentimentInput>): SentimentScore {
  const tokens = input.text.toLowerCase().match(/[a-z0-9']+/g) ?? [];
  const matches: { word: string; weight: number }[] = [];
  let negatedUntil = -1;
  tokens.forEach((token, index) => {
    if (NEGATORS.has(token)) {
      negatedUntil = index + NEGATION_REACH;
      return;
    }
    const weight = LEXICON.get(token);
    if (weight === undefined) return;
    const negated = index <= negatedUntil;
    matches.push({ word: token, weight: negated ? -weight : weight });
    if (negated) negatedUntil = -1;
  });
  const sum = matches.reduce((total, match) => total + match.weight, 0);
  const score = sum === 0 ? 0 : Math.round((sum / Math.sqrt(sum * sum + ALPHA)) * 10_000) / 10_000;
  const label = score > THRESHOLD ? "positive" : score < -THRESHOLD ? "negative" : "neutral";
  return { score, label, matches, words: tokens.length };
}

const DEFAULT_NAME = "Crypto Sentiment Scorer";
const DEFAULT_PRICE = "0.004";

/**
 * The scorer's registration: category `crypto`, tags `sentiment` and `nlp`; `overrides` replace fields.
 *
 * @example sentimentScorerManifest("http://127.0.0.1:5053/sentiment");
 */
export const sentimentScorerManifest = cryptoManifest({
  name: DEFAULT_NAME,
  description:
    "Lexicon-based sentiment of crypto news or posts: a score from -1 to 1, a label and the words that counted. Input: {text}.",
  tags: ["sentiment", "nlp", "news"],
  priceUsd: DEFAULT_PRICE,
});

/** The program: `node dist/sellers/sentiment-scorer.js`. */
export const sentimentScorer: SellerDefinition<typeof SentimentInput, typeof SentimentOutput> = {
  program: "sentiment-scorer",
  path: "/sentiment",
  defaultName: DEFAULT_NAME,
  defaultPriceUsd: DEFAULT_PRICE,
  input: SentimentInput,
  output: SentimentOutput,
  handler: scoreSentiment,
  manifest: sentimentScorerManifest,
};

if (isMainModule(import.meta.url, sentimentScorer.program)) await runSellerProgram(sentimentScorer);
