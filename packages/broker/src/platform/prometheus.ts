import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** How an invoke ended: `ok`, or the error code it answered with, lower-cased (`seller_timeout`, …). */
export type InvokeOutcome = string;

/**
 * The broker's Prometheus metrics, in a registry of its own (never prom-client's global one: two
 * brokers in one process keep separate figures). Series:
 *
 * - `mercato_http_requests_total{route,method,status}` and
 *   `mercato_http_request_duration_seconds{route,method}`: every response; `route` is the route's
 *   pattern (`/agents/:id/invoke`), `unmatched` for a URL no route serves.
 * - `mercato_invoke_duration_seconds{outcome}`: proxied invokes, from authentication to answer;
 *   `outcome` is `ok` or the error code answered, lower-cased.
 * - `mercato_charges_total`, `mercato_charged_micros_total`: captured charges and their amount.
 * - `mercato_holds_open`: holds the invoke proxy has placed and not yet captured or voided.
 * - `mercato_seller_errors_total{code}`: failed seller calls (`SELLER_ERROR`, `SELLER_TIMEOUT`,
 *   `SELLER_UNAVAILABLE`).
 * - `mercato_health_checks_total{result}`: seller health checks, `healthy` or `unhealthy`.
 * - `mercato_keys_suspended_total`: access keys suspended by fraud detection.
 * - `mercato_background_leader`: 1 while this broker runs the background work (the payment
 *   scheduler, the sellers' health checks, the endpoint-proof retries), 0 while another does.
 * - prom-client's default process metrics (`process_*`, `nodejs_*`), added on the first scrape so
 *   that a broker never scraped (tests) starts no event-loop monitor or GC observer.
 */
export interface BrokerMetrics {
  readonly registry: Registry;
  /** One HTTP response: the route pattern, the method, the status and how long it took. */
  httpResponse(route: string, method: string, status: number, seconds: number): void;
  invoke(outcome: InvokeOutcome, seconds: number): void;
  holdOpened(): void;
  holdClosed(): void;
  /** A captured charge of `micros`. */
  charged(micros: number): void;
  sellerError(code: string): void;
  /** One seller health check and its result; the health checker calls it. */
  healthCheck(healthy: boolean): void;
  keySuspended(): void;
  /** Whether this broker now runs the background work (one broker of those on a database does). */
  backgroundLeader(leading: boolean): void;
  /** The exposition text and its content type, for `GET /metrics`. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const INVOKE_BUCKETS = [0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Creates a broker's metrics with a fresh registry.
 *
 * @example
 * const metrics = createBrokerMetrics();
 * metrics.charged(20_000);
 * const { contentType, body } = await metrics.scrape();
 */
export function createBrokerMetrics(): BrokerMetrics {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({
    name: "mercato_http_requests_total",
    help: "HTTP responses by route pattern, method and status",
    labelNames: ["route", "method", "status"] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: "mercato_http_request_duration_seconds",
    help: "Time from request to response, by route pattern and method",
    labelNames: ["route", "method"] as const,
    buckets: HTTP_BUCKETS,
    registers,
  });
  const invokeDuration = new Histogram({
    name: "mercato_invoke_duration_seconds",
    help: "Proxied invokes from authentication to answer, by outcome (ok or the error code)",
    labelNames: ["outcome"] as const,
    buckets: INVOKE_BUCKETS,
    registers,
  });
  const charges = new Counter({
    name: "mercato_charges_total",
    help: "Charges captured by the invoke proxy",
    registers,
  });
  const chargedMicros = new Counter({
    name: "mercato_charged_micros_total",
    help: "Micro-USD captured by the invoke proxy",
    registers,
  });
  const holdsOpen = new Gauge({
    name: "mercato_holds_open",
    help: "Holds the invoke proxy has placed and not yet captured or voided",
    registers,
  });
  const sellerErrors = new Counter({
    name: "mercato_seller_errors_total",
    help: "Failed seller calls by error code",
    labelNames: ["code"] as const,
    registers,
  });
  const healthChecks = new Counter({
    name: "mercato_health_checks_total",
    help: "Seller health checks by result",
    labelNames: ["result"] as const,
    registers,
  });
  const keysSuspended = new Counter({
    name: "mercato_keys_suspended_total",
    help: "Access keys suspended by fraud detection",
    registers,
  });
  const leader = new Gauge({
    name: "mercato_background_leader",
    help: "1 while this broker runs the background work (scheduler, health checks, endpoint proofs), else 0",
    registers,
  });
  // Label objects are built once per combination: the hot path only looks them up.
  const requestLabels = new Map<string, { route: string; method: string; status: string }>();
  const durationLabels = new Map<string, { route: string; method: string }>();
  let processMetrics = false;

  return {
    registry,
    httpResponse(route, method, status, seconds) {
      const id = `${method} ${status} ${route}`;
      let labels = requestLabels.get(id);
      if (labels === undefined) {
        labels = { route, method, status: String(status) };
        requestLabels.set(id, labels);
      }
      requests.inc(labels);
      const timed = `${method} ${route}`;
      let timing = durationLabels.get(timed);
      if (timing === undefined) {
        timing = { route, method };
        durationLabels.set(timed, timing);
      }
      requestDuration.observe(timing, seconds);
    },
    invoke(outcome, seconds) {
      invokeDuration.observe({ outcome }, seconds);
    },
    holdOpened() {
      holdsOpen.inc();
    },
    holdClosed() {
      holdsOpen.dec();
    },
    charged(micros) {
      charges.inc();
      chargedMicros.inc(micros);
    },
    sellerError(code) {
      sellerErrors.inc({ code });
    },
    healthCheck(healthy) {
      healthChecks.inc({ result: healthy ? "healthy" : "unhealthy" });
    },
    keySuspended() {
      keysSuspended.inc();
    },
    backgroundLeader(leading) {
      leader.set(leading ? 1 : 0);
    },
    async scrape() {
      if (!processMetrics) {
        processMetrics = true;
        collectDefaultMetrics({ register: registry });
      }
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
