/**
 * `@mercato/broker`: what an embedder needs to run the broker — `createBroker` (the Fastify app
 * around a store), `startBroker` (the app with its background jobs, from a parsed configuration),
 * the two stores, payment providers and the clock. The parts below them are in
 * `@mercato/broker/internal`, for Mercato's own tests and tools.
 *
 * @packageDocumentation
 */
export type { AccountRecord, ApiKeyRecord } from "./accounts/port.js";
export type { AlertNotifier } from "./alerts/index.js";
export type { AlertChannelsRecord } from "./alerts/port.js";
export type { BrokerConfig, LogLevel } from "./app/config.js";
export { BROKER_USAGE, ConfigError, LOG_LEVELS, parseConfig } from "./app/config.js";
export type { CreateBrokerOptions } from "./app/create-broker.js";
export { createBroker } from "./app/create-broker.js";
export type { OpenApiDocument } from "./app/openapi.js";
export type { PostgresStoreOptions } from "./app/postgres-store.js";
export { createPostgresStore } from "./app/postgres-store.js";
export type { SqliteStoreOptions } from "./app/sqlite-store.js";
export { createSqliteStore } from "./app/sqlite-store.js";
export type { RunningBroker, StartBrokerOptions } from "./app/start.js";
export { listenFailure, productionNotice, startBroker } from "./app/start.js";
export type { Store } from "./app/store.js";
export type { GrantRecord } from "./grants/port.js";
export type {
  AgentWindowMetrics,
  CallOutcome,
  CallOutcomeKind,
  HealthCheckOutcome,
  HealthCheckTarget,
  MetricsWindow,
} from "./metrics/port.js";
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
} from "./payments/index.js";
export type { Clock } from "./platform/clock.js";
export { createManualClock, systemClock } from "./platform/clock.js";
export type { ResolveHost } from "./platform/endpoint-policy.js";
export { systemResolveHost } from "./platform/endpoint-policy.js";
export type { BrokerMetrics } from "./platform/prometheus.js";
export { createBrokerMetrics } from "./platform/prometheus.js";
export type {
  AgentPatch,
  AgentRecord,
  AgentSearch,
  AgentSearchPage,
  NewAgent,
  PriceHistoryRecord,
  SearchSortValue,
} from "./registry/port.js";
export { BROKER_VERSION } from "./version.js";

import { ROUTES } from "./app/create-broker.js";
import { buildOpenApiDocument } from "./app/openapi.js";

/** The broker's OpenAPI 3.1 document, built without starting a broker. */
export function openApiDocument() {
  return buildOpenApiDocument(ROUTES);
}
