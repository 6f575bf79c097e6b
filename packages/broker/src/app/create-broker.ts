import { MercatoError, REQUEST_SCHEMAS, RESPONSE_SCHEMAS } from "@mercato/protocol";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import type { Dispatcher } from "undici";
import { registerA2aRoutes } from "../a2a/routes.js";
import {
  authenticateAccess,
  authenticateAccount,
  authenticateAdmin,
  authenticateKey,
} from "../accounts/authenticate.js";
import { createKeyCache, type KeyCache, type KeyCacheOptions } from "../accounts/key-cache.js";
import { accountRoutes } from "../accounts/routes.js";
import { createAlertNotifier } from "../alerts/notifier.js";
import { alertRoutes } from "../alerts/routes.js";
import type { AlertNotifier } from "../alerts/types.js";
import { createFraudDetector } from "../fraud/detector.js";
import { grantRoutes } from "../grants/routes.js";
import { invokeRoutes } from "../invoke/routes.js";
import { createInvokeRuntime } from "../invoke/runtime.js";
import { ledgerRoutes } from "../ledger/routes.js";
import {
  type CheckerTimers,
  createHealthChecker,
  type HealthTracker,
  SYSTEM_TIMERS,
} from "../metrics/health-checker.js";
import { metricsRoutes } from "../metrics/routes.js";
import { createSuccessRateMonitor, runSuccessRateChecks } from "../metrics/success-rate.js";
import type { PaymentProvider } from "../payments/provider.js";
import { paymentRoutes } from "../payments/routes.js";
import { registerPaymentWebhooks } from "../payments/webhooks.js";
import type { Clock } from "../platform/clock.js";
import { systemClock } from "../platform/clock.js";
import { createSoleLeadership, type Leadership } from "../platform/db/leader-lock.js";
import { type ResolveHost, systemResolveHost } from "../platform/endpoint-policy.js";
import { toMercatoError } from "../platform/http/errors.js";
import { answerClientError, createLogger, limitJsonDepth, sendError } from "../platform/http/fastify-app.js";
import type { Route } from "../platform/http/route.js";
import { parseInput } from "../platform/http/validation.js";
import { newId } from "../platform/ids.js";
import { type BrokerMetrics, createBrokerMetrics } from "../platform/prometheus.js";
import { createMemoryRateLimiter, type RateLimiter } from "../platform/rate-limiter.js";
import {
  DEFAULT_ALERT_SETTINGS,
  DEFAULT_FRAUD_SETTINGS,
  DEFAULT_INVOKE_SETTINGS,
  DEFAULT_MONITORING_SETTINGS,
  type FraudSettings,
  type MonitoringSettings,
} from "../platform/settings.js";
import { createEndpointProber, createEndpointVerifier } from "../registry/endpoint-verification.js";
import { registryRoutes } from "../registry/routes.js";
import { createReceiptSigner } from "../signing/signer.js";
import { type BackgroundJob, createBackgroundWork, healthCheckJob } from "./background.js";
import type { BrokerConfig } from "./config.js";
import type { BrokerDeps } from "./deps.js";
import { renderDocsPage } from "./docs.js";
import { registerMetrics } from "./metrics-route.js";
import { buildOpenApiDocument } from "./openapi.js";
import type { Store } from "./store.js";
import { systemRoutes } from "./system-routes.js";

/** Every route of the broker, in the order the OpenAPI document lists them. */
export const ROUTES: readonly Route<BrokerDeps>[] = [
  ...systemRoutes,
  ...accountRoutes,
  ...registryRoutes,
  ...metricsRoutes,
  ...alertRoutes,
  ...invokeRoutes,
  ...grantRoutes,
  ...ledgerRoutes,
  ...paymentRoutes,
];

