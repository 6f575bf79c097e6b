import * as z from "zod";
import { isUsdAmount, MICROS_PER_USD, parseUsd } from "../money/money.js";
import { AccountId, AgentId, Currency, Slug, Timestamp } from "./common.js";

/** The highest price per call an agent may ask: 1,000 USD. */
export const MAX_PRICE_PER_CALL_MICROS = 1000n * MICROS_PER_USD;

/**
 * Agent status: `active` (listed, callable), `down` (listed, failing health checks),
 * `inactive` (deactivated by its owner: not listed, not purchasable, not callable).
 */
export const AgentStatus = z.enum(["active", "down", "inactive"]);

/** Pricing models. Only per-call pricing exists today. */
export const PricingModel = z.literal("per_call");

/** A price per call in a request: exact USD, more than zero, at most 1,000 USD. */
export const PricePerCallInput = z
  .union([z.string().max(32), z.number()])
  .refine(
    (value) => isUsdAmount(value) && parseUsd(value) > 0n && parseUsd(value) <= MAX_PRICE_PER_CALL_MICROS,
    "must be a USD amount above 0 and at most 1000, with at most 6 decimal places",
  )
  .describe("USD per successful call, e.g. 0.02 (at most 6 decimal places)");

const Name = z.string().trim().min(1).max(100);
const Description = z.string().trim().max(2000);
const Tags = z
  .array(Slug)
  .max(20)
  .refine((tags) => new Set(tags).size === tags.length, "must not repeat a tag");
const Version = z.string().trim().min(1).max(40);
const Endpoint = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .describe("The seller's HTTPS endpoint; the broker POSTs calls here and GETs {api_endpoint}/health");

/**
 * A listing's contract schema: a JSON Schema (draft 2020-12) object, at most 64 KiB as JSON. The
 * broker checks it at registration (see docs/contracts.md) and answers 400 with the reason.
 */
export const ContractSchema = z
  .record(z.string(), z.unknown())
  .describe(
    "A JSON Schema (draft 2020-12), at most 64 KiB as JSON; $ref only to JSON Pointers in the same document (#/…)",
  );

/** Pricing in a registration request (AgentPricing, minus what the broker decides). */
export const PricingInput = z.strictObject({
  model: PricingModel,
  price_per_call: PricePerCallInput,
  currency: Currency.optional(),
  tier: z.string().trim().min(1).max(40).optional(),
  min_calls: z.number().int().min(1).max(1_000_000).optional(),
});

/** `POST /agents/register`: the listing's name, description, category, tags, endpoint and pricing. */
export const RegisterAgentRequest = z.strictObject({
  name: Name,
  description: Description,
  category: Slug,
  tags: Tags.optional(),
  version: Version.optional(),
  api_endpoint: Endpoint,
  pricing: PricingInput,
  input_schema: ContractSchema.optional().describe(
    "JSON Schema of the call's `input` (draft 2020-12, ≤ 64 KiB)",
  ),
  output_schema: ContractSchema.optional().describe(
    "JSON Schema of the seller's `output` (draft 2020-12, ≤ 64 KiB); an output that breaks it is a failed call, not paid",
  ),
});

/**
 * How far the broker has verified that a listing's endpoint serves the listing's owner: `verified`
 * (the endpoint answered the challenge naming this listing or its owner; dev mode verifies at once),
 * `pending` (not yet: the listing is not listed, purchasable or callable; `reason` says why, and
 * `POST /agents/{id}/verify` tries again), `grace` (a listing made before endpoint verification
 * existed: served until `grace_until` while the broker tries to verify it).
 */
export const EndpointVerification = z.object({
  state: z.enum(["verified", "pending", "grace"]),
  verified_at: Timestamp.nullable(),
  grace_until: Timestamp.nullable(),
  challenge_url: z
    .string()
    .nullable()
    .describe(
      'Where the broker asks for the proof (GET), when not verified: answer {"token": "<the token at the end of the URL>", "owner": "<your account id>"} (the seller kit does it by itself)',
    ),
  reason: z.string().nullable().describe("Why the endpoint is not verified yet (the last attempt's failure)"),
  checked_at: Timestamp.nullable().describe("When the broker last tried to verify the endpoint"),
});

/**
 * `POST /agents/register` answer: `{agent_id, status, verification}`. `status` is `registered` when
 * the listing is active at once (its endpoint verified), `pending_verification` when it waits for the
 * endpoint to prove it serves this account (see `verification`).
 */
export const RegisterAgentResponse = z.object({
  agent_id: AgentId,
  status: z.enum(["registered", "pending_verification"]),
  verification: EndpointVerification,
});

/** `POST /agents/{id}/verify` answer: the listing's status and its endpoint's verification. */
export const VerifyAgentResponse = z.object({
  agent_id: AgentId,
  status: AgentStatus,
  verification: EndpointVerification,
});

