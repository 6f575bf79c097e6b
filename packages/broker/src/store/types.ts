import type { AgentCounters, AgentScores } from "@mercato/protocol";
import type { KeyKind } from "../auth/api-keys.js";

/** A marketplace account. Times are ISO 8601 strings in UTC throughout the store. */
export interface AccountRecord {
  id: string;
  name: string;
  email: string | null;
  createdAt: string;
}

/** An API key as stored: its SHA-256, never the secret. */
export interface ApiKeyRecord {
  id: string;
  accountId: string;
  kind: KeyKind;
  name: string | null;
  prefix: string;
  hash: string;
  /** For access keys: the one agent the key may invoke. */
  agentId: string | null;
  /** Calls per minute; null for the broker's default. */
  rateLimit: number | null;
  expiresAt: string | null;
  createdAt: string;
  revokedAt: string | null;
}

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
}

/** A new agent: what registration decides; counters start at zero. */
export type NewAgent = Omit<AgentRecord, "counters" | "scores" | "metricsUpdatedAt" | "updatedAt">;

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

/** The outcome of one measured call, as the invoke path records it. */
export interface CallOutcome {
  agentId: string;
  success: boolean;
  responseTimeMs: number;
}

/** The outcome of one health check. */
export interface HealthCheckOutcome {
  agentId: string;
  healthy: boolean;
}

/**
 * The broker's persistence. Async so that a networked database (PostgreSQL) can implement it;
 * every implementation must pass the conformance suite in `conformance.ts`.
 */
export interface Store {
  /** Creates an account together with its first account key, atomically. */
  createAccount(account: AccountRecord, firstKey: ApiKeyRecord): Promise<void>;
  getAccount(id: string): Promise<AccountRecord | undefined>;

  insertApiKey(key: ApiKeyRecord): Promise<void>;
  /** Looks a key up by its SHA-256 (revoked and expired keys included: the caller decides). */
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  /** An account's keys, newest first. */
  listApiKeys(accountId: string): Promise<ApiKeyRecord[]>;
  /** Revokes a key at `at`; a key already revoked keeps its first revocation time. */
  revokeApiKey(id: string, at: string): Promise<ApiKeyRecord | undefined>;
  /** Revokes `oldId` and inserts `replacement` in one transaction; false when `oldId` was already revoked. */
  rotateApiKey(oldId: string, replacement: ApiKeyRecord, at: string): Promise<boolean>;

  insertAgent(agent: NewAgent): Promise<AgentRecord>;
  getAgent(id: string): Promise<AgentRecord | undefined>;
  /** Applies a patch; undefined when no such agent. A pricing change is added to the price history. */
  updateAgent(id: string, patch: AgentPatch, at: string): Promise<AgentRecord | undefined>;
  /** Price history, newest first. */
  listPriceHistory(agentId: string): Promise<PriceHistoryRecord[]>;
  searchAgents(search: AgentSearch): Promise<AgentSearchPage>;
  /** Categories of listed (not inactive) agents, most agents first. */
  listCategories(): Promise<Array<{ category: string; count: number }>>;

  /** Adds measured call outcomes to the agents' counters and refreshes their ranking figures. */
  recordCallOutcomes(outcomes: CallOutcome[], at: string): Promise<void>;
  /** Adds health-check outcomes to the agents' counters and refreshes their ranking figures. */
  recordHealthChecks(outcomes: HealthCheckOutcome[], at: string): Promise<void>;

  close(): Promise<void>;
}
