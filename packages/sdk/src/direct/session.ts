import { type BuyerKeyPair, generateBuyerKeyPair, signVoucher } from "@mercato/protocol/direct";
import { isMercatoError, MercatoError } from "@mercato/protocol/errors";
import { formatUsd, parseUsd } from "@mercato/protocol/money";
import { decideNext } from "../call/retry-policy.js";
import { isValidTimeout } from "../client/request.js";
import type { CloseGrantRequest, Grant } from "../client/types.js";
import type { OutputCheck } from "./output-check.js";
import { type DirectOutcome, sendDirectCall } from "./send.js";
import type {
  DirectCallOptions,
  DirectResponse,
  OpenSessionOptions,
  PooledSession,
  SessionDeps,
} from "./session-types.js";

/** A grant in use and the session's count of it. */
interface LiveGrant {
  grant: Grant;
  keys: BuyerKeyPair;
  accessKey: string;
  price: bigint;
  budget: bigint;
  expiresAt: number;
  /** Renew once less than this remains: max(30 s, a tenth of the grant's life). */
  renewWithinMs: number;
  /** The last voucher sequence used. */
  sequence: number;
  /**
   * Calls of the grant the SDK saw succeed: the next call's voucher owes `(successes + 1) × price`
   * (prepaid), the final voucher `successes × price`.
   */
  successes: bigint;
}

const DEFAULT_TTL_S = 3600;
const MIN_RENEW_WITHIN_MS = 30_000;
/** The broker's cap on a report's `response_time_ms`. */
const MAX_REPORTED_MS = 3_600_000;

function noop(): void {}

