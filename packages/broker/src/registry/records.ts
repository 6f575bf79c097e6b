import type { AgentCounters, AgentScores } from "@mercato/protocol";

// The records the registry module owns; its port (the store interface) is in port.ts.

/** Agent status: listed and callable, listed but failing health checks, or deactivated. */
export type AgentStatusValue = "active" | "down" | "inactive";

/** An agent's current price. `priceMicros` is an integer number of micro-USD. */
export interface PricingRecord {
  model: "per_call";
  priceMicros: number;
  currency: "USD";
  tier: string;
  minCalls: number;
}

/**
 * What the broker knows of a listing's endpoint control: when the endpoint last proved it serves
 * this listing (null: never, for its current endpoint), the token of a pending challenge, the end
 * of a pre-verification listing's grace period, and the last attempt.
 */
export interface EndpointProofRecord {
  verifiedAt: string | null;
  challenge: string | null;
  graceUntil: string | null;
  checkedAt: string | null;
  error: string | null;
}

/** A registered agent with its pricing, raw counters and the ranking figures derived from them. */
export interface AgentRecord {
  id: string;
  ownerId: string;
  name: string;
  description: string;
  category: string;
  tags: string[];
  version: string;
  apiEndpoint: string;
  status: AgentStatusValue;
  pricing: PricingRecord;
  counters: AgentCounters;
  scores: AgentScores;
  metricsUpdatedAt: string;
  createdAt: string;
  updatedAt: string;
  /** Endpoint control (see {@link EndpointProofRecord}). */
  endpoint: EndpointProofRecord;
  /** Which of the listing's contract schemas it has (the schemas themselves: `getAgentContract`). */
  contract: { input: boolean; output: boolean };
}

/**
 * A listing's contract as stored: its input and output JSON Schemas, each the JSON text the broker
 * checked at registration (null: none), and `updatedAt`, the listing's version they belong to.
 */
export interface AgentContractRecord {
  inputSchema: string | null;
  outputSchema: string | null;
  updatedAt: string;
}

/** Contract schemas to store, as checked JSON text; `null` removes one, a field left out is kept. */
export interface AgentSchemasPatch {
  input?: string | null;
  output?: string | null;
}

/**
 * A new agent: what registration decides; counters start at zero. Without `endpoint`, the endpoint
 * is unproven and has no challenge.
 */
export type NewAgent = Omit<
  AgentRecord,
  "counters" | "scores" | "metricsUpdatedAt" | "updatedAt" | "endpoint" | "contract"
> & {
  endpoint?: EndpointProofRecord;
  /** The contract's schemas, as checked JSON text; none without. */
  schemas?: AgentSchemasPatch;
};

/** Fields an owner may change. A pricing change starts a new price-history entry. */
export interface AgentPatch {
  name?: string;
  description?: string;
  category?: string;
  tags?: string[];
  version?: string;
  apiEndpoint?: string;
  status?: "active" | "inactive";
  pricing?: PricingRecord;
  /** The contract's schemas (see {@link AgentSchemasPatch}). */
  schemas?: AgentSchemasPatch;
}

/** One price an agent asked, and when. */
export interface PriceHistoryRecord {
  priceMicros: number;
  currency: "USD";
  tier: string;
  minCalls: number;
  effectiveFrom: string;
  effectiveTo: string | null;
}

/** Search orders; `cost_per_success` is the default. */
export type SearchSortValue = "cost_per_success" | "trust_score_desc" | "price_asc" | "response_time_asc";

/** A registry search. Every filter is optional; inactive agents are never returned. */
export interface AgentSearch {
  category?: string;
  /** The agent must have every one of these tags. */
  tags?: string[];
  /** Words that must all appear (as word prefixes) in the name, description or tags. */
  words?: string[];
  maxPriceMicros?: number;
  minTrust?: number;
  sort: SearchSortValue;
  limit: number;
  /** Opaque position from a previous page's `nextCursor`. */
  cursor?: string;
}

/** A page of search results. */
export interface AgentSearchPage {
  agents: AgentRecord[];
  nextCursor: string | null;
}

/** Limits on an account's listings, checked atomically with the write that would pass them. */
export interface ListingLimits {
  /** Most agents not deactivated one owner may have; undefined or 0: no limit. */
  maxListings?: number;
}
