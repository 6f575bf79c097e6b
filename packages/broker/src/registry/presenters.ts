import {
  type AgentScores,
  type MeasuredFigures,
  microsToUsdNumber,
  roundTo,
  scoreFromWindows,
} from "@mercato/protocol";
import type { WindowFigures } from "./deps.js";
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
const rate = (value: number | null) => (value === null ? null : roundTo(value, 4));
/** A time for people: 1 decimal, null when nothing was measured. */
const time = (ms: number | null) => (ms === null ? null : roundTo(ms, 1));

function scoreFigures(scores: AgentScores, measured: MeasuredFigures, totalCalls: number) {
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
 * `GET /agents/{id}/metrics`: the AgentMetrics figures over one window, then the raw figures behind
 * it. The measured figures are the window's (uptime_24h the last 24 hours'); the ranking figures
 * apply the ranking formulas to the window's calls and the last 24 hours' health checks (`day`),
 * on the prior of the agent's category as last scored, so over 30 days, where the success rate
 * counts each buyer's weight capped (`metrics.ranked`), they are the figures search ranks by;
 * `total_calls` stays the lifetime count and `uptime` is the window's own.
 */
export function presentAgentWindowMetrics(agent: AgentRecord, metrics: WindowFigures, day: WindowFigures) {
  const scores = scoreFromWindows(
    agent.pricing.priceMicros,
    {
      calls: metrics.calls,
      successes: metrics.successes,
      totalResponseTimeMs: (metrics.meanResponseTimeMs ?? 0) * metrics.calls,
    },
    { healthChecks: day.healthChecks, healthyChecks: day.healthyChecks },
    metrics.ranked ?? undefined,
    agent.scores.categoryPrior,
  );
  const measured: MeasuredFigures = {
    successRate: metrics.calls === 0 ? null : metrics.successes / metrics.calls,
    avgResponseTimeMs: metrics.meanResponseTimeMs,
    uptime: day.healthChecks === 0 ? null : day.healthyChecks / day.healthChecks,
  };
  return {
    agent_id: agent.id,
    ...scoreFigures(scores, measured, agent.counters.calls),
    last_updated: agent.metricsUpdatedAt,
    window: metrics.window,
    from: metrics.from,
    to: metrics.to,
    calls: metrics.calls,
    successes: metrics.successes,
    client_errors: metrics.clientErrors,
    p50_response_time_ms: time(metrics.p50ResponseTimeMs),
    p95_response_time_ms: time(metrics.p95ResponseTimeMs),
    uptime: rate(metrics.healthChecks === 0 ? null : metrics.healthyChecks / metrics.healthChecks),
    health_checks: metrics.healthChecks,
    healthy_checks: metrics.healthyChecks,
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
