/**
 * `@mercato/broker/internal`: the broker's parts below `createBroker`, for Mercato's own end-to-end
 * tests, benchmarks and tools. Not a stable API: anything here may change in any release. Embedders
 * use `@mercato/broker`.
 *
 * @internal
 * @packageDocumentation
 */
export type { GeneratedKey, KeyKind, KeyMode } from "./accounts/api-keys.js";
export { generateApiKey, hashApiKey } from "./accounts/api-keys.js";
export type { AlertEvent, AlertNotifierOptions } from "./alerts/index.js";
export { createAlertNotifier } from "./alerts/index.js";
export { ROUTES } from "./app/create-broker.js";
export { buildOpenApiDocument } from "./app/openapi.js";
export type { ContractCheck, ContractCompiler, ContractIssue } from "./contracts/index.js";
export { CONTRACT_LIMITS, checkContractSchema, createContractCompiler } from "./contracts/index.js";
export type { FraudDetector, FraudDetectorOptions } from "./fraud/index.js";
export { createFraudDetector } from "./fraud/index.js";
export { countSettledGrantReports } from "./grants/reports.js";
export { settleDueGrants, settleGrant } from "./grants/settle.js";
export type {
  HealthChecker,
  HealthCheckerOptions,
  ScoreRefresher,
  ScoreRefresherOptions,
} from "./metrics/index.js";
export { createHealthChecker, createScoreRefresher } from "./metrics/index.js";
export { runSettlements } from "./payments/index.js";
export type { EndpointPolicy } from "./platform/endpoint-policy.js";
export { checkSellerEndpoint, isPublicAddress } from "./platform/endpoint-policy.js";
