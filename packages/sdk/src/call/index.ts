export type { BackoffOptions } from "./backoff.js";
export { backoffDelay } from "./backoff.js";
export type { Budget, BudgetReservation } from "./budget.js";
export { createBudget } from "./budget.js";
export { createCall } from "./call.js";
export { SELECTION, seededRandom } from "./selection.js";
export type {
  CallAttempt,
  CallMode,
  CallOptions,
  CallResult,
  CallRetry,
  CallTransport,
  DirectCallResult,
  ProxyCallResult,
} from "./types.js";
