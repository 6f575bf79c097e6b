export type { KeyCache, KeyCacheOptions } from "./key-cache.js";
export { createKeyCache } from "./key-cache.js";
export type { RateDecision, RateLimiter } from "./rate-limiter.js";
export { createMemoryRateLimiter, gcra } from "./rate-limiter.js";
export { invokeRoutes } from "./routes.js";
export type { InvokeAnswer, InvokeRuntime, InvokeRuntimeOptions } from "./runtime.js";
export { createInvokeRuntime } from "./runtime.js";
export type { SellerCallResult, SellerClient, SellerClientOptions, SellerRequest } from "./seller-client.js";
export { createSellerClient } from "./seller-client.js";
