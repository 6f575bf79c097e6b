export type { BackoffOptions } from "./backoff.js";
export { backoffDelay } from "./backoff.js";
export type { Budget, BudgetReservation } from "./budget.js";
export { createBudget } from "./budget.js";
export type { CallAttempt, CallOptions, CallResult, CallRetry, CallTransport } from "./call.js";
export { createCall } from "./call.js";
