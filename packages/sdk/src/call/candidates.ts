import { MercatoError } from "@mercato/protocol/errors";
import { formatUsd, parseUsd } from "@mercato/protocol/money";
import { nonNegativeNumber, positiveInt } from "./checks.js";
import { checkedShare, type Ranking, type RankOptions, SELECTION, type Selector } from "./selection.js";
import type { CallOptions, CallTransport, SearchResult } from "./types.js";

const DEFAULT_CANDIDATES = 3;
/** Listings a call's search reads: enough that a new listing, last in the broker's order, is seen. */
const SEARCH_LIMIT = 50;

/** What a call's search and ranking go by: its options, checked, with the client's defaults. */
export interface CandidateQuery extends RankOptions {
  /** How many of the best-ranked agents to try. */
  wanted: number;
  /** The price ceiling, micro-USD. */
  maxPrice: bigint | undefined;
  minTrust: number | undefined;
}

/**
 * Reads the options a call's search and ranking go by.
 * @throws MercatoError `VALIDATION_ERROR` or `INVALID_AMOUNT` for an option out of range.
 */
export function candidateQuery(options: CallOptions, clientExplore: number): CandidateQuery {
  const explore = checkedShare(options.explore ?? clientExplore, "explore");
  const timeValueUsdPerSecond = nonNegativeNumber(
    options.timeValueUsdPerSecond ?? SELECTION.timeValueUsdPerSecond,
    "timeValueUsdPerSecond",
  );
  const maxLatencyMs =
    options.maxLatencyMs === undefined ? undefined : nonNegativeNumber(options.maxLatencyMs, "maxLatencyMs");
  const wanted = positiveInt(options.candidates ?? DEFAULT_CANDIDATES, "candidates");
  const maxPrice = options.maxPricePerCall === undefined ? undefined : parseUsd(options.maxPricePerCall);
  return { explore, timeValueUsdPerSecond, maxLatencyMs, wanted, maxPrice, minTrust: options.minTrustScore };
}

/**
 * The agents a call tries, in order: those the search finds that pass the filters, price ceiling and
 * trust floor, ranked by expected cost per useful answer (the broker's figures blended with what
 * this client has seen, see ./selection.ts), exploration included, the `wanted` first.
 * @throws MercatoError `NO_CANDIDATES` when none is left.
 */
export async function findCandidates(
  transport: CallTransport,
  selector: Selector,
  options: CallOptions,
  query: CandidateQuery,
): Promise<Ranking<SearchResult>> {
  const { maxPrice, minTrust } = query;
  const page = await transport.search({
    sort: "cost_per_success",
    limit: Math.min(100, Math.max(SEARCH_LIMIT, query.wanted * 2)),
    ...(options.category !== undefined && { category: options.category }),
    ...(options.tags !== undefined && options.tags.length > 0 && { tags: options.tags }),
    ...(options.query !== undefined && { q: options.query }),
    ...(maxPrice !== undefined && { max_price: formatUsd(maxPrice) }),
    ...(minTrust !== undefined && { min_trust: minTrust }),
  });
  // The broker filters and sorts too; checked again here because the price ceiling is a promise
  // about money, and the broker's order breaks ties in this client's ranking.
  const listed = page.results
    .filter((agent) => agent.status !== "inactive")
    .filter((agent) => options.agentIds === undefined || options.agentIds.includes(agent.agent_id))
    .filter((agent) => maxPrice === undefined || parseUsd(agent.price_per_call) <= maxPrice)
    .filter((agent) => minTrust === undefined || agent.trust_score >= minTrust)
    .sort((a, b) => a.cost_per_success - b.cost_per_success);
  const ranking = selector.rank(listed, query);
  const order = ranking.order.slice(0, query.wanted);
  if (order.length === 0) {
    throw new MercatoError(
      "NO_CANDIDATES",
      "No listed agent matches the call's filters, price ceiling, trust floor and latency ceiling",
      {
        details: { filters: describeFilters(options) },
      },
    );
  }
  return { ...ranking, order };
}

function describeFilters(options: CallOptions): Record<string, unknown> {
  return {
    ...(options.category !== undefined && { category: options.category }),
    ...(options.tags !== undefined && { tags: options.tags }),
    ...(options.query !== undefined && { query: options.query }),
    ...(options.agentIds !== undefined && { agent_ids: options.agentIds }),
    ...(options.maxPricePerCall !== undefined && { max_price_per_call: String(options.maxPricePerCall) }),
    ...(options.minTrustScore !== undefined && { min_trust_score: options.minTrustScore }),
    ...(options.maxLatencyMs !== undefined && { max_latency_ms: options.maxLatencyMs }),
  };
}