/** `PATCH /agents/{id}`: any subset of the registration's fields; `status` re-activates or deactivates. */
export const UpdateAgentRequest = z
  .strictObject({
    name: Name.optional(),
    description: Description.optional(),
    category: Slug.optional(),
    tags: Tags.optional(),
    version: Version.optional(),
    api_endpoint: Endpoint.optional(),
    status: z.enum(["active", "inactive"]).optional(),
    pricing: z
      .strictObject({
        model: PricingModel.optional(),
        price_per_call: PricePerCallInput.optional(),
        currency: Currency.optional(),
        tier: z.string().trim().min(1).max(40).optional(),
        min_calls: z.number().int().min(1).max(1_000_000).optional(),
      })
      .refine(hasAField, "must change at least one pricing field")
      .optional(),
    input_schema: ContractSchema.nullable().optional().describe("A new input schema; null removes it"),
    output_schema: ContractSchema.nullable().optional().describe("A new output schema; null removes it"),
  })
  .refine(hasAField, "must change at least one field");

function hasAField(patch: object): boolean {
  return Object.values(patch).some((value) => value !== undefined);
}

/** An agent as listed: who owns it, what it does, where it answers, and its status. */
export const Agent = z.object({
  id: AgentId,
  name: z.string(),
  description: z.string(),
  owner_id: AccountId,
  category: z.string(),
  tags: z.array(z.string()),
  version: z.string(),
  api_endpoint: z.string(),
  status: AgentStatus,
  created_at: Timestamp,
  updated_at: Timestamp,
});

/** An agent's pricing. `price_per_call` is a display number of USD (exact to 6 decimals). */
export const AgentPricing = z.object({
  agent_id: AgentId,
  model: PricingModel,
  price_per_call: z.number(),
  currency: Currency,
  tier: z.string(),
  min_calls: z.number().int(),
});

/**
 * The figures ranking sorts by, apart from the measured ones: `success_rate` smoothed toward the
 * prior and capped per buyer, its conservative lower bound, and the category prior behind it.
 */
export const RankingFigures = z
  .object({
    success_rate: z
      .number()
      .min(0)
      .max(1)
      .describe(
        "Smoothed success rate (95% prior worth 20 calls), each buyer's weight capped: the trust score's input, not a measurement",
      ),
    success_lower_bound: z
      .number()
      .min(0)
      .max(1)
      .describe(
        "Conservative success rate (90% Wilson lower bound on the capped calls and the category prior worth 2 calls): cost_per_success divides by it",
      ),
    category_prior: z
      .number()
      .min(0)
      .max(1)
      .describe(
        "Success rate assumed of a listing with no record: the median of the category's established listings (one figure per owner), 0.95 with fewer than 3",
      ),
  })
  .describe("Ranking figures: estimates for sorting, not measurements (see docs/ranking.md)");

/** A measured rate: null when nothing was measured. */
const MeasuredRate = z.number().min(0).max(1).nullable();

/**
 * An agent's metrics: measured figures (success rate, mean response time, uptime; null with no
 * data yet), calls, and the figures ranking uses (`trust_score`, `cost_per_success`, `ranking`).
 */
export const AgentMetrics = z.object({
  agent_id: AgentId,
  success_rate: MeasuredRate.describe("Measured over 30 days: successes / calls; null without calls"),
  avg_response_time_ms: z
    .number()
    .min(0)
    .nullable()
    .describe("Measured mean response time over 30 days; null without calls"),
  uptime_24h: MeasuredRate.describe("Healthy / health checks over 24 hours; null without checks"),
  total_calls: z.number().int().min(0).describe("Calls ever measured; 0 means a new listing, no record yet"),
  trust_score: z.number().min(0).max(1).describe("Ranking figure from smoothed inputs, 0 to 1"),
  cost_per_success: z
    .number()
    .min(0)
    .describe("Ranking figure, USD per success: price_per_call / ranking.success_lower_bound"),
  ranking: RankingFigures,
  last_updated: Timestamp,
});

/** The windows `GET /agents/{id}/metrics` reports over. */
export const MetricsWindow = z.enum(["24h", "7d", "30d"]);

/**
 * `GET /agents/{id}/metrics`: the AgentMetrics figures over one window, with the raw figures
 * behind them. `success_rate`, `avg_response_time_ms` and `uptime` are measured over the window
 * (null without calls or checks), `uptime_24h` over the last 24 hours; `trust_score`,
 * `cost_per_success` and `ranking` apply the ranking formulas to the window's calls and the last
 * 24 hours' uptime. Over `30d` they are the figures search ranks by: the success rate then weighs
 * each buyer's calls, capped per buyer (see `BUYER_WEIGHT`). Percentiles come from a fixed log-scale
 * histogram, interpolated within a bucket; null without calls.
 */
