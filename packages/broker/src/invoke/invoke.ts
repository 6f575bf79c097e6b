import { createHash } from "node:crypto";
import { formatUsd, MercatoError, microsToUsdNumber, splitCharge } from "@mercato/protocol";
import type { FastifyReply } from "fastify";
import type { ApiKeyRecord } from "../accounts/port.js";
import type { CompiledContract } from "../contracts/index.js";
import type { ChargeRecord } from "../ledger/port.js";
import { newId } from "../platform/ids.js";
import type { AgentRecord } from "../registry/port.js";
import { receiptPayload } from "../signing/receipt-payload.js";
import type { InvokeDeps } from "./deps.js";
import { spendLimits } from "./gates.js";
import type { InvokeAnswer } from "./runtime.js";
import type { SellerCallResult } from "./seller-client.js";
import { outcomeOf, outputSchemaFailure, sellerFailure } from "./seller-failures.js";

/** A hold outlives its call's timeout by this much, so that only a stalled broker lets one expire. */
const HOLD_MARGIN_MS = 5 * 60_000;

/** One invoke, authenticated and authorised. */
export interface InvokeCall {
  key: ApiKeyRecord;
  agent: AgentRecord;
  input: unknown;
  timeoutMs: number;
  /** The listing's compiled contract; its output check decides whether a 2xx is paid. */
  contract?: CompiledContract;
}

/**
 * Runs an invoke with an `Idempotency-Key`: the first request with a key runs the call; a retry
 * with the same key and body gets the first one's answer (waiting for it while it runs) and is
 * never charged again. A refusal before the hold (funds, caps) is not remembered: a later retry
 * runs the call anew. The transaction id is derived from the buyer, the agent and the key, so
 * even a retry that outlived the broker's memory cannot place a second hold.
 *
 * @throws MercatoError `CONFLICT` (the key was used for another
 *   request, or its answer is no longer kept), or whatever the first call answered.
 */
