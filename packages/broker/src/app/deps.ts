import type { FastifyBaseLogger } from "fastify";
import type { KeyCache } from "../accounts/key-cache.js";
import type { AlertNotifier } from "../alerts/types.js";
import type { FraudDetector } from "../fraud/detector.js";
import type { InvokeRuntime } from "../invoke/runtime.js";
import type { HealthTracker } from "../metrics/health-checker.js";
import type { PaymentProvider } from "../payments/provider.js";
import type { Clock } from "../platform/clock.js";
import type { ResolveHost } from "../platform/endpoint-policy.js";
import type { BrokerMetrics } from "../platform/prometheus.js";
import type { RateLimiter } from "../platform/rate-limiter.js";
import type { EndpointVerifier } from "../registry/endpoint-verification.js";
import type { ReceiptSigner } from "../signing/signer.js";
import type { BrokerConfig } from "./config.js";
import type { Store } from "./store.js";

/**
 * Everything the composition root builds and hands to the modules: each module's routes declare the
 * part they use (`AccountsDeps`, `RegistryDeps`, …), and `ROUTES` in create-broker.ts only compiles
 * while this satisfies every one of them. Injected, never module-level.
 */
export interface BrokerDeps {
  store: Store;
  clock: Clock;
  config: Pick<BrokerConfig, "dev" | "adminToken" | "publicUrl" | "invoke" | "fraud">;
  resolveHost: ResolveHost;
  /** Signs receipts and publishes the broker's public keys. */
  signer: ReceiptSigner;
  /** The broker's logger, for events outside a request. */
  log: FastifyBaseLogger;
  /** Moves money in and out; undefined when none is configured (top-ups then answer 503). */
  payments: PaymentProvider | undefined;
  /** Access keys by hash, briefly; drop a key here when it is revoked, rotated or changed. */
  keyCache: KeyCache;
  /** Per-key call rate limits, and sign-ups per client address. */
  rateLimiter: RateLimiter;
  /** The invoke proxy's seller client, outcome recorder and idempotency cache. */
  invoke: InvokeRuntime;
  /** Alerts to sellers (agent down, recovered, low success rate) and buyers (key suspended). */
  alerts: AlertNotifier;
  /**
   * The health checker, when monitoring runs: told when an agent is registered, re-activated,
   * moved or deactivated. Undefined without one (`createBroker` alone, tests).
   */
  health?: HealthTracker;
  /** Burst detection on access keys (suspension) and the new-account daily limit. */
  fraud: FraudDetector;
  /** Prometheus metrics (`GET /metrics`). */
  metrics: BrokerMetrics;
  /** Proves listings' endpoints (the challenge), and retries listings in their grace period. */
  endpoints: EndpointVerifier;
}