export const AgentWindowMetrics = AgentMetrics.extend({
  window: MetricsWindow,
  from: Timestamp.describe(
    "Start of the window: figures are exact sums of the calls and checks from here to `to`",
  ),
  to: Timestamp,
  calls: z
    .number()
    .int()
    .min(0)
    .describe(
      "Measured calls in the window: successes and seller failures (calls between one owner's accounts, and client errors, excluded)",
    ),
  successes: z.number().int().min(0),
  client_errors: z
    .number()
    .int()
    .min(0)
    .describe(
      "Calls that failed by the buyer's fault in the window: input the seller kit refused as invalid (400 VALIDATION_ERROR) or the broker refused. Not in `calls`: they never lower the success rate",
    ),
  p50_response_time_ms: z.number().min(0).nullable(),
  p95_response_time_ms: z.number().min(0).nullable(),
  uptime: MeasuredRate.describe("Healthy / health checks in the window; null without checks"),
  health_checks: z.number().int().min(0),
  healthy_checks: z.number().int().min(0),
});

/** `GET /agents/{id}`: the agent with its pricing, metrics and its endpoint's verification. */
export const AgentDetail = Agent.extend({
  pricing: AgentPricing,
  metrics: AgentMetrics,
  verification: EndpointVerification,
  input_schema: ContractSchema.nullable().describe(
    "The contract's input schema, as registered; null without one",
  ),
  output_schema: ContractSchema.nullable().describe(
    "The contract's output schema, as registered; null without one",
  ),
});

/** One price an agent asked, from `effective_from` until `effective_to` (null: still in force). */
export const PriceChange = z.object({
  price_per_call: z.number(),
  currency: Currency,
  tier: z.string(),
  min_calls: z.number().int(),
  effective_from: Timestamp,
  effective_to: Timestamp.nullable(),
});

/** `GET /agents/{id}/price-history`, newest first. */
export const PriceHistory = z.object({
  agent_id: AgentId,
  data: z.array(PriceChange),
});

/** `DELETE /agents/{id}` answer. */
export const DeactivateAgentResponse = z.object({
  agent_id: AgentId,
  status: z.literal("inactive"),
});

/**
 * Sort orders of search. `cost_per_success` (price / the conservative lower bound of the success
 * rate) is the default; `response_time_asc` sorts by the smoothed mean response time.
 */
export const SearchSort = z.enum(["cost_per_success", "trust_score_desc", "price_asc", "response_time_asc"]);

/** `GET /agents/search` query. */
export const SearchAgentsQuery = z.strictObject({
  category: Slug.optional(),
  tags: z
    .union([z.string().max(900), z.array(z.string().max(900)).max(20)])
    .optional()
    .describe("Tags the agent must all have: comma-separated, or the parameter repeated"),
  q: z.string().trim().max(200).optional().describe("Words to find in the name, description or tags"),
  max_price: z
    .string()
    .max(32)
    .refine(isUsdAmount, "must be a USD amount with at most 6 decimal places")
    .optional()
    .describe("Highest price per call, USD"),
  min_trust: z.coerce.number().min(0).max(1).optional().describe("Lowest trust score, 0 to 1"),
  sort: SearchSort.optional().describe("Default: cost_per_success"),
  limit: z.coerce.number().int().min(1).max(100).optional().describe("Results per page, 1–100 (default 20)"),
  cursor: z.string().max(512).optional().describe("next_cursor of the previous page"),
});

/**
 * One search result: the agent's listing, price and figures, with status, tags and trust: the
 * measured figures (null with no data yet) and the ranking figures, as in AgentMetrics.
 */
export const SearchResult = z.object({
  agent_id: AgentId,
  name: z.string(),
  description: z.string(),
  owner_id: AccountId,
  category: z.string(),
  tags: z.array(z.string()),
  version: z.string(),
  status: AgentStatus,
  price_per_call: z.number(),
  currency: Currency,
  success_rate: AgentMetrics.shape.success_rate,
  avg_response_time_ms: AgentMetrics.shape.avg_response_time_ms,
  uptime_24h: AgentMetrics.shape.uptime_24h,
  total_calls: AgentMetrics.shape.total_calls,
  trust_score: AgentMetrics.shape.trust_score,
  cost_per_success: AgentMetrics.shape.cost_per_success,
  ranking: RankingFigures,
  has_input_schema: z
    .boolean()
    .describe("Whether the listing declares an input schema (GET /agents/{id} has it)"),
  has_output_schema: z.boolean().describe("Whether the listing declares an output schema"),
});

/** `GET /agents/search` answer: a page of results and the cursor of the next (null at the end). */
export const SearchAgentsResponse = z.object({
  results: z.array(SearchResult),
  next_cursor: z.string().nullable(),
});

/** `GET /categories`: listed categories with the number of listed agents in each. */
export const CategoryList = z.object({
  categories: z.array(z.object({ category: z.string(), count: z.number().int() })),
});
