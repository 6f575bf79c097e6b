export type { DirectCredentials, DirectMode, DirectModeOptions } from "./direct-mode.js";
export { createDirectMode, DEFAULT_REDEEM_INTERVAL_MS } from "./direct-mode.js";
export { MAX_TIMER_MS, unrefTimer } from "./timers.js";
