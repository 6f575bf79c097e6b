/**
 * The refusal gates of a paid call: what an invoke (`POST /agents/{id}/invoke`) passes before
 * anything is held or the seller is called, in the order it passes them, each gate a function and
 * the error it answers. Opening a grant (`POST /grants`) passes the same gates where it has them.
 *
 * Before any gate, authentication (`accounts/authenticate.ts`) answers `UNAUTHENTICATED`,
 * `INVALID_API_KEY`, `AGENT_NOT_PURCHASED` (an account key on the invoke) and `KEY_SUSPENDED` (a
 * key stored as suspended); the request's body is checked against its schema (`VALIDATION_ERROR`,
 * `INVALID_JSON`, `PAYLOAD_TOO_LARGE`, …). Then:
 *
 * 1. {@link refuseBurst}: the fraud detector counts the call; a burst suspends the key. `KEY_SUSPENDED`.
 *    (Invoke only.)
 * 2. {@link requirePurchased}: an access key calls only the agent it was bought for. `AGENT_NOT_PURCHASED`.
 *    (A grant opened with an account key skips it.)
 * 3. {@link enforceRateLimit}: the key's calls per minute (its own `rate_limit`, or the broker's).
 *    `RATE_LIMITED`, with `Retry-After`; every call that gets this far carries the `RateLimit-*` headers.
 * 4. {@link servableAgent}: the agent exists and may be called now. `AGENT_NOT_FOUND`,
 *    `AGENT_INACTIVE` (deactivated, or its endpoint unproven past its grace period: `assertServable`).
 *    Then {@link withinPriceCeiling}: the price is within the call's `max_price_usd`, when it names
 *    one. `CONFLICT` (`details.reason: price_above_max`). (Invoke only.)
 * 5. {@link invokeTimeout}: `timeout_ms` within the broker's maximum. `VALIDATION_ERROR`. (Invoke only;
 *    a grant checks that its budget pays for one call instead, in `grants/open-grant.ts`.)
 * 6. {@link checkInvokeInput}: the input matches the listing's input schema. `VALIDATION_ERROR`
 *    (`details.reason: input_schema`); `SELLER_ERROR` when this broker cannot compile the contract.
 *    (Invoke only.)
 * 7. {@link spendLimits}: the limits the hold is placed under: the key's spend cap (access keys) and
 *    the new-account daily cap (the fraud detector's, for an account younger than the new-account
 *    period). The refusal itself is the ledger's: its `hold` checks the wallet, the account's monthly
 *    cap, the daily cap and the key's cap atomically with placing the hold, so that concurrent calls
 *    cannot overspend, and answers `INSUFFICIENT_FUNDS` or `SPEND_CAP_EXCEEDED` (see `ledger/port.ts`,
 *    `HoldRequest`). That check stays in the ledger; nothing here reads a balance.
 *
 * An invoke with an `Idempotency-Key` passes gates 1–6 on every retry; gate 7 only when the call runs.
 */
import { formatUsd, MercatoError, parseUsd } from "@mercato/protocol";
import type { FastifyBaseLogger, FastifyReply } from "fastify";
import type { ApiKeyRecord } from "../accounts/port.js";
import type { CompiledContract } from "../contracts/index.js";
import type { FraudDetector } from "../fraud/detector.js";
import type { HoldRequest } from "../ledger/port.js";
import type { Clock } from "../platform/clock.js";
import { setRateLimitHeaders } from "../platform/http/rate-limit-headers.js";
import type { RateDecision, RateLimiter } from "../platform/rate-limiter.js";
import type { InvokeSettings } from "../platform/settings.js";
import { assertServable } from "../registry/endpoint-verification.js";
import type { AgentRecord } from "../registry/port.js";
import type { InvokeRuntime } from "./runtime.js";

/** Everything the invoke's gates read; each gate declares the part it uses (a grant's deps have less). */
export interface GateDeps {
  clock: Clock;
  config: {
    dev: boolean;
    invoke: Pick<InvokeSettings, "defaultRateLimit" | "defaultTimeoutMs" | "maxTimeoutMs">;
  };
  rateLimiter: RateLimiter;
  fraud: Pick<FraudDetector, "observe" | "dailyCap">;
  log: FastifyBaseLogger;
  invoke: Pick<InvokeRuntime, "contracts">;
}