/** Options of {@link createBroker}. */
export interface CreateBrokerOptions {
  store: Store;
  clock?: Clock;
  config?: Partial<Pick<BrokerConfig, "dev" | "adminToken" | "logLevel" | "publicUrl" | "invoke" | "alerts">>;
  /** A pino logger; by default one at `config.logLevel` (info) writing JSON to stdout. */
  logger?: FastifyBaseLogger;
  /** The payment provider for top-ups and payouts (Stripe, dev, manual); none by default. */
  payments?: PaymentProvider;
  /** DNS resolution of seller hosts, for the endpoint policy. */
  resolveHost?: ResolveHost;
  /** Alerts to sellers and buyers; by default to Slack, and by e-mail through `config.alerts.smtpUrl`. */
  alerts?: AlertNotifier;
  /**
   * Health checks of sellers and the low-success-rate alerts: started when the app listens,
   * stopped when it closes. Off unless given (`startBroker` turns them on); `timers` and `random`
   * let a test drive the schedule. The health checks and the endpoint-proof retries run only while
   * this broker leads (`leadership`); the success-rate alerts on every broker, each for its calls.
   */
  monitoring?: { settings?: Partial<MonitoringSettings>; timers?: CheckerTimers; random?: () => number };
  /**
   * Which broker of those sharing the database runs the background work (the health checks, the
   * endpoint-proof retries and `jobs`): started when the app listens, stopped when it closes.
   * Default: this one alone (SQLite).
   */
  leadership?: Leadership;
  /** More background work run only while this broker leads (`startBroker`'s scheduler and score refresher). */
  jobs?: readonly BackgroundJob[];
  /** A health checker run by the caller (tests), told of registrations; instead of `monitoring`'s. */
  health?: HealthTracker;
  /** Per-key rate limits (default: in this process's memory). */
  rateLimiter?: RateLimiter;
  /** How long access keys are cached (default 5 s), or the cache itself (a shared one: Redis). */
  keyCache?: KeyCacheOptions | KeyCache;
  /** Prometheus metrics, served at `GET /metrics` (default: new ones, in a registry of their own). */
  metrics?: BrokerMetrics;
  /**
   * Fraud prevention: burst suspension, the new-account daily limit and the sign-up limit per client
   * address (default `DEFAULT_FRAUD_SETTINGS`).
   */
  fraud?: Partial<FraudSettings>;
  /** Largest request body in bytes (default 64 KiB). */
  bodyLimit?: number;
  /** Check every response against its schema (tests turn this on; a mismatch is a 500). */
  validateResponses?: boolean;
  /**
   * Tests only: the undici dispatcher endpoint challenges are fetched with, instead of the broker's
   * own (which, outside dev mode, connects only to public addresses). It lets a test prove a
   * loopback seller's endpoint on a broker outside dev mode; nothing in the configuration sets it.
   */
  probeDispatcher?: Dispatcher;
}

/**
 * Builds the broker's Fastify app around an injected store, clock and configuration. It does not
 * listen: call `app.listen()`, or `app.inject()` in tests.
 *
 * @example
 * const app = createBroker({ store: createSqliteStore({ path: ":memory:" }), config: { dev: true } });
 * await app.listen({ port: 4020 });
 */
