import { MercatoError, parseUsd, type SearchAgentsQuery } from "@mercato/protocol";
import type * as z from "zod";
import type { AgentSearchPage, RegistryStore } from "./port.js";
import { searchWords } from "./search-terms.js";

/** Results per search page when the query names no `limit`. */
export const DEFAULT_SEARCH_PAGE_SIZE = 20;
/** Tags one search may require. */
const MAX_SEARCH_TAGS = 20;

/**
 * A search of the listings as `GET /agents/search` reads its query (tags comma-separated or
 * repeated, words of `q`, a USD price ceiling): what the route and the A2A marketplace's `search`
 * skill answer from.
 * @throws MercatoError `VALIDATION_ERROR` for more than 20 tags.
 */
export function searchListings(
  store: Pick<RegistryStore, "searchAgents">,
  query: z.output<typeof SearchAgentsQuery>,
): Promise<AgentSearchPage> {
  const tags = (Array.isArray(query.tags) ? query.tags : query.tags ? [query.tags] : [])
    .flatMap((value) => value.split(","))
    .map((tag) => tag.trim().toLowerCase())
    .filter((tag) => tag !== "");
  if (tags.length > MAX_SEARCH_TAGS) {
    throw new MercatoError("VALIDATION_ERROR", `Invalid query: tags: at most ${MAX_SEARCH_TAGS} tags`, {
      details: { issues: [{ path: "tags", message: `at most ${MAX_SEARCH_TAGS} tags` }] },
    });
  }
  const words = query.q === undefined ? [] : searchWords(query.q);
  return store.searchAgents({
    ...(query.category !== undefined && { category: query.category }),
    ...(tags.length > 0 && { tags: [...new Set(tags)] }),
    ...(words.length > 0 && { words }),
    ...(query.max_price !== undefined && { maxPriceMicros: Number(parseUsd(query.max_price)) }),
    ...(query.min_trust !== undefined && { minTrust: query.min_trust }),
    ...(query.cursor !== undefined && { cursor: query.cursor }),
    sort: query.sort ?? "cost_per_success",
    limit: query.limit ?? DEFAULT_SEARCH_PAGE_SIZE,
  });
}
