/**
 * The smoothing prior of every rate Mercato ranks by. Each measured figure is blended with a
 * prior worth a fixed number of observations (a Beta prior for rates, a pseudo-mean for time):
 *
 *   success_rate = (successes + 0.95 × 20) / (calls + 20)
 *   avg_response_time_ms = (Σ response times + 500 × 20) / (calls + 20)
 *   uptime = (healthy checks + 0.95 × 20) / (checks + 20)
 *
 * So a new agent starts at the prior (95% success, 500 ms, 95% up), one lucky call (1 of 1 →
 * 95.2%) cannot outrank a long record (9,980 of 10,000 → 99.79%), and the prior's weight fades as
 * calls accumulate.
 */
export const TRUST_PRIOR = {
  /** Pseudo-observations the prior is worth. */
  weight: 20,
  successRate: 0.95,
  responseTimeMs: 500,
  uptime: 0.95,
} as const;

/** Raw counters of one agent, as measured. */
export interface AgentCounters {
  /** Calls measured (excluding calls between accounts of one owner). */
  calls: number;
  /** Of those, the successful ones. */
  successes: number;
  /** Sum of the response times of the measured calls, in ms. */
  totalResponseTimeMs: number;
  /** Health checks made. */
  healthChecks: number;
  /** Of those, the healthy ones. */
  healthyChecks: number;
}

/** The smoothed figures search and ranking use. */
export interface AgentScores {
  successRate: number;
  avgResponseTimeMs: number;
  uptime: number;
  /** `success_rate*0.5 + clamp(1 − avg_response_time_ms/1000, 0, 1)*0.2 + uptime*0.3`, in [0, 1]. */
  trustScore: number;
  /** Micro-USD per successful call: price / smoothed success rate (a ranking figure, not money). */
  costPerSuccessMicros: number;
}

/** No calls, no checks: what a new agent is measured at. */
export const EMPTY_COUNTERS: AgentCounters = Object.freeze({
  calls: 0,
  successes: 0,
  totalResponseTimeMs: 0,
  healthChecks: 0,
  healthyChecks: 0,
});

/** Smoothed success rate of `successes` out of `calls`. */
export function smoothedRate(hits: number, total: number, prior: number): number {
  return (hits + prior * TRUST_PRIOR.weight) / (total + TRUST_PRIOR.weight);
}

/**
 * The trust formula, `success_rate × 0.5 + clamp(1 − avg_response_time_ms / 1000, 0, 1) × 0.2 +
 * uptime × 0.3`, on smoothed inputs, clamped to [0, 1].
 */
export function trustScore(successRate: number, avgResponseTimeMs: number, uptime: number): number {
  const speed = clamp(1 - avgResponseTimeMs / 1000, 0, 1);
  return clamp(successRate * 0.5 + speed * 0.2 + uptime * 0.3, 0, 1);
}

/**
 * Computes an agent's ranking figures from its counters and price (micro-USD).
 *
 * @example
 * scoreAgent(20000, EMPTY_COUNTERS).costPerSuccessMicros; // 21052.63… (0.02 / 0.95)
 */
export function scoreAgent(priceMicros: number, counters: AgentCounters): AgentScores {
  const successRate = smoothedRate(counters.successes, counters.calls, TRUST_PRIOR.successRate);
  const avgResponseTimeMs =
    (counters.totalResponseTimeMs + TRUST_PRIOR.responseTimeMs * TRUST_PRIOR.weight) /
    (counters.calls + TRUST_PRIOR.weight);
  const uptime = smoothedRate(counters.healthyChecks, counters.healthChecks, TRUST_PRIOR.uptime);
  return {
    successRate,
    avgResponseTimeMs,
    uptime,
    trustScore: trustScore(successRate, avgResponseTimeMs, uptime),
    costPerSuccessMicros: priceMicros / successRate,
  };
}

/**
 * The windows the ranking figures are measured over: success rate and mean response time over the
 * last 30 days, uptime over the last 24 hours. Older figures fall out as the windows slide.
 */
export const SCORE_WINDOWS = { calls: "30d", uptime: "24h" } as const;

/** Calls measured over {@link SCORE_WINDOWS}' `calls` window (30 days). */
export type CallWindowCounters = Pick<AgentCounters, "calls" | "successes" | "totalResponseTimeMs">;

/** Health checks over {@link SCORE_WINDOWS}' `uptime` window (24 hours). */
export type UptimeWindowCounters = Pick<AgentCounters, "healthChecks" | "healthyChecks">;

/**
 * Computes an agent's ranking figures from its windows (see {@link SCORE_WINDOWS}), with
 * {@link scoreAgent}'s formulas and prior: the calls of the last 30 days give the success rate and
 * mean response time, the health checks of the last 24 hours the uptime.
 *
 * @example
 * scoreFromWindows(20000, { calls: 1, successes: 1, totalResponseTimeMs: 200 }, { healthChecks: 0, healthyChecks: 0 })
 *   .successRate; // 0.952… (20 / 21)
 */
export function scoreFromWindows(
  priceMicros: number,
  calls: CallWindowCounters,
  uptime: UptimeWindowCounters,
): AgentScores {
  return scoreAgent(priceMicros, {
    calls: calls.calls,
    successes: calls.successes,
    totalResponseTimeMs: calls.totalResponseTimeMs,
    healthChecks: uptime.healthChecks,
    healthyChecks: uptime.healthyChecks,
  });
}

/** Rounds a display figure to `digits` decimals (rates to 4, times to 1, USD to 6). */
export function roundTo(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
