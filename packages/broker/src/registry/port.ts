import type {
  AgentContractRecord,
  AgentPatch,
  AgentRecord,
  AgentSearch,
  AgentSearchPage,
  EndpointProofRecord,
  ListingLimits,
  NewAgent,
  PriceHistoryRecord,
} from "./records.js";

export type {
  AgentContractRecord,
  AgentPatch,
  AgentRecord,
  AgentSchemasPatch,
  AgentSearch,
  AgentSearchPage,
  AgentStatusValue,
  EndpointProofRecord,
  ListingLimits,
  NewAgent,
  PriceHistoryRecord,
  PricingRecord,
  SearchSortValue,
} from "./records.js";

/** The agent registry: listings, their contracts, prices and endpoint proofs, and search. */
export interface RegistryStore {
  /**
   * Registers an agent.
   *
   * @throws MercatoError `LISTING_LIMIT_REACHED` when its owner already has `limits.maxListings`
   *   agents that are not deactivated (checked atomically: concurrent registrations cannot pass it).
   */
  insertAgent(agent: NewAgent, limits?: ListingLimits): Promise<AgentRecord>;
  getAgent(id: string): Promise<AgentRecord | undefined>;
  /** A listing's contract schemas (undefined: no such agent). */
  getAgentContract(id: string): Promise<AgentContractRecord | undefined>;
  /**
   * Applies a patch; undefined when no such agent. A pricing change is added to the price history.
   *
   * @throws MercatoError `LISTING_LIMIT_REACHED` when the patch re-activates a deactivated agent
   *   whose owner already has `limits.maxListings` agents that are not deactivated.
   */
  updateAgent(
    id: string,
    patch: AgentPatch,
    at: string,
    limits?: ListingLimits,
  ): Promise<AgentRecord | undefined>;
  /** Price history, newest first. */
  listPriceHistory(agentId: string): Promise<PriceHistoryRecord[]>;
  searchAgents(search: AgentSearch): Promise<AgentSearchPage>;
  /** Categories of listed (not inactive) agents, most agents first. */
  listCategories(): Promise<Array<{ category: string; count: number }>>;
  /**
   * Sets an agent's endpoint proof (the fields given; the others kept) and, with `status`, its
   * status too, in one write. With `ifEndpoint`, nothing changes unless the agent's endpoint is still
   * that one (a proof of an endpoint the owner has since moved from is dropped). Undefined when no
   * such agent or the endpoint moved.
   */
  setEndpointProof(
    agentId: string,
    proof: Partial<EndpointProofRecord>,
    options: { status?: "active" | "inactive"; ifEndpoint?: string; at: string },
  ): Promise<AgentRecord | undefined>;
  /**
   * Listings made before endpoint proofs (a grace period) whose endpoint is still unproven and was
   * not checked since `checkedBefore`, the least recently checked first, at most `limit`.
   */
  listGraceEndpoints(checkedBefore: string, limit: number): Promise<AgentRecord[]>;
}

/**
 * The listings' up/down status, as the health checker reads and flips it (the metrics module's
 * port declares these methods; the registry's adapters implement them on the `agents` table).
 */
export interface AgentStatusStore {
  /** Agents to health-check: every agent listed as up (`active`) or `down`. */
  listHealthCheckTargets(): Promise<Array<{ id: string; apiEndpoint: string; status: "active" | "down" }>>;
  /** Marks an agent up (`active`) or `down`; false (nothing changed) when it is deactivated, missing or already so. */
  setAgentHealthStatus(agentId: string, status: "active" | "down", at: string): Promise<boolean>;
}
