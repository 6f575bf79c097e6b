import { createHash } from "node:crypto";
import {
  formatUsd,
  type InvokeRequest,
  isMercatoError,
  MercatoError,
  microsToUsdNumber,
  parseUsd,
} from "@mercato/protocol";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { generateApiKey } from "../accounts/api-keys.js";
import { type AccessCaller, authenticateAccess } from "../accounts/authenticate.js";
import type { ApiKeyRecord } from "../accounts/port.js";
import { presentKey } from "../accounts/presenters.js";
import { figure, usdFigure } from "../platform/http/figures.js";
import { type Route, routeDefiner } from "../platform/http/route.js";
import {
  IDEMPOTENCY_MAX_ANSWERS,
  IDEMPOTENCY_MAX_BYTES,
  IDEMPOTENCY_TTL_MS,
  idempotencyKeyOf,
} from "../platform/idempotency.js";
import { newId } from "../platform/ids.js";
import { DEFAULT_FRAUD_SETTINGS, DEFAULT_INVOKE_SETTINGS } from "../platform/settings.js";
import { assertServable } from "../registry/endpoint-verification.js";
import type { AgentRecord } from "../registry/port.js";
import type { InvokeDeps } from "./deps.js";
import { passInvokeGates } from "./gates.js";
import { invokeIdempotent, invokeOnce, newTransactionId } from "./invoke.js";
import type { InvokeAnswer } from "./runtime.js";

const defineRoute = routeDefiner<InvokeDeps>();

const AgentParams = z.object({ id: z.string().max(200).describe("Agent id") });

const FRAUD = DEFAULT_FRAUD_SETTINGS;
const NEW_ACCOUNT_LIMIT =
  FRAUD.newAccountDailyLimitMicros === null
    ? "no limit by default"
    : `${usdFigure(FRAUD.newAccountDailyLimitMicros)} USD per UTC day`;
const BURST_FLOOR = figure(FRAUD.burstFloorPerMinute);

