import { MetricsWindow } from "@mercato/protocol";
import { z } from "zod";
import type { Clock } from "../platform/clock.js";
import { type Route, routeDefiner } from "../platform/http/route.js";
import { findAgent } from "../registry/agent-lookup.js";
import type { RegistryStore } from "../registry/port.js";
import { AgentParams } from "../registry/routes.js";
import type { MetricsStore } from "./port.js";
import { presentAgentWindowMetrics } from "./presenters.js";

/** What the metrics routes use: the listing and its window figures, and the clock. */
export interface MetricsDeps {
  store: Pick<RegistryStore, "getAgent"> & Pick<MetricsStore, "getAgentMetrics">;
  clock: Clock;
}

const defineRoute = routeDefiner<MetricsDeps>();

const MetricsQuery = z.strictObject({
  window: MetricsWindow.optional().describe("The last 24h (default), 7d or 30d"),
});

/** An agent's measured figures over a window. */
export const metricsRoutes: Route<MetricsDeps>[] = [
  defineRoute({
    method: "GET",
    url: "/agents/:id/metrics",
    operationId: "getAgentMetrics",
    tag: "Agents",
    summary: "An agent's metrics over a window",
    description:
      "The AgentMetrics figures (success rate, mean response time, uptime, calls) measured over the last 24 hours, 7 days or 30 days, with the raw figures behind them: calls, successes, client errors, p50 and p95 response times, health checks and uptime. `success_rate`, `avg_response_time_ms` and `uptime` are measured over the window (null without calls or checks); `trust_score`, `cost_per_success` and `ranking` are the ranking figures, smoothed (see TRUST_PRIOR) and, for cost per success, a lower bound on the category's prior (see docs/ranking.md); calls between accounts of the agent's own owner never count. `client_errors` are calls that failed by the buyer's fault (input the seller kit refused as invalid, or the broker refused): never in `calls` or the success rate. Over 30d `ranking.success_rate` is the ranked one: each buyer's calls weigh a whole call (an account at least a day old with a completed top-up) or a quarter call, and no buyer holds more than 2% of the weight once enough buyers have called (see BUYER_CAP). The 24h window is exact to the minute; 7d and 30d start at the first whole hour inside them (`from`).",
    auth: "none",
    params: AgentParams,
    query: MetricsQuery,
    errors: ["AGENT_NOT_FOUND"],
    success: { status: 200, schema: "AgentWindowMetrics", description: "The figures over the window" },
    async handler({ deps, params, query }) {
      const agent = await findAgent(deps.store, params.id);
      const window = query.window ?? "24h";
      const now = deps.clock.now().toISOString();
      const metrics = await deps.store.getAgentMetrics(agent.id, window, now);
      const day = window === "24h" ? metrics : await deps.store.getAgentMetrics(agent.id, "24h", now);
      return presentAgentWindowMetrics(agent, metrics, day);
    },
  }),
];
