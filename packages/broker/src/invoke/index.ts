export { invokeRoutes } from "./routes.js";
export type { InvokeAnswer, InvokeRuntime, InvokeRuntimeOptions } from "./runtime.js";
export { createInvokeRuntime } from "./runtime.js";
export type { SellerCallResult, SellerClient, SellerClientOptions, SellerRequest } from "./seller-client.js";
export { createSellerClient } from "./seller-client.js";
