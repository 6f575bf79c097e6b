import type { RankedCalls } from "@mercato/protocol";

// The records the metrics module owns; its port (the store interface) is in port.ts.

/**
 * How a measured call ended, by whose fault:
 * - `success`: the seller answered and was paid.
 * - `failure`: the seller's fault (a 5xx, a timeout, unreachable, an invalid answer, any 4xx that
 *   is not the seller kit's refusal of invalid input). Lowers the agent's success rate.
 * - `client_error`: the buyer's fault (input the seller kit refused as invalid, `400
 *   VALIDATION_ERROR`, or input the broker itself refused for an agent the key may call). Never
 *   counts in the success rate or the calls behind it; counted apart (`client_errors`).
 */
export type CallOutcomeKind = "success" | "failure" | "client_error";

/**
 * The outcome of one measured call, as the invoke path (and direct-mode usage reports) record it.
 * Calls between accounts of the agent's owner are never recorded (no wash trading).
 */
export interface CallOutcome {
  agentId: string;
  /** The buying account: its calls' weight in the ranking is capped per buyer (see `BUYER_WEIGHT`). */
  buyerId: string;
  outcome: CallOutcomeKind;
  /** How long the seller took; not counted for a `client_error`. */
  responseTimeMs: number;
}

/** The outcome of one health check. */
export interface HealthCheckOutcome {
  agentId: string;
  healthy: boolean;
}

/** The windows an agent's metrics are reported over. */
export type MetricsWindow = "24h" | "7d" | "30d";

/**
 * An agent's measured figures over one window, summed exactly from time buckets (raw, not
 * smoothed). Response-time percentiles come from a fixed histogram (see the metrics schema).
 */
export interface AgentWindowMetrics {
  agentId: string;
  window: MetricsWindow;
  /** Start and end of the window (ISO 8601). */
  from: string;
  to: string;
  /** Calls measured: successes and seller failures (client errors are apart). */
  calls: number;
  successes: number;
  /** Calls that failed by the buyer's fault (see {@link CallOutcomeKind}): not in `calls`. */
  clientErrors: number;
  /**
   * Over the ranking window (30d) only, null otherwise: the window's calls and successes with each
   * buyer's weight capped (`cappedBuyerWeights`), from which the ranked success rate is smoothed.
   */
  ranked: RankedCalls | null;
  /** Null when there were no calls in the window. */
  meanResponseTimeMs: number | null;
  p50ResponseTimeMs: number | null;
  p95ResponseTimeMs: number | null;
  healthChecks: number;
  healthyChecks: number;
}

/** An agent the health checker visits. */
export interface HealthCheckTarget {
  id: string;
  apiEndpoint: string;
  status: "active" | "down";
}

/**
 * A broker's claim to health-check one endpoint now. Brokers sharing a store check each endpoint at
 * most once per interval between them, and one host at most `perHost` times per interval window.
 */
export interface HealthCheckClaim {
  /** The endpoint's health URL (`GET {api_endpoint}/health`), the same for every listing of it. */
  endpoint: string;
  /** Its host name, lowercase, without port: what `perHost` counts. */
  host: string;
  /** Now, ms since the epoch. */
  at: number;
  /**
   * The health-check interval, ms: the endpoint must not have been claimed in the last
   * `intervalMs`, and its host's checks are counted per window `[k·intervalMs, (k+1)·intervalMs)`.
   */
  intervalMs: number;
  /** Most checks of `host` in one window, by every broker on the store. */
  perHost: number;
}

/**
 * `granted`: check it now; `checked`: some broker claimed it less than an interval ago;
 * `host_busy`: its host has had `perHost` checks in this window.
 */
export type HealthClaimResult = "granted" | "checked" | "host_busy";

/** An endpoint's failed health checks in a row, after a check and before it. */
export interface EndpointHealth {
  failures: number;
  previousFailures: number;
}