/**
 * Gate 1: counts the call with the fraud detector, which suspends a key whose calls burst.
 *
 * @throws MercatoError `KEY_SUSPENDED` (this call suspended the key, or it was moments ago).
 */
export async function refuseBurst(
  deps: { fraud: Pick<FraudDetector, "observe">; clock: Clock },
  key: ApiKeyRecord,
): Promise<void> {
  const refused = deps.fraud.observe(key, deps.clock.now().getTime());
  if (refused) await refused;
}

/**
 * Gate 2: an access key calls only the agent it was bought for.
 *
 * @throws MercatoError `AGENT_NOT_PURCHASED`, telling how to get access (`POST /purchase to buy
 *   access`, then `alternative` when given).
 */
export function requirePurchased(
  key: Pick<ApiKeyRecord, "agentId">,
  agentId: string,
  alternative?: string,
): void {
  if (key.agentId !== agentId) {
    throw new MercatoError(
      "AGENT_NOT_PURCHASED",
      `This access key was bought for ${key.agentId ?? "another agent"}, not ${agentId}: POST /purchase to buy access${alternative ? `, ${alternative}` : ""}`,
    );
  }
}

/**
 * Gate 3: sets the RateLimit headers (IETF draft `RateLimit-*`) and refuses a call over the key's
 * limit. Also limits redemptions of a grant (a made-up key with its own limit).
 *
 * @throws MercatoError `RATE_LIMITED`, with `Retry-After` set.
 */
export async function enforceRateLimit(
  deps: {
    config: { invoke: Pick<InvokeSettings, "defaultRateLimit"> };
    rateLimiter: RateLimiter;
    clock: Clock;
  },
  key: Pick<ApiKeyRecord, "id" | "rateLimit">,
  reply: FastifyReply,
  /** Who is limited, in the refusal's message. */
  subject = "This key",
): Promise<void> {
  const limit = key.rateLimit ?? deps.config.invoke.defaultRateLimit;
  const decision: RateDecision = await deps.rateLimiter.consume(key.id, limit, deps.clock.now().getTime());
  const retryAfter = setRateLimitHeaders(reply, decision, 60);
  if (retryAfter !== undefined) {
    throw new MercatoError(
      "RATE_LIMITED",
      `${subject} may make ${decision.limit} calls per minute; retry in ${retryAfter} s`,
      {
        details: { limit_per_minute: decision.limit, retry_after_s: retryAfter },
      },
    );
  }
}

/**
 * Gate 4: the agent, found by `find` (the invoke's agent cache, or the store), when it may be
 * called now.
 *
 * @throws MercatoError `AGENT_NOT_FOUND`; `AGENT_INACTIVE` (`assertServable`).
 */
export async function servableAgent(
  deps: { config: { dev: boolean }; clock: Clock },
  agentId: string,
  find: (agentId: string) => Promise<AgentRecord | undefined>,
): Promise<AgentRecord> {
  const agent = await find(agentId);
  if (!agent) throw new MercatoError("AGENT_NOT_FOUND", `No agent ${agentId}`);
  assertServable(agent, { dev: deps.config.dev, now: deps.clock.now().toISOString() });
  return agent;
}

/**
 * Gate 5: the seller's time to answer, ms: the call's `timeout_ms` or the broker's default.
 *
 * @throws MercatoError `VALIDATION_ERROR` past the broker's maximum.
 */
export function invokeTimeout(
  deps: { config: { invoke: Pick<InvokeSettings, "defaultTimeoutMs" | "maxTimeoutMs"> } },
  requested: number | undefined,
): number {
  const { maxTimeoutMs, defaultTimeoutMs } = deps.config.invoke;
  const timeoutMs = requested ?? defaultTimeoutMs;
  if (timeoutMs > maxTimeoutMs) {
    throw new MercatoError("VALIDATION_ERROR", `timeout_ms may be at most ${maxTimeoutMs}`, {
      details: { issues: [{ path: "timeout_ms", message: `must be at most ${maxTimeoutMs}` }] },
    });
  }
  return timeoutMs;
}

/**
 * Gate 6: the listing's compiled contract, and the refusal of input that breaks its input schema:
 * before anything is held or the seller called. The refusal is the buyer's mistake: the route
 * counts it as the agent's client error, never the seller's failure.
 *
 * @throws MercatoError `VALIDATION_ERROR` with `details.issues` ({path: a JSON Pointer into the
 *   input, message}); `SELLER_ERROR` when this broker cannot compile the listing's contract.
 */
