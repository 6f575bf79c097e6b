import type { Budget } from "../call/budget.js";
import type { CallMode, CallOptions, DirectCallResult, ProxyCallResult } from "../call/types.js";
import type { DirectSession, OpenSessionOptions } from "../direct/session-types.js";
import type { KeyStore } from "./key-store.js";
import type { FetchFunction } from "./request.js";
import type {
  AccountsResource,
  AgentsResource,
  GrantsResource,
  KeysResource,
  ReceiptsResource,
  SettlementsResource,
  TopupsResource,
  TransactionsResource,
} from "./resources.js";
import type { Balance, InvokeResponse, PurchaseResponse } from "./types.js";

/** Options of {@link createClient}. */
export interface CreateClientOptions {
  /** The broker's base URL, e.g. `http://127.0.0.1:4020`. */
  baseUrl: string;
  /** An account key (`mk_…`), sent as `Authorization: Bearer`. Needed by every route but sign-up, search and reads. */
  apiKey?: string;
  /** A standard `fetch`; the global one by default. */
  fetch?: FetchFunction;
  /** How long each request may take, in ms (default 30,000). */
  timeoutMs?: number;
  /** The `User-Agent` header (default `mercato-sdk/<version>`). Browsers may ignore it. */
  userAgent?: string;
  /**
   * Where the client keeps the access keys it buys, one per agent (default: in memory). Give your
   * own to keep them across restarts.
   */
  keyStore?: KeyStore;
  /**
   * Access keys you already hold, `{ [agentId]: "sk_live_…" }`, written into the key store when the
   * client is created (a custom store's `set` is awaited before the client first uses the store).
   */
  accessKeys?: Record<string, string>;
  /**
   * A budget every {@link MercatoClient.call} of this client must stay within (`createBudget`),
   * besides any budget a call brings of its own.
   */
  budget?: Budget;
  /**
   * The share of {@link MercatoClient.call}s, 0–1, that explore listings with little evidence
   * (default 0.05; 0 never explores). A call's own `explore` overrides it.
   */
  explore?: number;
  /**
   * A uniform draw in [0, 1) for `call()`'s exploration (default `Math.random`): pass a seeded one
   * (e.g. `seededRandom(42)`) to make the choices reproducible.
   */
  random?: () => number;
}

/** Options of {@link MercatoClient.purchase}. */
export interface PurchaseOptions {
  /** A name for the access key. */
  name?: string;
  /** When the access key stops working; must be in the future. */
  expiresAt?: string | Date;
  /** Calls per minute the access key may make (default: the broker's). */
  rateLimit?: number;
  /** Most the access key may ever spend, in USD (`"5.00"` or `5`). */
  spendCapUsd?: string | number;
  /** Aborts the request; it then throws the signal's reason. */
  signal?: AbortSignal;
}

/** Options of {@link MercatoClient.invoke}. */
export interface InvokeOptions {
  /** The access key to call with, instead of the key store's. */
  accessKey?: string;
  /**
   * How long the broker waits for the seller, in ms (default and maximum: the broker's). The
   * request itself then waits 5 s longer; without it, the client's `timeoutMs` applies.
   */
  timeoutMs?: number;
  /** Sent as `Idempotency-Key`: a retry with the same key and input is answered the first outcome and never charged twice. */
  idempotencyKey?: string;
  /**
   * The most this call may cost, USD (`"0.05"` or `0.05`): when the agent's price is above it (the
   * seller raised it since you looked), the broker refuses the call with `CONFLICT`
   * (`details.reason: "price_above_max"`) and nothing is held or charged.
   */
  maxPriceUsd?: string | number;
  /** Aborts the call; it then throws the signal's reason, not a {@link MercatoError}. */
  signal?: AbortSignal;
}

