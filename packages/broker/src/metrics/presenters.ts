import { type MeasuredFigures, scoreFromWindows } from "@mercato/protocol";
import type { AgentRecord } from "../registry/port.js";
import { rate, scoreFigures, time } from "../registry/presenters.js";
import type { AgentWindowMetrics } from "./port.js";

/**
 * `GET /agents/{id}/metrics`: the AgentMetrics figures over one window, then the raw figures behind
 * it. The measured figures are the window's (uptime_24h the last 24 hours'); the ranking figures
 * apply the ranking formulas to the window's calls and the last 24 hours' health checks (`day`),
 * on the prior of the agent's category as last scored, so over 30 days, where the success rate
 * counts each buyer's weight capped (`metrics.ranked`), they are the figures search ranks by;
 * `total_calls` stays the lifetime count and `uptime` is the window's own.
 */
export function presentAgentWindowMetrics(
  agent: AgentRecord,
  metrics: AgentWindowMetrics,
  day: AgentWindowMetrics,
) {
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
