import { createHash } from "node:crypto";
import {
  type CreateGrantRequest,
  formatUsd,
  type GrantPayloadValue,
  MercatoError,
  parseUsd,
} from "@mercato/protocol";
import type { FastifyReply, FastifyRequest } from "fastify";
import type * as z from "zod";
import type { ApiKeyRecord } from "../accounts/port.js";
import { enforceRateLimit, requirePurchased, servableAgent, spendLimits } from "../invoke/gates.js";
import { idempotencyKeyOf } from "../platform/idempotency.js";
import { newId } from "../platform/ids.js";
import type { GrantsDeps } from "./deps.js";
import type { GrantRecord, NewGrant } from "./port.js";
import { presentGrant } from "./presenters.js";

/**
 * A grant's hold outlives its settlement time by this much: the hold sweeper must never void what
 * a grant's vouchers owe before the grant sweeper has settled it.
 */
const HOLD_MARGIN_MS = 24 * 60 * 60_000;

/**
 * Opens a grant (`POST /grants`): the refusal gates of invoke/gates.ts that a grant has (the key's
 * agent, its rate limit, a servable agent), a budget that pays for one call, then the signed token,
 * the budget's hold and the grant recorded; with an `Idempotency-Key`, a retry answers the grant
 * the first request opened.
 *
 * @throws MercatoError `AGENT_NOT_PURCHASED`, `RATE_LIMITED`, `AGENT_NOT_FOUND`, `AGENT_INACTIVE`,
 *   `VALIDATION_ERROR` (the budget), `INSUFFICIENT_FUNDS`, `SPEND_CAP_EXCEEDED` (the hold), `CONFLICT`.
 */
export async function openGrant(
  deps: GrantsDeps,
  key: ApiKeyRecord,
  body: z.output<typeof CreateGrantRequest>,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  // The refusals before the hold, in the order of invoke/gates.ts (no burst gate here).
  if (key.kind === "access") {
    requirePurchased(key, body.agent_id, "or open the grant with an account key");
  }
  await enforceRateLimit(deps, key, reply);
  const agent = await servableAgent(deps, body.agent_id, (id) => deps.store.getAgent(id));
  const price = agent.pricing.priceMicros;
  const budget = Number(parseUsd(body.budget_usd));
  if (budget < price) {
    throw new MercatoError(
      "VALIDATION_ERROR",
      `budget_usd must pay for at least one call: ${agent.id} costs ${formatUsd(price)} USD a call`,
      { details: { issues: [{ path: "budget_usd", message: `must be at least ${formatUsd(price)}` }] } },
    );
  }
  const issued = deps.clock.now();
  const expires = new Date(issued.getTime() + body.ttl_s * 1000);
  const idempotencyKey = idempotencyKeyOf(request.headers["idempotency-key"]);
  const id = idempotencyKey === undefined ? newId("grt") : idempotentGrantId(key.accountId, idempotencyKey);
  if (idempotencyKey !== undefined) {
    const earlier = await deps.store.getGrant(id);
    if (earlier) return replayedGrant(deps, earlier, body, reply);
  }
  const payload: GrantPayloadValue = {
    grant_id: id,
    agent_id: agent.id,
    buyer_id: key.accountId,
    seller_account_id: agent.ownerId,
    endpoint: agent.apiEndpoint,
    price_per_call_usd: formatUsd(price),
    budget_usd: formatUsd(budget),
    issued_at: issued.toISOString(),
    expires_at: expires.toISOString(),
    buyer_public_key: body.buyer_public_key,
    issuer: deps.config.publicUrl ?? `${request.protocol}://${request.host}`,
  };
  // Signed first: a hold is only placed for a grant the broker could sign.
  const { token } = await deps.signer.signGrant(payload);
  // The hold's limits (gate 7): the ledger refuses past them, atomically with the hold.
  const limits = await spendLimits(deps, key, issued.getTime());
  const held = await deps.store.hold({
    id,
    buyerId: key.accountId,
    sellerAccountId: agent.ownerId,
    agentId: agent.id,
    ...limits,
    amount: budget,
    expiresAt: new Date(expires.getTime() + HOLD_MARGIN_MS).toISOString(),
    at: issued.toISOString(),
  });
  if (held.replayed) {
    // Another request with this Idempotency-Key placed the hold: its grant, once recorded.
    const earlier = await deps.store.getGrant(id);
    if (earlier) return replayedGrant(deps, earlier, body, reply);
    throw new MercatoError(
      "CONFLICT",
      "A grant with this Idempotency-Key is being opened by another request: retry in a moment",
      { details: { grant_id: id } },
    );
  }
  const grant: NewGrant = {
    id,
    agentId: agent.id,
    buyerId: key.accountId,
    sellerAccountId: agent.ownerId,
    keyId: key.kind === "access" ? key.id : null,
    endpoint: agent.apiEndpoint,
    priceMicros: price,
    budgetMicros: budget,
    buyerPublicKey: body.buyer_public_key,
    token,
    issuedAt: payload.issued_at,
    expiresAt: payload.expires_at,
  };
  let recorded: GrantRecord;
  try {
    recorded = await deps.store.insertGrant(grant);
  } catch (error) {
    // No grant without its hold, and no hold without its grant: give the budget back.
    await deps.store
      .voidHold({ id: `${id}:void`, holdId: id, at: issued.toISOString() })
      .catch((voidError) => {
        deps.log.error(
          { err: voidError, grant: id },
          "could not release the hold of a grant that was not recorded; it expires on its own",
        );
      });
    throw error;
  }
  return presentGrant(recorded, deps.clock.now().toISOString());
}

/**
 * The id of the grant an `Idempotency-Key` opens: derived from the account and the key, so that a
 * retry, even one that reaches another broker, finds the first request's hold and grant.
 */
function idempotentGrantId(accountId: string, idempotencyKey: string): string {
  const digest = createHash("sha256").update(`grant\n${accountId}\n${idempotencyKey}`).digest();
  let id = "grt_";
  for (let i = 0; i < 24; i++) id += ID_ALPHABET[(digest[i] as number) % 32];
  return id;
}
const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/**
 * The answer to a retried `POST /grants`: the grant the first request opened, when the retry asks
 * for the same grant.
 *
 * @throws MercatoError `CONFLICT` when the key opened a grant with another agent, budget, life or buyer key.
 */
function replayedGrant(
  deps: GrantsDeps,
  grant: GrantRecord,
  body: { agent_id: string; budget_usd: string | number; ttl_s: number; buyer_public_key: string },
  reply: FastifyReply,
) {
  const same =
    grant.agentId === body.agent_id &&
    grant.budgetMicros === Number(parseUsd(body.budget_usd)) &&
    Date.parse(grant.expiresAt) - Date.parse(grant.issuedAt) === body.ttl_s * 1000 &&
    grant.buyerPublicKey === body.buyer_public_key;
  if (!same) {
    throw new MercatoError("CONFLICT", "This Idempotency-Key already opened a different grant", {
      details: { grant_id: grant.id },
    });
  }
  reply.header("idempotent-replayed", "true");
  return presentGrant(grant, deps.clock.now().toISOString());
}
