import * as z from "zod";
import { isUsdAmount } from "../money/money.js";
import { ApiKey } from "./accounts.js";
import { AccountId, AgentId, Timestamp, UsdAmount, UsdAmountInput } from "./common.js";
import { Receipt } from "./ledger.js";

/** Calls per minute an access key may carry as its own rate limit. */
export const MAX_RATE_LIMIT_PER_MINUTE = 10_000_000;

const RateLimit = z
  .number()
  .int()
  .min(1)
  .max(MAX_RATE_LIMIT_PER_MINUTE)
  .describe("Calls per minute this key may make (default: the broker's)");

const SpendCap = z
  .union([z.string().max(32), z.number()])
  .refine(isUsdAmount, "must be a USD amount with at most 6 decimal places")
  .describe("Most this key may ever spend, in USD (captured charges plus calls in flight)");

/**
 * `POST /purchase`: buy per-call access to an agent. Issues an access key
 * (`sk_live_…`, or `sk_test_…` from a dev broker) that invokes this agent only; each successful call is charged at the agent's price.
 * `buyer_id`, when given, must be the caller's own account.
 */
export const PurchaseRequest = z.strictObject({
  agent_id: AgentId,
  plan: z.literal("per_call").default("per_call").describe("Only per-call pricing exists"),
  buyer_id: AccountId.optional().describe("The buying account; must be the caller's (the default)"),
  name: z.string().trim().min(1).max(100).optional().describe("A name for the access key"),
  expires_at: Timestamp.optional().describe("When the access key stops working; must be in the future"),
  rate_limit: RateLimit.optional(),
  spend_cap_usd: SpendCap.optional(),
});

/** `POST /purchase` answer: `{api_key, endpoint, price_per_call}` plus the key's metadata. */
export const PurchaseResponse = z.object({
  api_key: z
    .string()
    .describe(
      "The access key (sk_live_…, or sk_test_… from a dev broker) for this agent. Shown once: store it now.",
    ),
  endpoint: z.string().describe("Where to invoke: POST here with the access key"),
  price_per_call: z.number().describe("Price in USD as a number, for display; `price_per_call_usd` is exact"),
  price_per_call_usd: UsdAmount.describe("The exact price each successful call is charged"),
  agent_id: AgentId,
  plan: z.literal("per_call"),
  key: ApiKey,
});

/** `PATCH /keys/{id}`: change a key's name, rate limit or spend cap (`null` restores the default / removes the cap). */
export const UpdateKeyRequest = z
  .strictObject({
    name: z.string().trim().min(1).max(100).nullable().optional(),
    rate_limit: RateLimit.nullable().optional(),
    spend_cap_usd: SpendCap.nullable().optional(),
  })
  .refine((body) => Object.keys(body).length > 0, "name at least one field to change");

/** `POST /agents/{id}/invoke`: the seller's input and an optional timeout. */
export const InvokeRequest = z.strictObject({
  input: z.unknown().describe("The input for the seller, any JSON value (missing is sent as null)"),
  timeout_ms: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("How long to wait for the seller, in ms (default and maximum are the broker's)"),
  max_price_usd: UsdAmountInput.optional().describe(
    "The most this call may cost, USD: when the agent's price is above it (raised since you looked), the call is refused with CONFLICT (`details.reason: price_above_max`) and nothing is held or charged",
  ),
});

/** How the call went, as measured by the broker. */
export const InvokeMetrics = z.object({
  response_time_ms: z
    .number()
    .int()
    .nonnegative()
    .describe("The seller's time to answer, as the broker saw it"),
  seller_id: AgentId,
});

/**
 * `POST /agents/{id}/invoke` answer: `{output, cost, metrics}` plus the exact cost, the charge's transaction id
 * and its signed receipt. Only successful calls answer this; a failed one answers the error envelope
 * (SELLER_ERROR, SELLER_TIMEOUT, SELLER_UNAVAILABLE) and costs nothing.
 */
export const InvokeResponse = z.object({
  output: z.unknown().describe("The seller's output"),
  cost: z.number().describe("Cost in USD as a number, for display; `cost_usd` is exact"),
  cost_usd: UsdAmount.describe("The exact amount charged"),
  metrics: InvokeMetrics,
  transaction_id: z.string(),
  receipt: Receipt,
});

/** A failed invoke's `error.details`: the voided transaction and what the broker saw. */
export const InvokeFailureDetails = z.object({
  transaction_id: z.string(),
  cost_usd: UsdAmount.describe("Always 0: failed calls are not charged"),
  response_time_ms: z.number().int().nonnegative(),
  seller_status: z.number().int().optional().describe("The seller's HTTP status, when it answered"),
  seller_error_code: z.string().optional().describe("The seller's error code, when it sent an envelope"),
});
