export type { ListingRecord } from "./ranking.js";
export {
  categoryPrior,
  RANKING,
  rankingCostPerSuccess,
  successLowerBound,
  wilsonLowerBound,
} from "./ranking.js";
export type {
  AgentCounters,
  AgentScores,
  BuyerWindow,
  CallWindowCounters,
  MeasuredFigures,
  RankedCalls,
  UptimeWindowCounters,
} from "./trust.js";
export {
  BUYER_CAP,
  BUYER_WEIGHT,
  cappedBuyerWeights,
  EMPTY_COUNTERS,
  measuredFigures,
  roundTo,
  SCORE_WINDOWS,
  scoreAgent,
  scoreFromWindows,
  smoothedRate,
  TRUST_PRIOR,
  trustScore,
  withCategoryPrior,
} from "./trust.js";
