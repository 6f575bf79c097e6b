import { type ErrorCode, isMercatoError, MercatoError } from "@mercato/protocol/errors";
import { formatUsd, parseUsd } from "@mercato/protocol/money";
import type { DirectResponse } from "../direct/session.js";
import type { components, operations } from "../generated/openapi.js";
import { type BackoffOptions, sleep } from "./backoff.js";
import type { Budget, BudgetReservation } from "./budget.js";
import { type Decision, decideNext, isGrantRefusal } from "./retry-policy.js";
import { type AttemptOutcome, checkedShare, createSelector, SELECTION, type Selector } from "./selection.js";

type SearchQuery = NonNullable<operations["searchAgents"]["parameters"]["query"]>;
type SearchResult = components["schemas"]["SearchResult"];
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
    options: { timeoutMs?: number; idempotencyKey: string; signal?: AbortSignal },
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
type Answered =
  | Pick<ProxyCallResult, "mode" | "transactionId" | "receipt">
  | Pick<DirectCallResult, "mode" | "grantId" | "sequence">;

const DEFAULT_RETRIES = 2;
const DEFAULT_CANDIDATES = 3;
/** Listings a call's search reads: enough that a new listing, last in the broker's order, is seen. */
const SEARCH_LIMIT = 50;
/** Direct mode: a grant's default budget, in calls at the agent's price. */
const DIRECT_BUDGET_CALLS = 50n;

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

/**
 * Builds `call()`: find the agents that match, rank them by expected cost per useful answer (the
 * broker's figures blended with what this client has seen, see ./selection.ts), explore a bounded
 * share of the time, and call them in turn with retries, failover and budgets.
 */
