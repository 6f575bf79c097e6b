import type {
  AgentWindowMetrics,
  CallOutcome,
  EndpointHealth,
  HealthCheckClaim,
  HealthCheckOutcome,
  HealthCheckTarget,
  HealthClaimResult,
  MetricsWindow,
} from "./records.js";

export type {
  AgentWindowMetrics,
  CallOutcome,
  CallOutcomeKind,
  EndpointHealth,
  HealthCheckClaim,
  HealthCheckOutcome,
  HealthCheckTarget,
  HealthClaimResult,
  MetricsWindow,
} from "./records.js";

/** Measured figures of agents: call outcomes, health checks, windows and ranking figures. */
export interface MetricsStore {
  /** Adds measured call outcomes to the agents' counters and refreshes their ranking figures. */
  recordCallOutcomes(outcomes: CallOutcome[], at: string): Promise<void>;
  /** Adds health-check outcomes to the agents' counters and refreshes their ranking figures. */
  recordHealthChecks(outcomes: HealthCheckOutcome[], at: string): Promise<void>;
  /** An agent's figures over a window ending at `now`. */
  getAgentMetrics(agentId: string, window: MetricsWindow, now: string): Promise<AgentWindowMetrics>;
  /**
   * Recomputes the ranking figures (trust score, cost per success) of the given agents, or of every
   * agent measured in the last 30 days, from their windows as of `now`; returns how many changed.
   */
  refreshScores(now: string, agentIds?: string[]): Promise<number>;
  /** Agents to health-check: every agent listed as up (`active`) or `down`. */
  listHealthCheckTargets(): Promise<HealthCheckTarget[]>;
  /**
   * Claims one health check of an endpoint, atomically across every broker on the store: granted
   * at most once per endpoint per interval, and at most `perHost` times per host per window.
   */
  claimHealthCheck(claim: HealthCheckClaim): Promise<HealthClaimResult>;
  /**
   * Records the result of an endpoint's check: its count of failures in a row, shared by every
   * broker on the store (so that checks made by different brokers add up), after and before.
   */
  recordEndpointHealth(endpoint: string, host: string, healthy: boolean, at: string): Promise<EndpointHealth>;
  /** Marks an agent up (`active`) or `down`; false (nothing changed) when it is deactivated, missing or already so. */
  setAgentHealthStatus(agentId: string, status: "active" | "down", at: string): Promise<boolean>;
}
