import type { ErrorCode, MercatoError } from "@mercato/protocol/errors";
import type { DirectResponse } from "../direct/session-types.js";
import type { components, operations } from "../generated/openapi.js";
import type { BackoffOptions } from "./backoff.js";
import type { Budget } from "./budget.js";

export type SearchQuery = NonNullable<operations["searchAgents"]["parameters"]["query"]>;
export type SearchResult = components["schemas"]["SearchResult"];
type InvokeResponse = components["schemas"]["InvokeResponse"];

/**
 * What `call()` needs from the client: a search, and one way per mode to make an attempt: an invoke
 * through the broker (which buys access when it has none), or a direct call through a pooled session.
 */
export interface CallTransport {
  search(query: SearchQuery): Promise<{ results: SearchResult[] }>;
  invoke(
    agentId: string,
    input: unknown,
    options: { timeoutMs?: number; idempotencyKey: string; signal?: AbortSignal; maxPriceUsd: string },
  ): Promise<InvokeResponse>;
  direct(
    agentId: string,
    input: unknown,
    options: { budgetMicros: bigint; timeoutMs?: number; signal?: AbortSignal },
  ): Promise<DirectResponse>;
}

/** How `call()` reaches the seller: through the broker (`"proxy"`), or directly, paying with vouchers (`"direct"`). */
export type CallMode = "proxy" | "direct";

/** Options of `client.call()`. */
export interface CallOptions {
  /** The input for the seller, any JSON value. */
  input: unknown;
  /** Only agents in this category. */
  category?: string;
  /** Only agents with every one of these tags. */
  tags?: string[];
  /** Words that must appear in the agent's name, description or tags. */
  query?: string;
  /** Only these agents (by id): others the search finds are never called. */
  agentIds?: readonly string[];
  /** Highest price per call, USD (decimal string or number): pricier agents are never called. */
  maxPricePerCall?: string | number;
  /** Lowest trust score (0–1). */
  minTrustScore?: number;
  /** A budget this call may not pass (together with the client's, when it has one). */
  budget?: Budget;
  /** How long each attempt waits for the seller, ms (the broker's default otherwise; the client's `timeoutMs` in direct mode). */
  timeoutMs?: number;
  /**
   * `"proxy"` (the default): each attempt goes through the broker, which charges it. `"direct"`:
   * each attempt calls the seller itself through a direct session the client keeps for that agent
   * and reuses across calls (one per concurrent call), paying with the vouchers of a grant; the
   * search, ranking, retries, failover and budgets are the same. A direct result has `grantId` and
   * `sequence` instead of `transactionId` and `receipt`. Close the client (`client.close()`) when
   * done, to close the grants and release what they hold.
   *
   * @example
   * const result = await client.call({ category: "crypto", input: { symbol: "BTC" }, mode: "direct" });
   * console.log(result.output, result.costUsd, result.grantId, result.sequence);
   * await client.close();
   */
  mode?: CallMode;
  /**
   * Direct mode: the budget of each grant the client opens for a call's agent, in USD, held on the
   * wallet until the grant settles (default: 50 calls at the agent's price).
   */
  directBudgetUsd?: string | number;
  /** Retries on one seller after a retryable failure, before failing over (default 2). */
  retries?: number;
  /** How many of the best-ranked agents to try, in order (default 3). */
  candidates?: number;
  /**
   * The call's idempotency key (default: a random UUID). Every attempt's key derives from it, so the
   * same key after a crash or a lost answer is never charged twice.
   */
  idempotencyKey?: string;
  /** Delays between retries on one seller. */
  backoff?: BackoffOptions;
  /** Aborts the call: waits and requests in flight stop, and `call()` rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Sees every attempt once it has ended. */
  onAttempt?: (attempt: CallAttempt) => void;
  /** Sees every retry on the same seller before its delay. */
  onRetry?: (retry: CallRetry) => void;
  /**
   * The share of calls, 0–1, that explore: a Thompson draw from what is known of each agent picks
   * the first agent to try, so that promising listings with little evidence get tried (default: the
   * client's `explore`, itself 0.05 by default; 0 never explores). See "How call() chooses" in the README.
   */
  explore?: number;
  /**
   * Leaves out agents whose mean time per attempt (the broker's measured figure blended with this
   * client's own attempts) is above this, ms. Agents with no measured time yet are kept. A hard
   * limit per attempt is `timeoutMs`.
   */
  maxLatencyMs?: number;
  /**
   * What a second of waiting is worth to you, USD: ranking weighs each agent's expected time per
   * useful answer at this rate against its price (default 0.01, i.e. $36 an hour; 0 ranks on money alone).
   */
  timeValueUsdPerSecond?: number;
  /**
   * Your own test of an answer: `true` accepts it; anything else (a string says why) rejects it.
   * A rejected answer was paid (the seller kept its contract) but counts as a failure for this
   * client's ranking of the agent, and the call fails over to the next agent. The broker is never
   * told: a buyer's word alone does not move a seller's record.
   *
   * @example
   * await client.call({ category: "text", input, accept: (out) => (out as { summary?: string }).summary ? true : "empty summary" });
   */
  accept?: (output: unknown) => true | string | false;
}

