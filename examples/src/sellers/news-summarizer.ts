// A crypto news summarizer: summarizes a fixed feed of crypto news (optionally one topic of it),
// or a text the buyer sends, into a short extractive summary and a list of headlines.
//
//   MERCATO_URL=http://127.0.0.1:4020 node examples/dist/sellers/news-summarizer.js --port 5051
import * as z from "zod";
import { isMainModule } from "../is-main-module.js";
import {
  cryptoManifest,
  runSellerProgram,
  type SellerDefinition,
  type SellerRunContext,
} from "./run-seller.js";

/** One story of the fixed feed. */
export interface NewsItem {
  id: string;
  /** Publication day, `YYYY-MM-DD`. */
  date: string;
  /** Lower-case topics the story is about (coins, themes). */
  topics: readonly string[];
  headline: string;
  body: string;
}

/** The feed the summarizer knows, newest first: no internet, the same answers every run. */
export const NEWS_FEED: readonly NewsItem[] = [
  {
    id: "n-012",
    date: "2025-06-30",
    topics: ["bitcoin", "etf", "markets"],
    headline: "Bitcoin ETFs log a record week of inflows",
    body: "Spot bitcoin ETFs took in 2.1 billion dollars this week, the most since their launch. Analysts tie the inflows to pension funds adding small allocations. Bitcoin closed the week up 6 percent.",
  },
  {
    id: "n-011",
    date: "2025-06-29",
    topics: ["ethereum", "upgrade", "fees"],
    headline: "Ethereum developers set a date for the next network upgrade",
    body: "Core developers scheduled the next Ethereum upgrade for the autumn after a successful test network fork. The upgrade raises the blob limit, which should cut fees on rollups again. Client teams asked node operators to update early.",
  },
  {
    id: "n-010",
    date: "2025-06-28",
    topics: ["solana", "defi", "markets"],
    headline: "Solana DeFi volume passes Ethereum for a second month",
    body: "Decentralized exchanges on Solana settled more volume than those on Ethereum for the second month in a row. Memecoin trading drove most of it. Fees on Solana stayed below one cent per swap.",
  },
  {
    id: "n-009",
    date: "2025-06-27",
    topics: ["security", "defi", "hack"],
    headline: "Lending protocol loses 14 million dollars to an oracle exploit",
    body: "An attacker manipulated a thin price feed to borrow 14 million dollars against worthless collateral. The protocol paused its markets and offered the attacker a bounty. Auditors said the oracle had no guard against sudden price jumps.",
  },
  {
    id: "n-008",
    date: "2025-06-26",
    topics: ["regulation", "stablecoins"],
    headline: "Lawmakers advance a stablecoin bill with reserve rules",
    body: "A committee approved a bill that requires stablecoin issuers to hold cash and short treasuries one for one. Issuers would publish monthly attestations of their reserves. The industry welcomed the clarity while consumer groups asked for stronger audits.",
  },
  {
    id: "n-007",
    date: "2025-06-25",
    topics: ["bitcoin", "mining"],
    headline: "Bitcoin miners sell less as hashprice recovers",
    body: "Public bitcoin miners sold fewer coins in June as transaction fees and the price lifted hashprice. Several miners said they now hold most of what they mine. Network difficulty rose to another record.",
  },
  {
    id: "n-006",
    date: "2025-06-24",
    topics: ["ethereum", "staking", "etf"],
    headline: "Asset managers ask to add staking to Ethereum ETFs",
    body: "Three asset managers filed to let their Ethereum ETFs stake part of their holdings. Staking would pass a yield of about 3 percent to fund holders. Regulators have not said when they will decide.",
  },
  {
    id: "n-005",
    date: "2025-06-23",
    topics: ["markets", "liquidations"],
    headline: "Futures liquidations top 500 million dollars in a sharp selloff",
    body: "Crypto futures traders lost more than 500 million dollars to liquidations as prices fell quickly overnight. Most of the liquidated positions were leveraged longs. Prices recovered half of the drop by the afternoon.",
  },
  {
    id: "n-004",
    date: "2025-06-22",
    topics: ["stablecoins", "payments"],
    headline: "Payment firms expand stablecoin settlement for merchants",
    body: "Two large payment processors now let merchants settle card sales in stablecoins. Merchants can receive funds on weekends and across borders within minutes. Adoption is strongest among online sellers in Latin America.",
  },
  {
    id: "n-003",
    date: "2025-06-21",
    topics: ["solana", "security", "outage"],
    headline: "Solana validators patch a bug before it could halt the network",
    body: "Solana validators rolled out a patch for a bug that could have stalled block production. The fix was coordinated privately and most stake upgraded within a day. No funds were at risk according to the core developers.",
  },
  {
    id: "n-002",
    date: "2025-06-20",
    topics: ["regulation", "exchanges"],
    headline: "Exchange settles a lawsuit over unregistered lending products",
    body: "A large exchange agreed to pay a fine to settle claims that its lending product was an unregistered security. The exchange did not admit wrongdoing. Customers who used the product will receive the remaining refunds this quarter.",
  },
  {
    id: "n-001",
    date: "2025-06-19",
    topics: ["bitcoin", "lightning", "payments"],
    headline: "Lightning payments grow as wallets add stablecoin support",
    body: "Monthly Lightning Network payments grew 40 percent after popular wallets added stablecoin transfers over the network. Routing fees stayed near zero. Developers expect more merchants to accept Lightning this year.",
  },
];

/** The input schema: a topic to filter the feed by, or a text to summarize instead. */
export const NewsSummaryInput = z.strictObject({
  topic: z.string().trim().min(1).max(100).optional(),
  text: z.string().trim().min(1).max(20_000).optional(),
});

