import { microsToUsdNumber, roundTo } from "@mercato/protocol";
import type { AgentRecord, PriceHistoryRecord } from "../store/types.js";

/** The seed's Agent. */
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

/** Display figures of an agent's ranking, rounded for people; ranking itself uses the stored values. */
function figures(agent: AgentRecord) {
  return {
    success_rate: roundTo(agent.scores.successRate, 4),
    avg_response_time_ms: roundTo(agent.scores.avgResponseTimeMs, 1),
    uptime_24h: roundTo(agent.scores.uptime, 4),
    total_calls: agent.counters.calls,
    trust_score: roundTo(agent.scores.trustScore, 4),
    cost_per_success: roundTo(agent.scores.costPerSuccessMicros / 1_000_000, 6),
  };
}

/** `GET /agents/{id}`: the agent with the seed's AgentPricing and AgentMetrics. */
export function presentAgentDetail(agent: AgentRecord) {
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
  };
}

/** One search result: the seed's shape plus status, tags and trust. */
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