/** One attempt of a call on one seller. */
export interface CallAttempt {
  agentId: string;
  /** 1 for the first attempt on this agent. */
  attempt: number;
  ok: boolean;
  /** The error code of a failed attempt. */
  code?: ErrorCode;
  message?: string;
  /** The broker's transaction (charged when `ok`; voided otherwise). Proxy mode. */
  transactionId?: string;
  /** The grant that paid (or would have paid) for the attempt. Direct mode. */
  grantId?: string;
  /** The attempt's voucher sequence in its grant. Direct mode. */
  sequence?: number;
  /** What the attempt cost: the price when it succeeded, 0 otherwise. */
  costUsd: string;
  durationMs: number;
  /** Whether the failure was worth retrying on the same seller. */
  retryable?: boolean;
  /** True when exploration put this agent first (see {@link CallOptions.explore}). */
  explored?: boolean;
  /** Why the `accept` test rejected the answer (the attempt was paid: see `costUsd`). */
  rejected?: string;
}

/** A retry about to happen. */
export interface CallRetry {
  agentId: string;
  /** The attempt that will run after the delay. */
  attempt: number;
  delayMs: number;
  error: MercatoError;
}

/** A successful call in either mode: the seller's output, what it cost, who answered and how it went. */
interface CallResultBase {
  output: unknown;
  /** Display cost in USD. */
  cost: number;
  /** The exact cost. */
  costUsd: string;
  agentId: string;
  /** Every attempt, failed ones first, the successful one last. */
  attempts: CallAttempt[];
}

/** A call answered through the broker: its transaction and signed receipt. */
export interface ProxyCallResult extends CallResultBase {
  mode: "proxy";
  transactionId: string;
  receipt: InvokeResponse["receipt"];
  grantId?: undefined;
  sequence?: undefined;
}

/**
 * A call answered directly by the seller: the grant that pays for it and the call's voucher
 * sequence. There is no transaction nor receipt per call: the broker captures what the grant's
 * vouchers owe when the grant settles.
 */
export interface DirectCallResult extends CallResultBase {
  mode: "direct";
  grantId: string;
  sequence: number;
  transactionId?: undefined;
  receipt?: undefined;
}

/** A successful call: {@link ProxyCallResult} or {@link DirectCallResult}, by `mode`. */
export type CallResult = ProxyCallResult | DirectCallResult;

/** What names a successful attempt, by mode: the fields its result has besides the common ones. */
export type Answered =
  | Pick<ProxyCallResult, "mode" | "transactionId" | "receipt">
  | Pick<DirectCallResult, "mode" | "grantId" | "sequence">;

/** The client's settings of `call()`. */
export interface CallSettings {
  /** Applies to every call of the client. */
  budget?: Budget | undefined;
  /** The default share of calls that explore. */
  explore?: number | undefined;
  /** A uniform draw in [0, 1) for exploration (default `Math.random`). */
  random?: (() => number) | undefined;
  /** The clock attempts are timed with, ms (default `Date.now`). */
  now?: (() => number) | undefined;
}