/** A direct session on `agentId` (see {@link DirectSession}). */
export function createDirectSession(
  deps: SessionDeps,
  agentId: string,
  options: OpenSessionOptions,
): PooledSession {
  const budgetUsd = formatUsd(parseUsd(options.budgetUsd));
  const ttlS = options.ttlS ?? DEFAULT_TTL_S;
  if (!Number.isSafeInteger(ttlS) || ttlS < 60 || ttlS > 86_400) {
    throw new MercatoError(
      "VALIDATION_ERROR",
      `ttlS must be a whole number of seconds, 60–86400, got ${ttlS}`,
    );
  }
  const sessionTimeout = checkedTimeout(options.timeoutMs ?? deps.timeoutMs);

  let live: LiveGrant | undefined;
  let closed = false;
  let pending = 0;
  /** The end of the queue of calls: each call starts when the one before it has ended. */
  let tail: Promise<void> = Promise.resolve();
  /** Closes of retired grants, running. */
  const retiring = new Set<Promise<void>>();
  /** Retired grants the broker could not be told to close: `close()` tries them again. */
  const unclosed: LiveGrant[] = [];
  const grants: string[] = [];
  let calls = 0;
  let successes = 0;
  let spent = 0n;

  const open = async (signal: AbortSignal | undefined): Promise<LiveGrant> => {
    const keys = await generateBuyerKeyPair();
    const { grant, accessKey } = await deps.openGrant(
      { agent_id: agentId, budget_usd: budgetUsd, ttl_s: ttlS, buyer_public_key: keys.publicKey },
      signal,
    );
    grants.push(grant.grant_id);
    if (grants.length === 1) deps.onGrant(session);
    const expiresAt = Date.parse(grant.expires_at);
    return {
      grant,
      keys,
      accessKey,
      price: parseUsd(grant.price_per_call_usd),
      budget: parseUsd(grant.budget_usd),
      expiresAt,
      renewWithinMs: Math.max(MIN_RENEW_WITHIN_MS, (expiresAt - Date.parse(grant.issued_at)) / 10),
      sequence: 0,
      successes: 0n,
    };
  };

  /**
   * Tells the broker the grant is done, with a final voucher (a sequence above the last call's)
   * paying for every success seen and nothing more: the prepayment of a failed last call is not owed.
   */
  const closeGrant = async (held: LiveGrant): Promise<void> => {
    const owed = held.successes * held.price;
    let body: CloseGrantRequest = {};
    if (owed > 0n) {
      const voucher = await signVoucher(
        { grantId: held.grant.grant_id, sequence: held.sequence + 1, owedMicros: Number(owed) },
        held.keys.privateKey,
      );
      body = { sequence: voucher.sequence, owed_usd: formatUsd(owed), signature: voucher.signature };
    }
    try {
      await deps.closeGrant(held.grant.grant_id, body, held.accessKey);
    } catch (error) {
      // CONFLICT: the grant has settled already (it expired long ago); there is nothing left to close.
      if (!isMercatoError(error) || error.code !== "CONFLICT") throw error;
    }
  };

  /** Stops using a grant and closes it in the background. */
  const retire = (held: LiveGrant): void => {
    if (live === held) live = undefined;
    const closing: Promise<void> = closeGrant(held)
      .catch(() => {
        unclosed.push(held);
      })
      .finally(() => retiring.delete(closing));
    retiring.add(closing);
  };

  /** The grant for the next call: the current one, unless it is about to expire or spent. */
  const ready = async (signal: AbortSignal | undefined): Promise<LiveGrant> => {
    if (
      live !== undefined &&
      live.sequence > 0 &&
      (live.expiresAt - Date.now() < live.renewWithinMs || (live.successes + 1n) * live.price > live.budget)
    ) {
      retire(live);
    }
    live ??= await open(signal);
    return live;
  };

  const run = async (input: unknown, callOptions: DirectCallOptions): Promise<DirectResponse> => {
    const { signal } = callOptions;
    const timeoutMs = checkedTimeout(callOptions.timeoutMs ?? sessionTimeout);
    // Before any voucher is signed: a contract that cannot be read fails the call at no cost.
    const check = await deps.outputCheck?.(signal);
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const held = await ready(signal);
      const { grant } = held;
      const sequence = ++held.sequence;
      // Prepaid: every success so far and this call. `ready` made sure the budget covers it.
      const voucher = await signVoucher(
        { grantId: grant.grant_id, sequence, owedMicros: Number((held.successes + 1n) * held.price) },
        held.keys.privateKey,
      );
      const started = Date.now();
      let outcome: DirectOutcome;
      try {
        outcome = await sendDirectCall(deps.fetch, {
          grant,
          sequence,
          voucher: voucher.header,
          input,
          timeoutMs,
          signal,
        });
      } catch (aborted) {
        // The caller gave up with the call in flight: its outcome is unknown.
        retire(held);
        throw aborted;
      }
      const durationMs = Date.now() - started;
      if (outcome.kind === "refused") {
        const next = decideNext({ kind: "refused", reason: outcome.reason, attempt });
        if (next.retire) retire(held);
        if (next.action === "retry") continue;
        throw outcome.error;
      }
      if (outcome.kind === "ok" && check !== undefined)
        outcome = checkOutput(outcome.output, check, grant, sequence);
      calls++;
      deps.report(held.accessKey, {
        agent_id: agentId,
        grant_id: grant.grant_id,
        sequence,
        success: outcome.kind === "ok",
        response_time_ms: Math.min(durationMs, MAX_REPORTED_MS),
        at: new Date(started).toISOString(),
      });
      if (outcome.kind === "unknown") retire(held);
      if (outcome.kind !== "ok") throw outcome.error;
      held.successes++;
      successes++;
      spent += held.price;
      const costUsd = formatUsd(held.price);
      return {
        output: outcome.output,
        cost: Number(costUsd),
        costUsd,
        agentId,
        grantId: grant.grant_id,
        sequence,
        durationMs,
      };
    }
  };

  const session: PooledSession = {
    agentId,
    get grant() {
      return live?.grant;
    },
    get closed() {
      return closed;
    },
    get pending() {
      return pending;
    },
    call(input, callOptions = {}) {
      if (closed) {
        return Promise.reject(new MercatoError("CONFLICT", `The direct session on ${agentId} is closed`));
      }
      pending++;
      const result = tail.then(() => run(input, callOptions)).finally(() => pending--);
      tail = result.then(noop, noop);
      return result;
    },
    async close() {
      closed = true;
      await tail;
      if (live !== undefined) retire(live);
      await Promise.all(retiring);
      let failure: unknown;
      for (const held of unclosed.splice(0)) {
        await closeGrant(held).catch((error: unknown) => {
          unclosed.push(held);
          failure ??= error;
        });
      }
      await deps.flushReports();
      if (failure !== undefined) throw failure;
      deps.onClosed(session);
      return { calls, successes, spentUsd: formatUsd(spent), grants: [...grants] };
    },
  };
  return session;
}

/**
 * A 2xx answer whose output misses the agent's output schema is a failed call, as the broker and
 * the seller kit hold it: not counted as a success, so that no voucher pays for it, and reported
 * as a failure.
 */
function checkOutput(output: unknown, check: OutputCheck, grant: Grant, sequence: number): DirectOutcome {
  const issues = check(output);
  if (issues === undefined) return { kind: "ok", output };
  const first = issues[0];
  const where = first === undefined ? "" : ` (${first.path || "/"}: ${first.message})`;
  return {
    kind: "failed",
    error: new MercatoError(
      "SELLER_ERROR",
      `The seller's output does not match its output schema${where}; you were not charged`,
      {
        details: {
          reason: "output_schema",
          issues,
          agent_id: grant.agent_id,
          grant_id: grant.grant_id,
          sequence,
          cost_usd: "0.000000",
        },
      },
    ),
  };
}

function checkedTimeout(ms: number): number {
  if (!isValidTimeout(ms))
    throw new MercatoError("VALIDATION_ERROR", `timeoutMs must be a positive integer, got ${ms}`);
  return ms;
}