export function createBroker(options: CreateBrokerOptions): FastifyInstance {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(options.config?.logLevel ?? "info");
  const dev = options.config?.dev ?? false;
  const resolveHost = options.resolveHost ?? systemResolveHost;
  const invoke = { ...DEFAULT_INVOKE_SETTINGS, ...options.config?.invoke };
  const metrics = options.metrics ?? createBrokerMetrics();
  const alerts =
    options.alerts ??
    createAlertNotifier({
      store: options.store,
      log: logger.child({ component: "alerts" }),
      settings: { ...DEFAULT_ALERT_SETTINGS, ...options.config?.alerts },
      clock,
      urlPolicy: { dev, resolveHost },
    });
  const monitoring = options.monitoring;
  const successRates = monitoring
    ? createSuccessRateMonitor({ store: options.store, clock, alerts, log: logger })
    : undefined;
  const leadership = options.leadership ?? createSoleLeadership();
  const health = monitoring
    ? healthCheckJob(
        () =>
          createHealthChecker({
            store: options.store,
            clock,
            log: logger.child({ component: "health" }),
            settings: { ...DEFAULT_MONITORING_SETTINGS, ...monitoring.settings },
            dev,
            resolveHost,
            alerts,
            onCheck: (healthy) => metrics.healthCheck(healthy),
            ...(monitoring.timers && { timers: monitoring.timers }),
            ...(monitoring.random && { random: monitoring.random }),
          }),
        leadership,
      )
    : undefined;
  const tracker = health ?? options.health;
  const keyCache =
    options.keyCache !== undefined && "invalidate" in options.keyCache
      ? options.keyCache
      : createKeyCache(options.keyCache);
  const fraudSettings = { ...DEFAULT_FRAUD_SETTINGS, ...options.fraud };
  const fraud = createFraudDetector({
    settings: fraudSettings,
    store: options.store,
    alerts,
    keyCache,
    log: logger.child({ component: "fraud" }),
    onSuspended: () => metrics.keySuspended(),
  });
  const invokeRuntime = createInvokeRuntime({
    store: options.store,
    clock,
    log: logger,
    dev,
    resolveHost,
    settings: invoke,
    ...(successRates && { onOutcome: (outcome) => successRates.record(outcome) }),
  });
  const endpoints = createEndpointVerifier({
    store: options.store,
    clock,
    dev,
    prober: createEndpointProber({
      dev,
      resolveHost,
      ...(options.probeDispatcher && { dispatcher: options.probeDispatcher }),
    }),
    log: logger.child({ component: "endpoints" }),
    onActivated: (agentId) => {
      invokeRuntime.agents.invalidate(agentId);
      tracker?.track(agentId);
    },
    onDeactivated: (agentId) => {
      invokeRuntime.agents.invalidate(agentId);
      tracker?.untrack(agentId);
    },
  });
  const deps: BrokerDeps = {
    store: options.store,
    clock,
    config: {
      dev,
      adminToken: options.config?.adminToken,
      publicUrl: options.config?.publicUrl,
      invoke,
      fraud: fraudSettings,
    },
    resolveHost,
    signer: createReceiptSigner(options.store, clock),
    log: logger,
    payments: options.payments,
    keyCache,
    rateLimiter: options.rateLimiter ?? createMemoryRateLimiter(),
    invoke: invokeRuntime,
    alerts,
    ...(tracker && { health: tracker }),
    fraud,
    metrics,
    endpoints,
  };
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    genReqId: () => newId("req"),
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    clientErrorHandler: answerClientError,
    // A URL the router cannot decode (`%ZZ`) is answered in the broker's envelope, as every error is.
    frameworkErrors: (error, request, reply) => {
      const refusal = new MercatoError(
        "VALIDATION_ERROR",
        `The request's URL is not valid: ${error.message}`,
      );
      void (reply as FastifyReply)
        .code(400)
        .header("x-request-id", request.id)
        .send(refusal.toEnvelope(request.id));
    },
  });

  // The signing key is loaded (or, on an empty store, made) before the broker takes requests: brokers
  // starting together on one database then all publish every key any of them made.
  app.addHook("onReady", async () => {
    await deps.signer.jwks();
  });
  app.addHook("onClose", () => deps.invoke.close());
  app.addHook("onClose", () => fraud.drain());
  // Listings in their grace period are verified in the background where monitoring runs.
  const background = createBackgroundWork({
    leadership,
    jobs: [
      ...(health
        ? [health, { name: "endpoint proofs", start: () => endpoints.start(), stop: () => endpoints.stop() }]
        : []),
      ...(options.jobs ?? []),
    ],
    log: logger.child({ component: "background" }),
    onLeading: (leading) => metrics.backgroundLeader(leading),
  });
  app.addHook("onListen", () => background.start());
  let successRateChecks: { stop(): Promise<void> } | undefined;
  if (successRates) {
    app.addHook("onListen", async () => {
      successRateChecks = runSuccessRateChecks({
        monitor: successRates,
        timers: monitoring?.timers ?? SYSTEM_TIMERS,
        log: logger.child({ component: "health" }),
      });
    });
  }
  app.addHook("onClose", () => background.stop());
  app.addHook("onClose", () => endpoints.close());
  app.addHook("onClose", async () => {
    await successRateChecks?.stop();
    // Alerts being retried get a moment to go out; a delivery still failing then is given up.
    await Promise.race([alerts.drain(), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  });

  // JSON only: any other body (text/plain included, which Fastify parses by default) is a 415.
  app.removeContentTypeParser("text/plain");
  limitJsonDepth(app);

  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });

  app.setErrorHandler(sendError);

  app.setNotFoundHandler((request, reply) => {
    const error = new MercatoError("NOT_FOUND", `No route ${request.method} ${request.url.split("?")[0]}`);
    void reply.code(404).send(error.toEnvelope(request.id));
  });

  const document = buildOpenApiDocument(ROUTES);
  const documentJson = JSON.stringify(document);
  const docsPage = renderDocsPage(document);
  app.get("/openapi.json", (_request, reply) => {
    void reply.type("application/json; charset=utf-8").send(documentJson);
  });
  app.get("/docs", (_request, reply) => {
    void reply.type("text/html; charset=utf-8").send(docsPage);
  });
  // The payment webhook reads its body as raw bytes (signatures cover them), in its own scope.
  registerPaymentWebhooks(app, deps);
  registerMetrics(app, deps);
  // A2A agent cards and the listings' JSON-RPC endpoints: A2A's own shapes, not the protocol's.
  registerA2aRoutes(app, deps);

  for (const route of ROUTES) {
    app.route({
      method: route.method,
      url: route.url,
      ...(route.bodyLimit !== undefined && { bodyLimit: Math.max(route.bodyLimit, options.bodyLimit ?? 0) }),
      ...(route.onRefused && {
        errorHandler: async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
          const mercato = toMercatoError(error);
          if (mercato.status >= 400 && mercato.status < 500) await route.onRefused?.(deps, request, mercato);
          sendError(mercato, request, reply);
        },
      }),
      handler: async (request, reply) => {
        if (route.auth === "admin") authenticateAdmin(request, deps);
        const caller =
          route.auth === "account"
            ? await authenticateAccount(request, deps)
            : route.auth === "access"
              ? await authenticateAccess(request, deps)
              : route.auth === "key"
                ? await authenticateKey(request, deps)
                : undefined;
        const params = route.params ? parseInput(route.params, request.params, "path") : undefined;
        const query = route.query ? parseInput(route.query, request.query ?? {}, "query") : undefined;
        const body = route.body ? parseInput(REQUEST_SCHEMAS[route.body], request.body, "body") : undefined;
        const result = await route.handler({ deps, caller, params, query, body, request, reply } as never);
        if (options.validateResponses) {
          const checked = RESPONSE_SCHEMAS[route.success.schema].safeParse(result);
          if (!checked.success) {
            throw new Error(`Response of ${route.operationId} does not match ${route.success.schema}`, {
              cause: checked.error,
            });
          }
        }
        return reply.code(route.success.status).send(result);
      },
    });
  }
  return app;
}