/** A client of the Mercato broker's HTTP API. */
export interface MercatoClient {
  readonly accounts: AccountsResource;
  readonly keys: KeysResource;
  readonly agents: AgentsResource;
  readonly transactions: TransactionsResource;
  readonly receipts: ReceiptsResource;
  readonly topups: TopupsResource;
  readonly settlements: SettlementsResource;
  readonly grants: GrantsResource;
  /** The access keys the client holds, one per agent: the `keyStore` it was created with, or its memory. */
  readonly accessKeys: KeyStore;
  /**
   * Buys per-call access to an agent with the account key: the broker issues an access key
   * (shown once), which the client keeps in its key store for {@link MercatoClient.invoke}.
   * Buying is free; each successful call is charged the agent's price.
   * @throws MercatoError `UNAUTHENTICATED` without an account key, `AGENT_NOT_FOUND`, `AGENT_INACTIVE`, `VALIDATION_ERROR`.
   * @example
   * const { api_key, price_per_call_usd } = await client.purchase("agent_…", { spendCapUsd: "2.00" });
   */
  purchase(agentId: string, options?: PurchaseOptions): Promise<PurchaseResponse>;
  /**
   * Calls an agent through the broker with its access key: `options.accessKey`, else the key
   * store's, else one bought first with the account key (and kept). The broker charges the price
   * only when the seller answers; a failed call costs nothing and throws. An access key the broker
   * refuses as `INVALID_API_KEY` (revoked, expired) is removed from the key store before the error
   * is thrown (with `details.access_key_dropped: true`), so that the next call buys a new one.
   * @throws MercatoError `SELLER_ERROR`, `SELLER_TIMEOUT`, `SELLER_UNAVAILABLE` (with the voided
   *   transaction in `details`), `RATE_LIMITED` (`details.retry_after_s`), `INSUFFICIENT_FUNDS`,
   *   `SPEND_CAP_EXCEEDED`, `INVALID_API_KEY`, `AGENT_NOT_PURCHASED`, `AGENT_NOT_FOUND`,
   *   `AGENT_INACTIVE`, `CONFLICT` (an idempotency key reused with another input),
   *   `UNAUTHENTICATED` (no access key and no account key to buy one), `SERVICE_UNAVAILABLE`.
   * @example
   * const { output, cost_usd } = await client.invoke("agent_…", { symbol: "BTC" }, { timeoutMs: 5_000 });
   */
  invoke(agentId: string, input: unknown, options?: InvokeOptions): Promise<InvokeResponse>;
  /**
   * The account's balance: available, on hold, earned, and the monthly cap.
   * @throws MercatoError `UNAUTHENTICATED` without an account key.
   */
  balance(): Promise<Balance>;
  /**
   * Finds the agents that match, ranks them by expected cost per useful answer (price, success rate
   * and time, the broker's figures blended with what this client has seen of each agent; a share
   * `explore` of calls tries promising listings with little evidence), and calls them in turn: buys access when it has none, retries a retryable failure
   * (timeout, seller 5xx, 429 after its `Retry-After`, a lost answer) with exponential backoff and
   * full jitter, then fails over to the next agent. One idempotency key covers the call, so a retry
   * after a lost answer is never charged twice. Price ceiling and budgets are checked before every
   * attempt; failed attempts cost nothing.
   * @throws MercatoError `NO_CANDIDATES`, `BUDGET_EXCEEDED` (nothing spent), `ALL_CANDIDATES_FAILED`
   *   (`details.attempts` lists each attempt), or the buyer's own error (`INSUFFICIENT_FUNDS`,
   *   `SPEND_CAP_EXCEEDED`, `VALIDATION_ERROR`, `INVALID_API_KEY` or `UNAUTHENTICATED` for the
   *   account key…) at its first occurrence, with the attempts so far; an abort rejects with the
   *   signal's reason.
   * With `mode: "direct"` each attempt calls the seller directly through a session the client
   * keeps for that agent (see {@link MercatoClient.openSession}); the result then has `grantId` and
   * `sequence`, and no `transactionId` nor `receipt`.
   * @example
   * const result = await client.call({ category: "crypto", input: { symbol: "BTC" }, maxPricePerCall: "0.05" });
   * console.log(result.output, result.costUsd, result.agentId);
   * const direct = await client.call({ category: "crypto", input: { symbol: "BTC" }, mode: "direct" });
   * console.log(direct.grantId, direct.sequence);
   */
  call<M extends CallMode = "proxy">(
    options: CallOptions & { mode?: M },
  ): Promise<M extends "direct" ? DirectCallResult : ProxyCallResult>;
  /**
   * Opens a direct session on an agent: calls go to the seller itself, paid for with vouchers of a
   * grant, with the broker off the path (docs/direct-mode.md). Nothing is sent before the first
   * call, which opens the grant with the agent's access key (the key store's, or one bought as
   * {@link MercatoClient.invoke} does) and holds `budgetUsd` on the wallet. The session renews the
   * grant before it expires or when it cannot pay another call. Calls of one session run one at a
   * time: open several to call in parallel. Close it (or the client) when done: closing pays the
   * seller for the last call and releases the rest of the budget once the grant settles.
   * @throws MercatoError `INVALID_AMOUNT` or `VALIDATION_ERROR` for a bad budget, `ttlS` or `timeoutMs`.
   * @example
   * const session = client.openSession("agent_…", { budgetUsd: "1.00", timeoutMs: 5_000 });
   * const { output, costUsd, grantId, sequence } = await session.call({ symbol: "BTC" });
   * const { calls, successes, spentUsd } = await session.close();
   */
  openSession(agentId: string, options: OpenSessionOptions): DirectSession;
  /**
   * Closes every direct session of the client (the pooled ones of `call({ mode: "direct" })`
   * included), each grant with its final voucher, and sends the pending usage reports. The client
   * stays usable. Node also does this when the process is about to exit (`beforeExit`), but not on
   * a signal: call it before you exit.
   * @throws MercatoError the first failure to close a grant, after trying every session.
   */
  close(): Promise<void>;
}
