export type { UsageReportEntry } from "./reports.js";
export { USAGE_REPORT_INTERVAL_MS } from "./reports.js";
export { DIRECT_TIMEOUT_MARGIN_MS } from "./send.js";
export type {
  DirectCallOptions,
  DirectResponse,
  DirectSession,
  DirectSessionSummary,
  OpenSessionOptions,
} from "./session-types.js";
