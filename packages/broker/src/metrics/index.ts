export type {
  CheckerTimers,
  HealthChecker,
  HealthCheckerOptions,
  HealthCheckerStats,
  HealthTracker,
} from "./health-checker.js";
export { createHealthChecker, healthUrl, SYSTEM_TIMERS } from "./health-checker.js";
export type { ScoreRefresher, ScoreRefresherOptions } from "./score-refresher.js";
export { createScoreRefresher } from "./score-refresher.js";
export type { SuccessRateMonitor, SuccessRateMonitorOptions } from "./success-rate.js";
export { createSuccessRateMonitor } from "./success-rate.js";
