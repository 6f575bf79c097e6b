import type { AgentCounters, AgentScores, RankedCalls } from "@mercato/protocol";
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
  /**
   * Access keys: the most the key may ever spend, in micros (captured charges plus holds in flight);
   * null for no cap of its own. Always null for account keys.
   */
  spendCap: number | null;
  /** When fraud detection suspended the key (it answers `KEY_SUSPENDED` until reinstated); null otherwise. */
  suspendedAt: string | null;
  suspendReason: string | null;
  expiresAt: string | null;
  createdAt: string;
  revokedAt: string | null;
}

/** What `updateApiKey` may change; `null` clears a field. */
export interface ApiKeyPatch {
  name?: string | null;
  rateLimit?: number | null;
  spendCap?: number | null;
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

/**
 * How a measured call ended, by whose fault:
 * - `success`: the seller answered and was paid.
 * - `failure`: the seller's fault (a 5xx, a timeout, unreachable, an invalid answer, any 4xx that
 *   is not the seller kit's refusal of invalid input). Lowers the agent's success rate.
 * - `client_error`: the buyer's fault (input the seller kit refused as invalid, `400
 *   VALIDATION_ERROR`, or input the broker itself refused for an agent the key may call). Never
 *   counts in the success rate or the calls behind it; counted apart (`client_errors`).
 */
export type CallOutcomeKind = "success" | "failure" | "client_error";

/**
 * The outcome of one measured call, as the invoke path (and direct-mode usage reports) record it.
 * Calls between accounts of the agent's owner are never recorded (no wash trading).
 */
export interface CallOutcome {
  agentId: string;
  /** The buying account: its calls' weight in the ranking is capped per buyer (see `BUYER_WEIGHT`). */
  buyerId: string;
  outcome: CallOutcomeKind;
  /** How long the seller took; not counted for a `client_error`. */
  responseTimeMs: number;
}

/** The outcome of one health check. */
export interface HealthCheckOutcome {
  agentId: string;
  healthy: boolean;
}

/** The windows an agent's metrics are reported over. */
export type MetricsWindow = "24h" | "7d" | "30d";

/**
 * An agent's measured figures over one window, summed exactly from time buckets (raw, not
 * smoothed). Response-time percentiles come from a fixed histogram (see the metrics schema).
 */
export interface AgentWindowMetrics {
  agentId: string;
  window: MetricsWindow;
  /** Start and end of the window (ISO 8601). */
  from: string;
  to: string;
  /** Calls measured: successes and seller failures (client errors are apart). */
  calls: number;
  successes: number;
  /** Calls that failed by the buyer's fault (see {@link CallOutcomeKind}): not in `calls`. */
  clientErrors: number;
  /**
   * Over the ranking window (30d) only, null otherwise: the window's calls and successes with each
   * buyer's weight capped (`cappedBuyerWeights`), from which the ranked success rate is smoothed.
   */
  ranked: RankedCalls | null;
  /** Null when there were no calls in the window. */
  meanResponseTimeMs: number | null;
  p50ResponseTimeMs: number | null;
  p95ResponseTimeMs: number | null;
  healthChecks: number;
  healthyChecks: number;
}

/** An agent the health checker visits. */
export interface HealthCheckTarget {
  id: string;
  apiEndpoint: string;
  status: "active" | "down";
}

/** Limits on an account's listings, checked atomically with the write that would pass them. */
export interface ListingLimits {
  /** Most agents not deactivated one owner may have; undefined or 0: no limit. */
  maxListings?: number;
}

/**
 * A broker's claim to health-check one endpoint now. Brokers sharing a store check each endpoint at
 * most once per interval between them, and one host at most `perHost` times per interval window.
 */
export interface HealthCheckClaim {
  /** The endpoint's health URL (`GET {api_endpoint}/health`), the same for every listing of it. */
  endpoint: string;
  /** Its host name, lowercase, without port: what `perHost` counts. */
  host: string;
  /** Now, ms since the epoch. */
  at: number;
  /**
   * The health-check interval, ms: the endpoint must not have been claimed in the last
   * `intervalMs`, and its host's checks are counted per window `[k·intervalMs, (k+1)·intervalMs)`.
   */
  intervalMs: number;
  /** Most checks of `host` in one window, by every broker on the store. */
  perHost: number;
}

/**
 * `granted`: check it now; `checked`: some broker claimed it less than an interval ago;
 * `host_busy`: its host has had `perHost` checks in this window.
 */
export type HealthClaimResult = "granted" | "checked" | "host_busy";

/** An endpoint's failed health checks in a row, after a check and before it. */
export interface EndpointHealth {
  failures: number;
  previousFailures: number;
}

/** Where a seller wants alerts about an agent. */
export interface AlertChannelsRecord {
  agentId: string;
  /** A Slack incoming-webhook URL. */
  slackWebhookUrl: string | null;
  email: string | null;
  /** Alert when the last hour's success rate falls below this (0–1); null: never. */
  successRateThreshold: number | null;
  updatedAt: string;
}

/**
 * The broker's persistence. Async so that a networked database (PostgreSQL) can implement it;
 * every implementation must pass the conformance suite in `conformance.ts`.
 */
export interface Store extends LedgerStore, PayoutDestinationStore, GrantStore {
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
  /**
   * Revokes `oldId` and inserts `replacement` in one transaction; false when `oldId` was already
   * revoked. The replacement's spending starts at the old key's (captured plus in flight), so that
   * rotating a key does not reset its spend cap.
   */
  rotateApiKey(oldId: string, replacement: ApiKeyRecord, at: string): Promise<boolean>;
  /** Changes a key's name, rate limit or spend cap (a field left out is kept); undefined when no such key. */
  updateApiKey(id: string, patch: ApiKeyPatch): Promise<ApiKeyRecord | undefined>;

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

