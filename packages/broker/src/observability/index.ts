export type { BrokerMetrics, InvokeOutcome } from "./prometheus.js";
export { createBrokerMetrics } from "./prometheus.js";
export { registerMetrics } from "./routes.js";