/** Purchase (access keys) and the invoke proxy. */
export const invokeRoutes: Route<InvokeDeps>[] = [
  defineRoute({
    method: "POST",
    url: "/purchase",
    operationId: "purchaseAgent",
    tag: "Invoke",
    summary: "Buy per-call access to an agent",
    description: [
      "Issues an access key (sk_live_…; sk_test_… from a dev broker, whose money is test money) that invokes this agent only, shown once. Buying is free: each successful call is charged the agent's price from the buyer's wallet; failed calls cost nothing. The key may carry an expiry, its own rate limit (calls per minute) and its own spend cap.",
      "",
      `Fraud prevention: an account younger than ${FRAUD.newAccountDays} days may spend at most ${NEW_ACCOUNT_LIMIT} (captured charges plus calls in flight; defaults, the limit is the broker's \`--new-account-daily-limit\`); a call past it answers SPEND_CAP_EXCEEDED with \`daily_limit_usd\` in \`details\`. A key whose calls burst far above its own usual rate (by default more than ${BURST_FLOOR} in a minute and more than ${FRAUD.burstMultiplier}× its trailing mean per minute) is suspended: its calls answer KEY_SUSPENDED (403) and the account is alerted, until the account reinstates the key with \`POST /keys/{id}/reinstate\`.`,
    ].join("\n"),
    auth: "account",
    body: "PurchaseRequest",
    errors: ["AGENT_NOT_FOUND", "AGENT_INACTIVE", "FORBIDDEN"],
    success: { status: 201, schema: "PurchaseResponse", description: "The access key and where to invoke" },
    async handler({ deps, caller, body, request }) {
      if (body.buyer_id !== undefined && body.buyer_id !== caller.account.id) {
        throw new MercatoError("FORBIDDEN", "buyer_id must be your own account (or leave it out)");
      }
      const agent = await purchasableAgent(deps, body.agent_id);
      const now = deps.clock.now().toISOString();
      if (body.expires_at !== undefined && body.expires_at <= now) {
        throw new MercatoError("VALIDATION_ERROR", "expires_at must be in the future");
      }
      const generated = generateApiKey("access", deps.config.dev ? "test" : "live");
      const key: ApiKeyRecord = {
        id: newId("key"),
        accountId: caller.account.id,
        kind: "access",
        name: body.name ?? agent.name.slice(0, 100),
        prefix: generated.prefix,
        hash: generated.hash,
        agentId: agent.id,
        rateLimit: body.rate_limit ?? null,
        spendCap: body.spend_cap_usd === undefined ? null : Number(parseUsd(body.spend_cap_usd)),
        suspendedAt: null,
        suspendReason: null,
        expiresAt: body.expires_at ?? null,
        createdAt: now,
        revokedAt: null,
      };
      await deps.store.insertApiKey(key);
      const base = deps.config.publicUrl ?? `${request.protocol}://${request.host}`;
      return {
        api_key: generated.secret,
        endpoint: `${base}/agents/${agent.id}/invoke`,
        price_per_call: microsToUsdNumber(agent.pricing.priceMicros),
        price_per_call_usd: formatUsd(agent.pricing.priceMicros),
        agent_id: agent.id,
        plan: "per_call" as const,
        key: presentKey(key, 0),
      };
    },
  }),
  defineRoute({
    method: "POST",
    url: "/agents/:id/invoke",
    operationId: "invokeAgent",
    tag: "Invoke",
    summary: "Call an agent through the broker",
    description: [
      "Authenticate with the agent's access key. The broker holds the price on your wallet, calls the seller with a signed request, and charges the hold only when the seller answers 2xx with an `output`; on an error, invalid answer, timeout or unreachable seller it voids the hold and you pay nothing (SELLER_ERROR 502, SELLER_TIMEOUT 504, SELLER_UNAVAILABLE 503, with the voided transaction in `details`).",
      "",
      "Whose fault a failed call is decides what it does to the seller's figures: input the seller kit refuses as invalid (it answers 400 VALIDATION_ERROR, `details.seller_status` and `seller_error_code`) and input the broker refuses here (not JSON, too large, too deep, not an InvokeRequest) are the buyer's, counted as the agent's `client_errors` and never in its success rate; any other failure is the seller's.",
      "",
      `Send an \`Idempotency-Key\` header (1–255 printable characters) to retry safely: a retry with the same key and body returns the first call's answer and is never charged again, also while the first call is still running. Answers are kept in memory for ${figure(IDEMPOTENCY_TTL_MS / 3_600_000)} h, at most ${figure(IDEMPOTENCY_MAX_ANSWERS)} of them and ${figure(IDEMPOTENCY_MAX_BYTES / 1024 / 1024)} MiB (the oldest go first); Mercato never stores inputs or outputs. A retry whose answer was forgotten is answered CONFLICT (409) with the transaction in \`details\`, and is never charged again. Only a call that ran (its price was held) is remembered: a refusal before that (INSUFFICIENT_FUNDS, SPEND_CAP_EXCEEDED) is not, so the same key runs the call once the buyer can pay.`,
      "",
      `The seller has \`timeout_ms\` to answer: ${figure(DEFAULT_INVOKE_SETTINGS.defaultTimeoutMs)} ms when the call names none, at most ${figure(DEFAULT_INVOKE_SETTINGS.maxTimeoutMs)} ms (defaults; the broker's \`--invoke-timeout\` and \`--max-invoke-timeout\`).`,
      "",
      `An access key without its own \`rate_limit\` may make ${figure(DEFAULT_INVOKE_SETTINGS.defaultRateLimit)} calls a minute (default; the broker's \`--rate-limit\`). Every answer carries \`RateLimit-Limit\`, \`RateLimit-Remaining\`, \`RateLimit-Reset\` and \`RateLimit-Policy\`; a 429 also \`Retry-After\`.`,
      "",
      `Spend limits: the hold is refused with SPEND_CAP_EXCEEDED (402) past the account's monthly cap, the key's own cap, or, for an account younger than ${FRAUD.newAccountDays} days, the new-account limit of ${NEW_ACCOUNT_LIMIT} (defaults; captured charges plus calls in flight count; \`details.daily_limit_usd\`, \`spent_today_usd\`, \`required_usd\`).`,
      "",
      `Fraud prevention: a key whose calls in one minute pass both ${BURST_FLOOR} and ${FRAUD.burstMultiplier}× its own trailing mean per minute (defaults; the mean is of about the last hour, and 0 for a new key, which only the ${BURST_FLOOR} then limits) is suspended at that call: it and every later call answer KEY_SUSPENDED (403), the account is alerted, and the key shows \`suspended_at\` and \`suspend_reason\` until its owner reinstates it with \`POST /keys/{id}/reinstate\`.`,
    ].join("\n"),
    auth: "access",
    params: AgentParams,
    body: "InvokeRequest",
    onRefused: countRefusedInput,
    errors: [
      "KEY_SUSPENDED",
      "AGENT_NOT_FOUND",
      "AGENT_INACTIVE",
      "INSUFFICIENT_FUNDS",
      "SPEND_CAP_EXCEEDED",
      "CONFLICT",
      "SELLER_ERROR",
      "SELLER_TIMEOUT",
      "SELLER_UNAVAILABLE",
    ],
    success: {
      status: 200,
      schema: "InvokeResponse",
      description: "The seller's output, the charge and its receipt",
    },
    async handler(context) {
      const started = performance.now();
      try {
        const answer = await invoke(context);
        context.deps.metrics.invoke("ok", (performance.now() - started) / 1000);
        return answer;
      } catch (error) {
        const outcome = isMercatoError(error) ? error.code.toLowerCase() : "error";
        context.deps.metrics.invoke(outcome, (performance.now() - started) / 1000);
        throw error;
      }
    },
  }),
];