  /** Adds measured call outcomes to the agents' counters and refreshes their ranking figures. */
  recordCallOutcomes(outcomes: CallOutcome[], at: string): Promise<void>;
  /** Adds health-check outcomes to the agents' counters and refreshes their ranking figures. */
  recordHealthChecks(outcomes: HealthCheckOutcome[], at: string): Promise<void>;
  /** An agent's figures over a window ending at `now`. */
  getAgentMetrics(agentId: string, window: MetricsWindow, now: string): Promise<AgentWindowMetrics>;
  /**
   * Recomputes the ranking figures (trust score, cost per success) of the given agents, or of every
   * agent measured in the last 30 days, from their windows as of `now`; returns how many changed.
   */
  refreshScores(now: string, agentIds?: string[]): Promise<number>;
  /** Agents to health-check: every agent listed as up (`active`) or `down`. */
  listHealthCheckTargets(): Promise<HealthCheckTarget[]>;
  /**
   * Claims one health check of an endpoint, atomically across every broker on the store: granted
   * at most once per endpoint per interval, and at most `perHost` times per host per window.
   */
  claimHealthCheck(claim: HealthCheckClaim): Promise<HealthClaimResult>;
  /**
   * Records the result of an endpoint's check: its count of failures in a row, shared by every
   * broker on the store (so that checks made by different brokers add up), after and before.
   */
  recordEndpointHealth(endpoint: string, host: string, healthy: boolean, at: string): Promise<EndpointHealth>;
  /** Marks an agent up (`active`) or `down`; false (nothing changed) when it is deactivated, missing or already so. */
  setAgentHealthStatus(agentId: string, status: "active" | "down", at: string): Promise<boolean>;

  /** Sets (or with null removes) an agent's alert channels. */
  setAlertChannels(agentId: string, channels: Omit<AlertChannelsRecord, "agentId"> | null): Promise<void>;
  getAlertChannels(agentId: string): Promise<AlertChannelsRecord | undefined>;