export function createCall(transport: CallTransport, settings: CallSettings = {}) {
  const clientBudget = settings.budget;
  const clientExplore = checkedShare(settings.explore ?? SELECTION.explore, "explore");
  const now = settings.now ?? Date.now;
  const selector: Selector = createSelector(settings.random);
  return async function call(options: CallOptions): Promise<CallResult> {
    const retries = nonNegativeInt(options.retries ?? DEFAULT_RETRIES, "retries");
    const explore = checkedShare(options.explore ?? clientExplore, "explore");
    const timeValueUsdPerSecond = nonNegativeNumber(
      options.timeValueUsdPerSecond ?? SELECTION.timeValueUsdPerSecond,
      "timeValueUsdPerSecond",
    );
    const maxLatencyMs =
      options.maxLatencyMs === undefined
        ? undefined
        : nonNegativeNumber(options.maxLatencyMs, "maxLatencyMs");
    const wanted = positiveInt(options.candidates ?? DEFAULT_CANDIDATES, "candidates");
    const maxPrice = options.maxPricePerCall === undefined ? undefined : parseUsd(options.maxPricePerCall);
    const minTrust = options.minTrustScore;
    const direct = options.mode === "direct";
    const directBudget =
      options.directBudgetUsd === undefined ? undefined : parseUsd(options.directBudgetUsd);
    options.signal?.throwIfAborted();

    const page = await transport.search({
      sort: "cost_per_success",
      limit: Math.min(100, Math.max(SEARCH_LIMIT, wanted * 2)),
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
      .filter((agent) => maxPrice === undefined || parseUsd(agent.price_per_call) <= maxPrice)
      .filter((agent) => minTrust === undefined || agent.trust_score >= minTrust)
      .sort((a, b) => a.cost_per_success - b.cost_per_success);
    const ranking = selector.rank(listed, { explore, timeValueUsdPerSecond, maxLatencyMs });
    const candidates = ranking.order.slice(0, wanted);
    if (candidates.length === 0) {
      throw new MercatoError(
        "NO_CANDIDATES",
        "No listed agent matches the call's filters, price ceiling, trust floor and latency ceiling",
        {
          details: { filters: describeFilters(options) },
        },
      );
    }

    const budgets = [clientBudget, options.budget].filter((b): b is Budget => b !== undefined);
    const logicalKey = options.idempotencyKey ?? globalThis.crypto.randomUUID();
    const attempts: CallAttempt[] = [];
    let lastError: MercatoError | undefined;
    let affordable = false;
    const perAttempt = {
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      ...(options.signal !== undefined && { signal: options.signal }),
    };

    /** One attempt in the call's mode: the output, its exact cost, and what names it. */
    const send = async (
      agentId: string,
      price: bigint,
      idempotencyKey: string,
    ): Promise<{ output: unknown; costUsd: string; answered: Answered }> => {
      if (direct) {
        const budgetMicros = directBudget ?? price * DIRECT_BUDGET_CALLS;
        const answer = await transport.direct(agentId, options.input, { ...perAttempt, budgetMicros });
        const { grantId, sequence } = answer;
        return {
          output: answer.output,
          costUsd: answer.costUsd,
          answered: { mode: "direct", grantId, sequence },
        };
      }
      const answer = await transport.invoke(agentId, options.input, { ...perAttempt, idempotencyKey });
      return {
        output: answer.output,
        costUsd: answer.cost_usd,
        answered: { mode: "proxy", transactionId: answer.transaction_id, receipt: answer.receipt },
      };
    };

    /** This client's learning: seller failures, rejections and useful answers; not the buyer's own errors. */
    const learn = (agentId: string, outcome: AttemptOutcome, durationMs: number) =>
      selector.record(agentId, outcome, durationMs);

    for (const agent of candidates) {
      const price = parseUsd(agent.price_per_call);
      const explored = ranking.explored === agent ? { explored: true } : {};
      // Each known no-charge failure moves to a fresh key; an unknown outcome retries with the same
      // one, so that the broker answers with the first attempt's outcome instead of charging again.
      let keySerial = 0;
      let reservation: BudgetReservation | undefined;
      for (let attempt = 1; ; attempt++) {
        reservation ??= reserveAll(budgets, price);
        let next: Decision | undefined;
        if (reservation === undefined) {
          lastError = budgetError(budgets, price, agent.agent_id);
          next = decideNext({ kind: "unaffordable" });
        } else {
          affordable = true;
          const started = now();
          let answer: Awaited<ReturnType<typeof send>> | undefined;
          try {
            answer = await send(agent.agent_id, price, `${logicalKey}:${agent.agent_id}:${keySerial}`);
          } catch (caught) {
            if (options.signal?.aborted) {
              // Through the broker, the attempt may have reached the seller before the abort: count it
              // as spent. A direct call is only ever paid for when the SDK saw it succeed.
              reservation.commit(direct ? 0n : price);
              throw options.signal.reason;
            }
            const error = asMercatoError(caught);
            lastError = error;
            next = decideNext({ kind: "call", error, attempt, retries, backoff: options.backoff });
            const charged = error.code === "CONFLICT" && error.details?.status === "completed";
            const durationMs = now() - started;
            if (isSellerFailure(error)) learn(agent.agent_id, "failed", durationMs);
            const failed: CallAttempt = {
              agentId: agent.agent_id,
              attempt,
              ok: false,
              code: error.code,
              message: error.message,
              costUsd: formatUsd(charged ? price : 0n),
              durationMs,
              retryable: next.retryable === true,
              ...explored,
              ...(typeof error.details?.transaction_id === "string" && {
                transactionId: error.details.transaction_id,
              }),
              ...(typeof error.details?.grant_id === "string" && {
                grantId: error.details.grant_id,
                sequence: error.details.sequence as number,
              }),
            };
            attempts.push(failed);
            options.onAttempt?.(failed);
            if (charged) {
              // The broker charged an earlier attempt with this key but no longer has its answer.
              reservation.commit(price);
              reservation = undefined;
            } else if (next.retryable && next.sameKey && !direct) {
              // The outcome is unknown: the money stays reserved until a retry learns it. (Direct
              // mode never pays for an outcome it did not see.)
            } else {
              reservation.release();
              reservation = undefined;
              if (next.retryable) keySerial++;
            }
          }
          if (answer !== undefined) {
            const { output, costUsd, answered } = answer;
            const cost = parseUsd(costUsd);
            reservation?.commit(cost);
            reservation = undefined;
            const durationMs = now() - started;
            const verdict = options.accept === undefined ? true : options.accept(output);
            const paid = {
              agentId: agent.agent_id,
              attempt,
              ...(answered.mode === "proxy"
                ? { transactionId: answered.transactionId }
                : { grantId: answered.grantId, sequence: answered.sequence }),
              costUsd: formatUsd(cost),
              durationMs,
              ...explored,
            };
            if (verdict === true) {
              learn(agent.agent_id, "useful", durationMs);
              const done: CallAttempt = { ...paid, ok: true };
              attempts.push(done);
              options.onAttempt?.(done);
              return {
                output,
                cost: Number(costUsd),
                costUsd,
                agentId: agent.agent_id,
                attempts,
                ...answered,
              };
            }
            // Paid, and useless to this buyer: a failure for this client's ranking, never reported.
            learn(agent.agent_id, "rejected", durationMs);
            const reason = typeof verdict === "string" && verdict !== "" ? verdict : "rejected";
            const message = `The call's accept test rejected ${agent.agent_id}'s answer: ${reason}`;
            lastError = new MercatoError("SELLER_ERROR", message, {
              details: { agent_id: agent.agent_id, reason: "rejected_by_buyer", rejected: reason },
            });
            const rejected: CallAttempt = {
              ...paid,
              ok: false,
              code: "SELLER_ERROR",
              message,
              rejected: reason,
            };
            attempts.push(rejected);
            options.onAttempt?.(rejected);
            next = decideNext({ kind: "rejected" });
          }
        }
        if (next?.action !== "retry") {
          if (next?.action === "stop") throw allFailed(attempts, lastError, true);
          break;
        }
        const delayMs = next.delayMs ?? 0;
        options.onRetry?.({
          agentId: agent.agent_id,
          attempt: attempt + 1,
          delayMs,
          error: lastError as MercatoError,
        });
        try {
          await sleep(delayMs, options.signal);
        } catch (aborted) {
          // A reservation still held is an attempt whose outcome was never learned: spent, to be safe.
          reservation?.commit(price);
          throw aborted;
        }
      }
      // An outcome never learned counts as spent: the budget must not be passed even then.
      reservation?.commit(price);
    }
    if (!affordable && lastError?.code === "BUDGET_EXCEEDED") throw lastError;
    throw allFailed(attempts, lastError, false);
  };
}

/**
 * True for a failure that is the seller's (an error, a timeout, no answer, an answer outside its
 * schema): what this client learns from. The buyer's own errors, rate limits and a direct grant's
 * bookkeeping say nothing of the seller.
 */
function isSellerFailure(error: MercatoError): boolean {
  if (isGrantRefusal(error)) return false;
  return (
    error.code === "SELLER_ERROR" || error.code === "SELLER_TIMEOUT" || error.code === "SELLER_UNAVAILABLE"
  );
}

function reserveAll(budgets: Budget[], micros: bigint): BudgetReservation | undefined {
  const taken: BudgetReservation[] = [];
  for (const budget of budgets) {
    const reservation = budget.reserve(micros);
    if (!reservation) {
      for (const t of taken) t.release();
      return undefined;
    }
    taken.push(reservation);
  }
  return {
    commit: (cost) => {
      for (const t of taken) t.commit(cost);
    },
    release: () => {
      for (const t of taken) t.release();
    },
  };
}

function budgetError(budgets: Budget[], price: bigint, agentId: string): MercatoError {
  const tight = budgets.reduce((a, b) => (b.remainingMicros < a.remainingMicros ? b : a));
  return new MercatoError(
    "BUDGET_EXCEEDED",
    `A call to ${agentId} costs ${formatUsd(price)} USD but the budget has ${tight.remainingUsd} USD left; nothing was spent`,
    { details: { agent_id: agentId, price_usd: formatUsd(price), remaining_usd: tight.remainingUsd } },
  );
}

function allFailed(attempts: CallAttempt[], last: MercatoError | undefined, stopped: boolean): MercatoError {
  const summary = attempts.map((a) => `${a.agentId}#${a.attempt}: ${a.code ?? "ok"}`).join(", ");
  if (stopped && last) {
    // Not a seller failure: the caller's own error (no money, bad input), with the attempts so far.
    return new MercatoError(last.code, last.message, {
      details: { ...last.details, attempts },
      cause: last,
      ...(last.requestId !== undefined && { requestId: last.requestId }),
    });
  }
  return new MercatoError("ALL_CANDIDATES_FAILED", `Every candidate failed (${summary})`, {
    details: { attempts },
    ...(last !== undefined && { cause: last }),
  });
}

function asMercatoError(error: unknown): MercatoError {
  if (isMercatoError(error)) return error;
  return new MercatoError("INTERNAL_ERROR", error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

function describeFilters(options: CallOptions): Record<string, unknown> {
  return {
    ...(options.category !== undefined && { category: options.category }),
    ...(options.tags !== undefined && { tags: options.tags }),
    ...(options.query !== undefined && { query: options.query }),
    ...(options.maxPricePerCall !== undefined && { max_price_per_call: String(options.maxPricePerCall) }),
    ...(options.minTrustScore !== undefined && { min_trust_score: options.minTrustScore }),
    ...(options.maxLatencyMs !== undefined && { max_latency_ms: options.maxLatencyMs }),
  };
}

function positiveInt(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new MercatoError("VALIDATION_ERROR", `${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function nonNegativeNumber(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new MercatoError("VALIDATION_ERROR", `${name} must be a finite number ≥ 0, got ${value}`);
  }
  return value;
}

function nonNegativeInt(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new MercatoError("VALIDATION_ERROR", `${name} must be a whole number ≥ 0, got ${value}`);
  }
  return value;
}