export async function checkInvokeInput(
  deps: Pick<GateDeps, "invoke" | "log">,
  agent: AgentRecord,
  input: unknown,
): Promise<CompiledContract> {
  let contract: CompiledContract;
  try {
    contract = await deps.invoke.contracts.forAgent(agent);
  } catch (error) {
    deps.log.error({ err: error, agent_id: agent.id }, "could not compile a listing's contract");
    throw new MercatoError(
      "SELLER_ERROR",
      `Agent ${agent.id}'s contract cannot be checked by this broker; nothing was held or charged`,
    );
  }
  const issues = contract.input?.(input ?? null) ?? [];
  const first = issues[0];
  if (first) {
    throw new MercatoError(
      "VALIDATION_ERROR",
      `The input does not match agent ${agent.id}'s input schema: ${first.path || "(the input)"}: ${first.message}; nothing was held or charged`,
      { details: { reason: "input_schema", issues } },
    );
  }
  return contract;
}

/**
 * Gate 4, second half: the buyer's price ceiling. A seller may change its price at any time; a buyer
 * that looked at the listing names the price it accepts, and a raise since is refused before anything
 * is held (the hold is placed at the price of this same agent record).
 */
export function withinPriceCeiling(
  agent: Pick<AgentRecord, "id" | "pricing">,
  maxPriceUsd: string | number | undefined,
): void {
  if (maxPriceUsd === undefined) return;
  const ceiling = parseUsd(maxPriceUsd);
  const price = BigInt(agent.pricing.priceMicros);
  if (price <= ceiling) return;
  throw new MercatoError(
    "CONFLICT",
    `Agent ${agent.id} costs ${formatUsd(price)} USD per call, above the call's max_price_usd of ${formatUsd(ceiling)}; nothing was held or charged`,
    {
      details: { reason: "price_above_max", price_usd: formatUsd(price), max_price_usd: formatUsd(ceiling) },
    },
  );
}

/**
 * Gate 7: the limits a hold for `key`'s account at `atMs` is placed under: an access key's own
 * spend cap, and the new-account daily cap. The ledger's `hold` refuses past them (and past the
 * wallet and the account's monthly cap) atomically: `INSUFFICIENT_FUNDS`, `SPEND_CAP_EXCEEDED`.
 */
export async function spendLimits(
  deps: { fraud: Pick<FraudDetector, "dailyCap"> },
  key: Pick<ApiKeyRecord, "id" | "kind" | "accountId" | "spendCap">,
  atMs: number,
): Promise<Pick<HoldRequest, "keyId" | "keySpendCap" | "dailyCap">> {
  const dailyCap = await deps.fraud.dailyCap(key.accountId, atMs);
  return { ...(key.kind === "access" && { keyId: key.id, keySpendCap: key.spendCap }), dailyCap };
}

/** What an invoke that passed gates 1–6 calls: the agent, the seller's timeout, the listing's contract. */
export interface InvokeGatesPassed {
  agent: AgentRecord;
  timeoutMs: number;
  contract: CompiledContract;
}

/**
 * Gates 1–6 of an invoke, in order (gate 7 is placed with the hold, in `invokeOnce`).
 *
 * @throws MercatoError as each gate answers.
 */
export async function passInvokeGates(
  deps: GateDeps & { invoke: Pick<InvokeRuntime, "agents"> },
  key: ApiKeyRecord,
  agentId: string,
  body: { input?: unknown; timeout_ms?: number | undefined; max_price_usd?: string | number | undefined },
  reply: FastifyReply,
): Promise<InvokeGatesPassed> {
  await refuseBurst(deps, key);
  requirePurchased(key, agentId);
  await enforceRateLimit(deps, key, reply);
  const agent = await servableAgent(deps, agentId, (id) =>
    deps.invoke.agents.get(id, deps.clock.now().getTime()),
  );
  withinPriceCeiling(agent, body.max_price_usd);
  const timeoutMs = invokeTimeout(deps, body.timeout_ms);
  const contract = await checkInvokeInput(deps, agent, body.input);
  return { agent, timeoutMs, contract };
}