  /** Suspends an access key (fraud detection); false when it was already suspended or revoked. */
  suspendApiKey(id: string, at: string, reason: string): Promise<boolean>;
  /** Lifts a suspension; false when the key was not suspended. */
  reinstateApiKey(id: string): Promise<boolean>;

  close(): Promise<void>;
}

/** Ledger account kinds: one wallet and one earnings account per marketplace account, two system accounts. */
export type LedgerAccountKind = "wallet" | "earnings" | "platform_revenue" | "external";

/** Transfer kinds: what moved the money. */
export type TransferKind = "topup" | "hold" | "capture" | "void" | "fee" | "payout" | "refund";

/** A charge: one hold on a buyer's wallet and how it resolved. Amounts are integer micro-USD. */
export interface ChargeRecord {
  /** The hold's transfer id, chosen by the caller; the transaction id users see. */
  id: string;
  buyerId: string;
  sellerAccountId: string;
  agentId: string;
  keyId: string | null;
  held: number;
  captured: number;
  fee: number;
  status: "pending" | "completed" | "voided";
  expiresAt: string;
  createdAt: string;
  resolvedAt: string | null;
  /**
   * Set on the answer to a hold whose id was already placed, by this process or another: the
   * charge as it stands, which this request did not place and must not resolve.
   */
  replayed?: true;
}

/** Places a pending hold of `amount` on the buyer's wallet toward a seller's earnings. */
export interface HoldRequest {
  /** Transfer id chosen by the caller: the same id with the same fields returns the first result. */
  id: string;
  buyerId: string;
  sellerAccountId: string;
  agentId: string;
  keyId?: string | null;
  /**
   * The key's own spend cap, in micros: the hold is refused with `SPEND_CAP_EXCEEDED` when the key's
   * spending (captured plus held, see `getKeySpend`) plus `amount` would pass it. Needs `keyId`.
   */
  keySpendCap?: number | null;
  /**
   * A cap on what the buyer may spend per UTC day (captured plus held), in micros: the new-account
   * limit. The hold is refused with `SPEND_CAP_EXCEEDED` (details name the daily limit) past it.
   */
  dailyCap?: number | null;
  amount: number;
  expiresAt: string;
  at: string;
}

/** Posts a hold: charges `amount` (≤ held), releases the rest, pays the fee, all at once. */
export interface CaptureRequest {
  id: string;
  holdId: string;
  amount: number;
  at: string;
}

/** Voids a hold: the buyer pays nothing. */
export interface VoidRequest {
  id: string;
  holdId: string;
  at: string;
}

/** A wallet's and earnings account's figures, in micros. */
export interface BalanceRecord {
  accountId: string;
  available: number;
  held: number;
  earnings: number;
  monthlyCap: number | null;
  spentThisMonth: number;
}

/** A top-up through a payment provider. */
export interface TopupRecord {
  id: string;
  accountId: string;
  amount: number;
  provider: string;
  providerRef: string | null;
  checkoutUrl: string | null;
  status: "pending" | "succeeded" | "failed";
  createdAt: string;
  completedAt: string | null;
}

/** What `completeTopup` did: the top-up as it stands, and whether this call credited the wallet. */
export interface TopupCompletion {
  topup: TopupRecord;
  /** True for exactly one of any number of completions of a top-up, however concurrent. */
  credited: boolean;
}

/** One seller's payout for one settlement date. */
export interface SettlementRecord {
  id: string;
  accountId: string;
  settlementDate: string;
  amount: number;
  provider: string;
  providerRef: string | null;
  status: "pending" | "paid" | "failed";
  failure: string | null;
  createdAt: string;
  paidAt: string | null;
}

/** The ledger audit's findings; `ok` when there are no violations. */
export interface AuditRecord {
  ok: boolean;
  accounts: number;
  transfers: number;
  totals: {
    toppedUp: number;
    paidOut: number;
    wallets: number;
    held: number;
    earnings: number;
    revenue: number;
  };
  violations: Array<{ rule: string; detail: string }>;
}

/** A broker signing key (Ed25519), as JWKs. */
export interface SigningKeyRecord {
  kid: string;
  privateJwk: string;
  publicJwk: string;
  createdAt: string;
}

/**
 * The double-entry ledger: accounts with pending and posted debits and
 * credits, immutable transfers with caller-chosen ids, two-phase holds.
 */
export interface LedgerStore {
  /** Credits a wallet from outside (a top-up), once per transfer id. */
  credit(request: {
    id: string;
    accountId: string;
    amount: number;
    reference: string;
    at: string;
  }): Promise<void>;
  /**
   * @throws MercatoError `INSUFFICIENT_FUNDS`, `SPEND_CAP_EXCEEDED`, `CONFLICT` (id reused with other fields).
   */
  hold(request: HoldRequest): Promise<ChargeRecord>;
  /** @throws MercatoError `NOT_FOUND`, `CONFLICT` (resolved, expired or id reused), `VALIDATION_ERROR` (over the hold). */
  capture(request: CaptureRequest): Promise<ChargeRecord>;
  /** @throws MercatoError `NOT_FOUND`, `CONFLICT` (already resolved otherwise, or id reused). */
  voidHold(request: VoidRequest): Promise<ChargeRecord>;
  /** Voids pending holds that expired at or before `now`; returns how many. */
  expireHolds(now: string, limit?: number): Promise<number>;
  getCharge(id: string): Promise<ChargeRecord | undefined>;
  /** The account's charges as buyer, seller or either, newest first, keyset-paged. */
  listCharges(
    accountId: string,
    options: { role?: "buyer" | "seller"; limit: number; cursor?: string },
  ): Promise<{ charges: ChargeRecord[]; nextCursor: string | null }>;
  getBalance(accountId: string, at: string): Promise<BalanceRecord>;
  /**
   * What each key has spent: captured charges plus holds in flight, in micros (a rotated key's
   * replacement includes the old key's spending). Keys that never spent are 0.
   */
  getKeySpend(keyIds: string[]): Promise<Map<string, number>>;
  setMonthlyCap(accountId: string, cap: number | null): Promise<void>;