/**
 * The output schema: the summarizer's answer, as its contract promises it. A summary is never
 * empty: a topic no story matches is answered with a sentence saying so.
 */
export const NewsSummaryOutput = z.strictObject({
  source: z.enum(["feed", "text"]).describe("What was summarized: the feed or the buyer's text"),
  topic: z.string().nullable(),
  summary: z.string().min(1).describe("Two or three sentences taken from the stories"),
  headlines: z.array(z.string().min(1)).max(5).describe("Headlines of the stories summarized, newest first"),
  items: z.number().int().nonnegative().describe("Stories (or sentences) read"),
  edition: z.string().min(1).describe("The seller's name"),
});

/** The summarizer's answer. */
export interface NewsSummary {
  /** What was summarized: the feed (all of it or one topic) or the buyer's text. */
  source: "feed" | "text";
  topic: string | null;
  /** Two or three sentences taken from the stories, in their order. */
  summary: string;
  /** Headlines of the stories summarized, newest first (at most five); the text's first sentence for a text. */
  headlines: string[];
  /** Stories (or sentences, for a text) read. */
  items: number;
  /** The seller's name, so a buyer can see which edition answered. */
  edition: string;
}

const DEFAULT_NAME = "Crypto News Summarizer";
const DEFAULT_PRICE = "0.020";
const MAX_HEADLINES = 5;
const SUMMARY_SENTENCES = 3;
const STOPWORDS = new Set(
  (
    "a an and are as at be been but by for from had has have he her his in into is it its of on or " +
    "our she so than that the their them they this to was were which while who will with would " +
    "after again all also more most not now over per same some such then there these those up very"
  ).split(" "),
);

/**
 * Summarizes the feed, one topic of it, or a given text. Deterministic: the same input always
 * gives the same answer. A topic matches a story's topics or a word of its headline, ignoring case;
 * a topic no story matches answers an empty summary rather than an error.
 *
 * @example summarizeNews({ topic: "bitcoin" }); // { source: "feed", headlines: ["Bitcoin ETFs log …", …], … }
 */
export function summarizeNews(
  input: z.output<typeof NewsSummaryInput>,
  context: SellerRunContext = { name: DEFAULT_NAME },
): NewsSummary {
  if (input.text !== undefined) {
    const sentences = splitSentences(input.text);
    return {
      source: "text",
      topic: input.topic ?? null,
      summary: extractSummary(sentences, SUMMARY_SENTENCES - 1),
      headlines: sentences.slice(0, 1),
      items: sentences.length,
      edition: context.name,
    };
  }
  const topic = input.topic?.toLowerCase();
  const stories = topic === undefined ? NEWS_FEED : NEWS_FEED.filter((item) => mentions(item, topic));
  if (stories.length === 0) {
    return {
      source: "feed",
      topic: input.topic ?? null,
      summary: `No story in the feed is about "${input.topic}".`,
      headlines: [],
      items: 0,
      edition: context.name,
    };
  }
  return {
    source: "feed",
    topic: input.topic ?? null,
    summary: extractSummary(
      stories.flatMap((story) => splitSentences(story.body)),
      SUMMARY_SENTENCES,
    ),
    headlines: stories.slice(0, MAX_HEADLINES).map((story) => story.headline),
    items: stories.length,
    edition: context.name,
  };
}

function mentions(item: NewsItem, topic: string): boolean {
  return item.topics.includes(topic) || words(item.headline).includes(topic);
}

/** Sentences of a text: split after `.`, `!` or `?` followed by a space. */
export function splitSentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+/)
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence !== "");
}

function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

/**
 * The `count` sentences whose words are most frequent across all of them (stopwords aside), kept
 * in their original order: a classic extractive summary. Ties go to the earlier sentence.
 */
export function extractSummary(sentences: readonly string[], count: number): string {
  const frequency = new Map<string, number>();
  for (const sentence of sentences) {
    for (const word of words(sentence)) {
      if (!STOPWORDS.has(word)) frequency.set(word, (frequency.get(word) ?? 0) + 1);
    }
  }
  const scored = sentences.map((sentence, index) => {
    const content = words(sentence).filter((word) => !STOPWORDS.has(word));
    const total = content.reduce((sum, word) => sum + (frequency.get(word) ?? 0), 0);
    // Averaged so that long sentences do not win by length alone.
    return { index, score: content.length === 0 ? 0 : total / content.length };
  });
  const chosen = scored
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, count)
    .sort((a, b) => a.index - b.index);
  return chosen.map(({ index }) => sentences[index]).join(" ");
}

/**
 * The summarizer's registration: category `crypto`, tags `news` and `summary`. `overrides`
 * replace fields, e.g. the name and price of a second edition of the same program.
 *
 * @example newsSummarizerManifest("http://127.0.0.1:5051/summarize", { name: "Crypto News Digest" });
 */
export const newsSummarizerManifest = cryptoManifest({
  name: DEFAULT_NAME,
  description:
    "Summarizes the day's crypto news (or your text) into three sentences and the top headlines. Input: {topic?, text?}.",
  tags: ["news", "summary", "nlp"],
  priceUsd: DEFAULT_PRICE,
});

/** The program: `node dist/sellers/news-summarizer.js`. */
export const newsSummarizer: SellerDefinition<typeof NewsSummaryInput, typeof NewsSummaryOutput> = {
  program: "news-summarizer",
  path: "/summarize",
  defaultName: DEFAULT_NAME,
  defaultPriceUsd: DEFAULT_PRICE,
  input: NewsSummaryInput,
  output: NewsSummaryOutput,
  handler: summarizeNews,
  manifest: newsSummarizerManifest,
};

if (isMainModule(import.meta.url, newsSummarizer.program)) await runSellerProgram(newsSummarizer);
