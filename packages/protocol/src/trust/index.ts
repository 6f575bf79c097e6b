export type { AgentCounters, AgentScores } from "./trust.js";
export { EMPTY_COUNTERS, roundTo, scoreAgent, smoothedRate, TRUST_PRIOR, trustScore } from "./trust.js";
