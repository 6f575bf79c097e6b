export type { LatencyHistogram, LatencySummary } from "./latency-histogram.js";
export { createLatencyHistogram } from "./latency-histogram.js";
export type { CallOutcome, DirectCallStats, SellerKitStats, SellerMeter } from "./meter.js";
export { createMeter, DURATION_BUCKETS_SECONDS, PROMETHEUS_CONTENT_TYPE } from "./meter.js";