export async function invokeIdempotent(
  deps: InvokeDeps,
  call: InvokeCall,
  /** Checked by `idempotencyKeyOf`. */
  idempotencyKey: string,
  fingerprint: string,
  reply: FastifyReply,
): Promise<InvokeAnswer> {
  const scope = `${call.key.accountId}\n${call.agent.id}\n${idempotencyKey}`;
  const transactionId = `txn_${createHash("sha256").update(scope).digest("base64url").slice(0, 32)}`;
  const run = deps.invoke.idempotency.run(
    scope,
    fingerprint,
    deps.clock.now().getTime(),
    async (began) => {
      const earlier = await deps.store.getCharge(transactionId);
      if (earlier) {
        throw new MercatoError(
          "CONFLICT",
          `This Idempotency-Key was used for transaction ${transactionId} (${earlier.status}), whose answer is no longer kept: Mercato does not store outputs. Use a new key to call again.`,
          { details: { transaction_id: transactionId, status: earlier.status } },
        );
      }
      return invokeOnce(deps, call, transactionId, began);
    },
    (answer) => JSON.stringify(answer.output ?? null).length + 1024,
  );
  if (!run.sameRequest) {
    throw new MercatoError(
      "CONFLICT",
      "This Idempotency-Key was already used with a different request body",
      {
        details: { idempotency_key: idempotencyKey },
      },
    );
  }
  if (!run.first) reply.header("idempotent-replayed", "true");
  const outcome = await run.outcome;
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

/** A fresh transaction id for a call without an Idempotency-Key. */
export function newTransactionId(): string {
  return newId("txn");
}

/**
 * The invoke itself, once the gates before the hold are passed (`gates.ts`): hold the price, call the seller with a signed request, then capture on
 * success or void on failure. A failure costs nothing and answers `SELLER_ERROR`,
 * `SELLER_TIMEOUT` or `SELLER_UNAVAILABLE` with the voided transaction in `details`. An account
 * younger than the new-account period holds under its daily limit.
 *
 * @throws MercatoError `INSUFFICIENT_FUNDS`, `SPEND_CAP_EXCEEDED` (the account's monthly cap, the
 *   new-account daily limit or the key's cap), or a seller failure code.
 */
export async function invokeOnce(
  deps: InvokeDeps,
  call: InvokeCall,
  transactionId: string,
  /** Told once this call's hold is placed, before the seller is called. */
  onHeld?: () => void,
): Promise<InvokeAnswer> {
  const { key, agent, timeoutMs } = call;
  const price = agent.pricing.priceMicros;
  const heldAt = deps.clock.now();
  const target = sellerTarget(agent.apiEndpoint);
  const body = JSON.stringify({ input: call.input ?? null, call_id: transactionId, timeout_ms: timeoutMs });
  // The call is signed on the thread pool while the hold is placed; a refused hold drops the signature.
  const signing = deps.signer.signCall({
    method: "POST",
    path: target.path,
    body,
    callId: transactionId,
    // The seller checks the timestamp against its own wall clock, not the broker's injected clock.
    timestamp: Math.floor(Date.now() / 1000),
    // The listing the buyer pays: the seller kit refuses a call for a listing that is not its own.
    agentId: agent.id,
    agentOwner: agent.ownerId,
    priceMicros: price,
    // A listing from before endpoint proofs, in its grace period: its seller may still run a kit
    // that checks only the retired v1 signature, so that one is sent too, until the listing proves.
    legacy: agent.endpoint.verifiedAt === null && agent.endpoint.graceUntil !== null,
  });
  signing.catch(() => {});
  // Gate 7 (gates.ts): the hold's limits; the ledger refuses past them, atomically with the hold.
  const limits = await spendLimits(deps, key, heldAt.getTime());
  const charge = await deps.store.hold({
    id: transactionId,
    buyerId: key.accountId,
    sellerAccountId: agent.ownerId,
    agentId: agent.id,
    ...limits,
    amount: price,
    expiresAt: new Date(heldAt.getTime() + timeoutMs + HOLD_MARGIN_MS).toISOString(),
    at: heldAt.toISOString(),
  });
  // A hold placed by another broker process racing on the same Idempotency-Key is answered as a
  // replay: it is not this call's, so this call must neither call the seller nor resolve it.
  if (charge.replayed || charge.status !== "pending") {
    throw new MercatoError(
      "CONFLICT",
      `Transaction ${transactionId} is ${charge.status === "pending" ? "being answered by another request" : `already ${charge.status}`}; its output is not kept: use a new Idempotency-Key to call again`,
      { details: { transaction_id: transactionId, status: charge.status } },
    );
  }
  onHeld?.();
  deps.metrics.holdOpened();
  try {
    return await callSeller(deps, call, { transactionId, charge, target, body, signing });
  } finally {
    deps.metrics.holdClosed();
  }
}

/** The second half of an invoke, once the hold is placed: call the seller, then capture or void. */
async function callSeller(
  deps: InvokeDeps,
  call: InvokeCall,
  placed: {
    transactionId: string;
    charge: ChargeRecord;
    target: { origin: string; path: string };
    body: string;
    signing: Promise<Record<string, string>>;
  },
): Promise<InvokeAnswer> {
  const { key, agent, timeoutMs } = call;
  const { transactionId, charge, target, body, signing } = placed;
  const price = agent.pricing.priceMicros;
  const started = performance.now();
  let result: SellerCallResult;
  try {
    const headers = await signing;
    headers["content-type"] = "application/json";
    headers["user-agent"] = "mercato-broker";
    result = await deps.invoke.sellers.call({
      origin: target.origin,
      path: target.path,
      body,
      headers,
      timeoutMs,
    });
  } catch (error) {
    await voidQuietly(deps, transactionId);
    throw error;
  }
  const responseTimeMs = Math.round(performance.now() - started);
  // A 2xx whose output breaks the listing's output schema is the seller's failed call.
  const broken = result.kind === "ok" ? (call.contract?.output?.(result.output) ?? []) : [];
  // Calls between an owner's own accounts would let a seller inflate its own figures.
  if (key.accountId !== agent.ownerId) {
    deps.invoke.outcomes.record({
      agentId: agent.id,
      buyerId: key.accountId,
      outcome: broken.length > 0 ? "failure" : outcomeOf(result),
      responseTimeMs,
    });
  }

  if (result.kind !== "ok" || broken.length > 0) {
    await voidQuietly(deps, transactionId);
    const context = { transactionId, responseTimeMs, timeoutMs };
    const failure =
      result.kind === "ok" ? outputSchemaFailure(broken, context) : sellerFailure(result, context);
    deps.metrics.sellerError(failure.code);
    throw failure;
  }
  // The receipt of the charge about to be captured is signed while the capture commits.
  const capturedAt = deps.clock.now().toISOString();
  const fee = Number(splitCharge(price).fee);
  const receipt = deps.signer.sign(
    receiptPayload({ ...charge, captured: price, fee, resolvedAt: capturedAt }),
  );
  receipt.catch(() => {});
  const captured = await deps.store.capture({
    id: `${transactionId}.capture`,
    holdId: transactionId,
    amount: price,
    at: capturedAt,
  });
  deps.metrics.charged(captured.captured);
  const signed =
    captured.captured === price && captured.fee === fee && captured.resolvedAt === capturedAt
      ? await receipt
      : await deps.signer.sign(
          receiptPayload({ ...captured, resolvedAt: captured.resolvedAt ?? capturedAt }),
        );
  return {
    output: result.output,
    cost: microsToUsdNumber(captured.captured),
    cost_usd: formatUsd(captured.captured),
    metrics: { response_time_ms: responseTimeMs, seller_id: agent.id },
    transaction_id: transactionId,
    receipt: signed,
  };
}

async function voidQuietly(deps: InvokeDeps, transactionId: string): Promise<void> {
  try {
    await deps.store.voidHold({
      id: `${transactionId}.void`,
      holdId: transactionId,
      at: deps.clock.now().toISOString(),
    });
  } catch (error) {
    // The hold expires on its own (the sweeper voids it); the buyer is not charged either way.
    deps.log.error({ err: error, transaction_id: transactionId }, "could not void a failed call's hold");
  }
}

/** The origin and request target (path and query) of a seller endpoint. */
function sellerTarget(endpoint: string): { origin: string; path: string } {
  const url = new URL(endpoint);
  return { origin: url.origin, path: `${url.pathname}${url.search}` };
}
