export type { AlertEvent, AlertNotifier, AlertNotifierOptions } from "./alerts/index.js";
export { createAlertNotifier } from "./alerts/index.js";
export type { GeneratedKey, KeyKind, KeyMode } from "./auth/api-keys.js";
export { generateApiKey, hashApiKey } from "./auth/api-keys.js";
export type { Clock } from "./clock.js";
export { createManualClock, systemClock } from "./clock.js";
export type { BrokerConfig, LogLevel } from "./config/config.js";
export { BROKER_USAGE, ConfigError, LOG_LEVELS, parseConfig } from "./config/config.js";
export type { ContractCheck, ContractCompiler, ContractIssue } from "./contracts/index.js";
export { CONTRACT_LIMITS, checkContractSchema, createContractCompiler } from "./contracts/index.js";
export type { FraudDetector, FraudDetectorOptions } from "./fraud/index.js";
export { createFraudDetector } from "./fraud/index.js";
export { countSettledGrantReports } from "./grants/reports.js";
export { settleDueGrants, settleGrant } from "./grants/settle.js";
export type { CreateBrokerOptions } from "./http/app.js";
export { createBroker, ROUTES } from "./http/app.js";
export type { OpenApiDocument } from "./http/openapi.js";
export { buildOpenApiDocument } from "./http/openapi.js";
export type {
  HealthChecker,
  HealthCheckerOptions,
  ScoreRefresher,
  ScoreRefresherOptions,
} from "./monitoring/index.js";
export { createHealthChecker, createScoreRefresher } from "./monitoring/index.js";
export type { BrokerMetrics } from "./observability/index.js";
export { createBrokerMetrics } from "./observability/index.js";
export type {
  CheckoutRequest,
  CheckoutResult,
  PaymentEvent,
  PaymentProvider,
  PayoutRequest,
  PayoutResult,
  Scheduler,
  SchedulerOptions,
  StripeProviderOptions,
  WebhookDelivery,
} from "./payments/index.js";
export {
  createDevProvider,
  createManualProvider,
  createScheduler,
  createStripeClient,
  createStripeProvider,
  runSettlements,
} from "./payments/index.js";
export type { EndpointPolicy, ResolveHost } from "./registry/endpoint-policy.js";
export { checkSellerEndpoint, isPublicAddress, systemResolveHost } from "./registry/endpoint-policy.js";
export type { RunningBroker, StartBrokerOptions } from "./start.js";
export { listenFailure, productionNotice, startBroker } from "./start.js";
export type { PostgresStoreOptions } from "./store/postgres/pg-store.js";
export { createPostgresStore } from "./store/postgres/pg-store.js";
export type { SqliteStoreOptions } from "./store/sqlite/sqlite-store.js";
export { createSqliteStore } from "./store/sqlite/sqlite-store.js";
export type {
  AccountRecord,
  AgentPatch,
  AgentRecord,
  AgentSearch,
  AgentSearchPage,
  AgentWindowMetrics,
  AlertChannelsRecord,
  ApiKeyRecord,
  CallOutcome,
  CallOutcomeKind,
  GrantRecord,
  HealthCheckOutcome,
  HealthCheckTarget,
  MetricsWindow,
  NewAgent,
  PriceHistoryRecord,
  SearchSortValue,
  Store,
} from "./store/types.js";
export { BROKER_VERSION } from "./version.js";

import { ROUTES } from "./http/app.js";
import { buildOpenApiDocument } from "./http/openapi.js";

/** The broker's OpenAPI 3.1 document, built without starting a broker. */
export function openApiDocument() {
  return buildOpenApiDocument(ROUTES);
}
