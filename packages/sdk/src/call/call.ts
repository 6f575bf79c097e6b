import { isMercatoError, MercatoError } from "@mercato/protocol/errors";
import { formatUsd, parseUsd } from "@mercato/protocol/money";
import { sleep } from "./backoff.js";
import { type Budget, type BudgetReservation, budgetError, reserveAll } from "./budget.js";
import { candidateQuery, findCandidates } from "./candidates.js";
import { nonNegativeInt } from "./checks.js";
import { type Decision, decideNext, isGrantRefusal } from "./retry-policy.js";
import { type AttemptOutcome, checkedShare, createSelector, SELECTION, type Selector } from "./selection.js";
import type { Answered, CallAttempt, CallOptions, CallResult, CallSettings, CallTransport } from "./types.js";

const DEFAULT_RETRIES = 2;
/** Direct mode: a grant's default budget, in calls at the agent's price. */
const DIRECT_BUDGET_CALLS = 50n;

/**
 * Builds `call()`: find the agents that match, ranked by expected cost per useful answer
 * (./candidates.ts), and call them in turn, with retries and failover as ./retry-policy.ts decides
 * and within the budgets.
 */
export function createCall(transport: CallTransport, settings: CallSettings = {}) {
  const clientBudget = settings.budget;
  const clientExplore = checkedShare(settings.explore ?? SELECTION.explore, "explore");
  const now = settings.now ?? Date.now;
  const selector: Selector = createSelector(settings.random);
  return async function call(options: CallOptions): Promise<CallResult> {
    const retries = nonNegativeInt(options.retries ?? DEFAULT_RETRIES, "retries");
    const query = candidateQuery(options, clientExplore);
    const direct = options.mode === "direct";
    const directBudget =
      options.directBudgetUsd === undefined ? undefined : parseUsd(options.directBudgetUsd);
    options.signal?.throwIfAborted();

    const ranking = await findCandidates(transport, selector, options, query);

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
      // The price the ranking saw is the most this attempt may cost: a raise since is refused unpaid.
      const answer = await transport.invoke(agentId, options.input, {
        ...perAttempt,
        idempotencyKey,
        maxPriceUsd: formatUsd(price),
      });
      return {
        output: answer.output,
        costUsd: answer.cost_usd,
        answered: { mode: "proxy", transactionId: answer.transaction_id, receipt: answer.receipt },
      };
    };

    /** This client's learning: seller failures, rejections and useful answers; not the buyer's own errors. */
    const learn = (agentId: string, outcome: AttemptOutcome, durationMs: number) =>
      selector.record(agentId, outcome, durationMs);

    for (const agent of ranking.order) {
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