/** An authenticated invoke: past the gates (counted by the fraud detector, authorised, rate-limited, the agent servable, the input valid), then run. */
async function invoke({
  deps,
  caller,
  params,
  body,
  request,
  reply,
}: {
  deps: InvokeDeps;
  caller: AccessCaller;
  params: z.output<typeof AgentParams>;
  body: z.output<typeof InvokeRequest>;
  request: FastifyRequest;
  reply: FastifyReply;
}): Promise<InvokeAnswer> {
  const { key } = caller;
  // The refusals before anything is held, in order: gates.ts.
  const { agent, timeoutMs, contract } = await passInvokeGates(deps, key, params.id, body, reply);
  const call = { key, agent, input: body.input, timeoutMs, contract };
  const idempotencyKey = idempotencyKeyOf(request.headers["idempotency-key"]);
  if (idempotencyKey === undefined) return invokeOnce(deps, call, newTransactionId());
  const fingerprint = createHash("sha256").update(JSON.stringify(body)).digest("base64url");
  return invokeIdempotent(deps, call, idempotencyKey, fingerprint, reply);
}

/** The broker's refusals of a request's input: the buyer's mistake, whatever the agent. */
const INPUT_REFUSALS: ReadonlySet<string> = new Set([
  "VALIDATION_ERROR",
  "INVALID_JSON",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
]);

/**
 * Counts an invoke whose input the broker refused (a body that is not JSON, too large, too deep,
 * not an InvokeRequest, a `timeout_ms` past the limit) as the agent's client error, when the
 * request carries an access key that may call the agent: the buyer's mistake, never the seller's
 * failure. Anything else (no key, another agent's key, a suspended key, the owner's own call) is
 * not counted. Never throws.
 */
async function countRefusedInput(
  deps: InvokeDeps,
  request: FastifyRequest,
  error: MercatoError,
): Promise<void> {
  if (!INPUT_REFUSALS.has(error.code)) return;
  try {
    const agentId = (request.params as { id?: unknown } | undefined)?.id;
    if (typeof agentId !== "string") return;
    const { key } = await authenticateAccess(request, deps);
    if (key.agentId !== agentId) return;
    const agent = await deps.invoke.agents.get(agentId, deps.clock.now().getTime());
    if (!agent || agent.status === "inactive" || key.accountId === agent.ownerId) return;
    deps.invoke.outcomes.record({
      agentId,
      buyerId: key.accountId,
      outcome: "client_error",
      responseTimeMs: 0,
    });
  } catch {
    // No key that may call this agent: nothing to count.
  }
}

async function purchasableAgent(deps: InvokeDeps, agentId: string): Promise<AgentRecord> {
  const agent = await deps.store.getAgent(agentId);
  if (!agent) throw new MercatoError("AGENT_NOT_FOUND", `No agent ${agentId}`);
  assertServable(agent, {
    dev: deps.config.dev,
    now: deps.clock.now().toISOString(),
    action: " and cannot be bought",
  });
  return agent;
}