  insertTopup(topup: TopupRecord): Promise<void>;
  getTopup(id: string): Promise<TopupRecord | undefined>;
  findTopupByProviderRef(provider: string, providerRef: string): Promise<TopupRecord | undefined>;
  /**
   * Marks a pending top-up succeeded and credits its wallet, exactly once; returns the top-up and
   * whether this call was the one that credited it (undefined for an unknown top-up).
   *
   * @throws MercatoError `CONFLICT` when the top-up failed.
   */
  completeTopup(id: string, at: string): Promise<TopupCompletion | undefined>;
  failTopup(id: string, at: string): Promise<TopupRecord | undefined>;

  /**
   * Moves each seller's settled earnings into a settlement for `date` with a payout transfer;
   * once per seller per date. Only whole multiples of `unitMicros` are settled (Stripe pays whole
   * cents: 10,000 micros); the remainder stays in earnings for a later run. Returns the
   * settlements it created.
   */
  createSettlements(
    date: string,
    provider: string,
    at: string,
    newId: () => string,
    unitMicros?: number,
  ): Promise<SettlementRecord[]>;
  /** Settlements not yet paid (pending or failed), oldest first. */
  listUnpaidSettlements(): Promise<SettlementRecord[]>;
  updateSettlement(
    id: string,
    update: Pick<SettlementRecord, "status" | "providerRef" | "failure" | "paidAt">,
  ): Promise<void>;
  listSettlements(accountId: string): Promise<SettlementRecord[]>;

  /** Proves the ledger's invariants and lists every violation. */
  audit(): Promise<AuditRecord>;

