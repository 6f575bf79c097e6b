import { type AgentScores, type MeasuredFigures, microsToUsdNumber, roundTo } from "@mercato/protocol";
import { presentVerification } from "./endpoint-verification.js";
import type { AgentContractRecord, AgentRecord, PriceHistoryRecord } from "./port.js";

/** The Agent object: the listing without its pricing and metrics. */
export function presentAgent(agent: AgentRecord) {
  return {
    id: agent.id,
    name: agent.name,
    description: agent.description,
    owner_id: agent.ownerId,
    category: agent.category,
    tags: agent.tags,
    version: agent.version,
    api_endpoint: agent.apiEndpoint,
    status: agent.status,
    created_at: agent.createdAt,
    updated_at: agent.updatedAt,
  };
}

/**
 * Display figures of an agent, rounded for people: the measured ones (null with no data yet) and
 * the ranking ones; ranking itself uses the stored values.
 */
function figures(agent: AgentRecord) {
  return scoreFigures(agent.scores, agent.scores.measured, agent.counters.calls);
}

/** A rate for people: 4 decimals, null when nothing was measured. */
export const rate = (value: number | null) => (value === null ? null : roundTo(value, 4));
/** A time for people: 1 decimal, null when nothing was measured. */
export const time = (ms: number | null) => (ms === null ? null : roundTo(ms, 1));

/** The AgentMetrics figures of scores and measured figures, rounded for people. */
export function scoreFigures(scores: AgentScores, measured: MeasuredFigures, totalCalls: number) {
  return {
    success_rate: rate(measured.successRate),
    avg_response_time_ms: time(measured.avgResponseTimeMs),
    uptime_24h: rate(measured.uptime),
    total_calls: totalCalls,
    trust_score: roundTo(scores.trustScore, 4),
    cost_per_success: roundTo(scores.costPerSuccessMicros / 1_000_000, 6),
    ranking: {
      success_rate: roundTo(scores.successRate, 4),
      success_lower_bound: roundTo(scores.successLowerBound, 4),
      category_prior: roundTo(scores.categoryPrior, 4),
    },
  };
}

/**
 * `GET /agents/{id}`: the agent with its AgentPricing, AgentMetrics, endpoint verification as of
 * `now`, and its contract's schemas (`contract`, from `getAgentContract`).
 */
export function presentAgentDetail(
  agent: AgentRecord,
  now: string,
  contract: AgentContractRecord | undefined,
) {
  return {
    ...presentAgent(agent),
    pricing: {
      agent_id: agent.id,
      model: agent.pricing.model,
      price_per_call: microsToUsdNumber(agent.pricing.priceMicros),
      currency: agent.pricing.currency,
      tier: agent.pricing.tier,
      min_calls: agent.pricing.minCalls,
    },
    metrics: { agent_id: agent.id, ...figures(agent), last_updated: agent.metricsUpdatedAt },
    verification: presentVerification(agent, now),
    input_schema: parseSchema(contract?.inputSchema),
    output_schema: parseSchema(contract?.outputSchema),
  };
}

/** A stored contract schema (JSON text the broker checked) as an object; null without one. */
function parseSchema(text: string | null | undefined): Record<string, unknown> | null {
  return text == null ? null : (JSON.parse(text) as Record<string, unknown>);
}

/** One search result: the listing, price and metrics, plus status, tags and trust. */
export function presentSearchResult(agent: AgentRecord) {
  return {
    agent_id: agent.id,
    name: agent.name,
    description: agent.description,
    owner_id: agent.ownerId,
    category: agent.category,
    tags: agent.tags,
    version: agent.version,
    status: agent.status,
    price_per_call: microsToUsdNumber(agent.pricing.priceMicros),
    currency: agent.pricing.currency,
    ...figures(agent),
    has_input_schema: agent.contract.input,
    has_output_schema: agent.contract.output,
  };
}

/** One entry of an agent's price history. */
export function presentPriceChange(change: PriceHistoryRecord) {
  return {
    price_per_call: microsToUsdNumber(change.priceMicros),
    currency: change.currency,
    tier: change.tier,
    min_calls: change.minCalls,
    effective_from: change.effectiveFrom,
    effective_to: change.effectiveTo,
  };
}
