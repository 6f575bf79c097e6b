export type { AgentCounters, AgentScores, CallWindowCounters, UptimeWindowCounters } from "./trust.js";
export {
  EMPTY_COUNTERS,
  roundTo,
  SCORE_WINDOWS,
  scoreAgent,
  scoreFromWindows,
  smoothedRate,
  TRUST_PRIOR,
  trustScore,
} from "./trust.js";