  listSigningKeys(): Promise<SigningKeyRecord[]>;
  insertSigningKey(key: SigningKeyRecord): Promise<void>;
}

/**
 * Where a seller is paid at a payment provider: a Stripe connected account id (`acct_…`) for
 * Stripe; another provider (an own coin, x402) would keep its wallet address here.
 */
export interface PayoutDestinationRecord {
  accountId: string;
  provider: string;
  destination: string;
  updatedAt: string;
}

/** Sellers' payout destinations, one per account and provider. */
export interface PayoutDestinationStore {
  /** Sets (or with `destination: null` removes) the account's destination at a provider. */
  setPayoutDestination(
    record: Omit<PayoutDestinationRecord, "destination"> & { destination: string | null },
  ): Promise<void>;
  getPayoutDestination(accountId: string, provider: string): Promise<PayoutDestinationRecord | undefined>;
}

/**
 * A direct-mode grant (docs/direct-mode.md): a budget held on the buyer's wallet (a charge whose id
 * is the grant's id) that the buyer's vouchers spend. Amounts are integer micro-USD.
 */
export interface GrantRecord {
  /** `grt_…`; also the id of the hold on the buyer's wallet. */
  id: string;
  agentId: string;
  buyerId: string;
  sellerAccountId: string;
  /** The access key that opened it, when one did (its spend cap covers the budget); null for an account key. */
  keyId: string | null;
  endpoint: string;
  priceMicros: number;
  budgetMicros: number;
  buyerPublicKey: string;
  /** The signed grant token, as issued. */
  token: string;
  issuedAt: string;
  expiresAt: string;
  /**
   * **What settlement captures**: the highest claim recorded, never above the budget. A claim is
   * either a seller's redemption — what it earned by its own count, at most what its voucher owes
   * (vouchers are prepaid: a call's voucher also pays for that call, which the seller earns only if
   * it succeeded) — or the buyer's final voucher, which owes `price × successes`. Either way
   * `floor(bestOwedMicros / priceMicros)` is the number of the grant's calls paid for as successes.
   * 0 before any claim.
   */
  bestOwedMicros: number;
  /**
   * The voucher behind that claim: its sequence, what it owes (≥ `bestOwedMicros`: the buyer's
   * signature covers this amount) and its signature (0, 0 and null before any).
   */
  bestSequence: number;
  bestVoucherOwedMicros: number;
  bestSignature: string | null;
  /** When the buyer closed it. */
  closedAt: string | null;
  /**
   * The amount settlement captures, fixed when settlement starts: from then on no voucher is
   * recorded. Null before.
   */
  settlingMicros: number | null;
  /** When settlement finished (the hold captured or voided), and what was captured. */
  settledAt: string | null;
  capturedMicros: number | null;
  /**
   * Usage-report outcomes counted for this grant: successes up to what its vouchers pay for,
   * failures and client errors (the seller's reports) up to `budget / price` each.
   */
  reportedSuccesses: number;
  reportedFailures: number;
  reportedClientErrors: number;
}

/** A grant as opened: what `openGrant` writes; the rest starts empty. */
export type NewGrant = Pick<
  GrantRecord,
  | "id"
  | "agentId"
  | "buyerId"
  | "sellerAccountId"
  | "keyId"
  | "endpoint"
  | "priceMicros"
  | "budgetMicros"
  | "buyerPublicKey"
  | "token"
  | "issuedAt"
  | "expiresAt"
>;

/**
 * A voucher as the broker records it, verified by the caller before it reaches the store, and the
 * claim it backs: `claimMicros` ≤ `owedMicros` (what a seller earned; the buyer's final voucher
 * claims all it owes).
 */
export interface GrantVoucherRecord {
  sequence: number;
  owedMicros: number;
  signature: string;
  claimMicros: number;
}

/** A direct call's outcome as a usage report gives it. */
export type ReportOutcome = "success" | "failure" | "client_error";

/**
 * One reported outcome of a direct call, from the grant's buyer or from the agent owner (the
 * seller kit): the caller's side, which the route decided from the caller's account.
 */
export interface GrantReportRecord {
  grantId: string;
  sequence: number;
  source: "buyer" | "seller";
  outcome: ReportOutcome;
  responseTimeMs: number;
}

/**
 * What became of a report: counted toward the metrics now, kept to be counted once the grant's
 * vouchers pay for it (or it settles), or never counted.
 */
export type GrantReportVerdict = "counted" | "pending" | "ignored";

/** A reported outcome counted toward an agent's metrics, with what the metrics need of its grant. */
export interface CountedGrantReport {
  grantId: string;
  agentId: string;
  buyerId: string;
  sequence: number;
  source: "buyer" | "seller";
  outcome: ReportOutcome;
  responseTimeMs: number;
}

/**
 * Direct-mode grants. Money moves through the ledger (a grant's budget is an ordinary hold, its
 * settlement an ordinary capture or void); this keeps the grant's own state: its vouchers, closing
 * and settlement. The settlement steps are in `grants/settle.ts`, the same on every store.
 */
export interface GrantStore {
  /**
   * Records a grant whose hold is already placed (`hold` with the grant's id).
   * @throws MercatoError `CONFLICT` when the id is taken.
   */
  insertGrant(grant: NewGrant): Promise<GrantRecord>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  /**
   * Keeps `voucher` and its claim as the grant's best when the claim is above the best so far (and
   * within the voucher's amount, itself within the budget) and settlement has not started; otherwise
   * changes nothing. Returns the grant as it stands, undefined when unknown.
   */
  recordGrantVoucher(id: string, voucher: GrantVoucherRecord): Promise<GrantRecord | undefined>;
  /** Sets `closedAt` unless already closed or settling; returns the grant as it stands. */
  closeGrant(id: string, at: string): Promise<GrantRecord | undefined>;
  /**
   * Starts settlement: fixes `settlingMicros` to the best claim (`bestOwedMicros`), once (a second call
   * answers the grant with the amount fixed the first time). Returns the grant as it stands.
   */
  beginGrantSettlement(id: string): Promise<GrantRecord | undefined>;
  /** Ends settlement: records `capturedMicros` and `settledAt`, once. Returns the grant as it stands. */
  finishGrantSettlement(id: string, capturedMicros: number, at: string): Promise<GrantRecord | undefined>;
  /**
   * Ids of grants due for settlement at `now`: unsettled, and closed at or before `now − graceMs`
   * or expired at or before it. Oldest first, at most `limit`.
   */
  listGrantsDue(now: string, graceMs: number, limit: number): Promise<string[]>;
  /**
   * Weighs reported call outcomes by the rules of `grant-reports.ts`: one outcome per
   * (grant, sequence), the seller's report deciding; successes only as far as the grant's best
   * voucher pays for them (the rest kept, pending); failures and client errors only from the
   * seller, up to `floor(budget / price)` each. Returns a verdict per report, in order, and every
   * outcome counted by this call: the batch's own and earlier pending ones that are paid for now.
   * Reports of unknown grants are ignored.
   */
  countGrantReports(
    reports: GrantReportRecord[],
  ): Promise<{ verdicts: GrantReportVerdict[]; counted: CountedGrantReport[] }>;
  /**
   * Weighs, once, the pending claims of up to `limit` grants that settled: their paid amount is
   * final, so the seller's pending successes and then the buyer's count as far as it pays for them.
   * Returns the outcomes counted. Safe to run on several brokers at once.
   */
  releaseSettledGrantReports(limit: number): Promise<CountedGrantReport[]>;
  /**
   * Drops the remembered reports of grants settled at or before `settledBefore` (at most `limit`
   * grants a run; returns how many): reports of those grants no longer count (`REPORTS_WINDOW_MS`),
   * so nothing needs them to tell a repeat.
   */
  pruneGrantReports(settledBefore: string, limit: number): Promise<number>;
}
