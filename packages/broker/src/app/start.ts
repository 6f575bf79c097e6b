import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { createRedisKeyCache } from "../accounts/redis-key-cache.js";
import { createScoreRefresher } from "../metrics/score-refresher.js";
import { paymentProviderFromConfig } from "../payments/from-config.js";
import type { PaymentProvider } from "../payments/provider.js";
import { createScheduler, type SchedulerOptions } from "../payments/scheduler.js";
import { systemClock } from "../platform/clock.js";
import { createPgLeadership, createSoleLeadership, type Leadership } from "../platform/db/leader-lock.js";
import { connectRedis, type RedisLink } from "../platform/db/redis.js";
import { createLogger } from "../platform/http/fastify-app.js";
import { createRedisRateLimiter } from "../platform/redis-rate-limiter.js";
import type { BrokerConfig } from "./config.js";
import { type CreateBrokerOptions, createBroker } from "./create-broker.js";
import { createPostgresStore } from "./postgres-store.js";
import { createSqliteStore } from "./sqlite-store.js";
import type { Store } from "./store.js";

/** A broker listening on its port, with what it runs on. */
export interface RunningBroker {
  app: FastifyInstance;
  /** Base URL, e.g. `http://127.0.0.1:4020`. */
  url: string;
  /** Name of the payment provider (`stripe`, `dev`), or null when top-ups are off. */
  payments: string | null;
  /** What the ledger and registry are kept in. */
  storage: "sqlite" | "postgres";
  /** Stops the background jobs and accepting requests, finishes those in flight, closes the store. */
  close(): Promise<void>;
}

/** Options of {@link startBroker} beyond the configuration, for tests and embedding. */
export interface StartBrokerOptions {
  /** A payment provider instead of the one the configuration asks for. */
  payments?: PaymentProvider;
  /**
   * The background jobs (hold-expiry sweeper, daily settlement, score refresh): their timing, or
   * `false` to run none. On by default; on PostgreSQL they run on one broker of those sharing the
   * database (the one holding its advisory lock).
   */
  scheduler?: false | Pick<SchedulerOptions, "sweepIntervalMs" | "settlementMinuteUtc">;
  /**
   * Health checks of sellers and the low-success-rate alerts (`config.monitoring`): `false` runs
   * none. On by default, and off with `scheduler: false` unless set here.
   */
  monitoring?: boolean;
  /** Tests only: see `CreateBrokerOptions.probeDispatcher`. */
  probeDispatcher?: CreateBrokerOptions["probeDispatcher"];
}

/**
 * Who runs the background work: on PostgreSQL, the one broker holding the database's advisory lock
 * (the others take over within seconds of its end); on SQLite, this broker, alone by design.
 */
function leadershipFor(config: BrokerConfig, logger: FastifyBaseLogger): Leadership {
  return config.postgresUrl === undefined
    ? createSoleLeadership()
    : createPgLeadership({
        url: config.postgresLeaderUrl ?? config.postgresUrl,
        log: logger.child({ component: "leader" }),
      });
}

/** Opens the store the configuration names: PostgreSQL when it has a URL, else the SQLite file. */
async function openStore(config: BrokerConfig): Promise<Store> {
  return config.postgresUrl === undefined
    ? createSqliteStore({ path: config.dbPath })
    : createPostgresStore({ url: config.postgresUrl, poolSize: config.postgresPoolSize });
}

/**
 * Starts a broker from a configuration: opens (and migrates) its SQLite file or PostgreSQL
 * database, connects to Redis when it has one (rate limits and the key cache then hold across every
 * broker on that Redis; the broker starts and serves without it), picks the payment
 * provider (Stripe when its keys are set, the dev provider in dev mode, none otherwise), starts the
 * background jobs, listens, and returns its URL.
 *
 * @example
 * const broker = await startBroker(parseConfig(process.argv.slice(2), process.env));
 * console.log(broker.url);
 */
export async function startBroker(
  config: BrokerConfig,
  options: StartBrokerOptions = {},
): Promise<RunningBroker> {
  const store = await openStore(config);
  let redis: RedisLink | undefined;
  let url = "";
  const payments = options.payments ?? paymentProviderFromConfig(config, () => config.publicUrl ?? url);
  const logger = createLogger(config.logLevel);
  if (config.redisUrl !== undefined) {
    redis = connectRedis({
      url: config.redisUrl,
      prefix: config.redisPrefix,
      log: logger.child({ component: "redis" }),
    });
    await redis.ready();
  }
  const sharedKeyCache = redis && createRedisKeyCache(redis);
  const scheduler =
    options.scheduler === false
      ? undefined
      : createScheduler({
          store,
          clock: systemClock,
          payments,
          log: logger.child({ component: "scheduler" }),
          grantGraceMs: config.grantGraceMs,
          ...options.scheduler,
        });
  const scores =
    options.scheduler === false
      ? undefined
      : createScoreRefresher({ store, clock: systemClock, log: logger.child({ component: "scores" }) });
  const app = createBroker({
    store,
    payments,
    logger,
    leadership: leadershipFor(config, logger),
    jobs: [
      ...(scheduler
        ? [{ name: "scheduler", start: () => scheduler.start(), stop: () => scheduler.stop() }]
        : []),
      ...(scores ? [{ name: "score refresh", start: () => scores.start(), stop: () => scores.stop() }] : []),
    ],
    ...(redis && { rateLimiter: createRedisRateLimiter(redis) }),
    ...(sharedKeyCache && { keyCache: sharedKeyCache }),
    config: {
      dev: config.dev,
      adminToken: config.adminToken,
      logLevel: config.logLevel,
      publicUrl: config.publicUrl,
      invoke: config.invoke,
      alerts: config.alerts,
    },
    fraud: config.fraud,
    ...(options.probeDispatcher && { probeDispatcher: options.probeDispatcher }),
    ...((options.monitoring ?? options.scheduler !== false) && {
      monitoring: { settings: config.monitoring },
    }),
  });
  const closeShared = async () => {
    await sharedKeyCache?.close();
    await redis?.close();
  };
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await closeShared();
    await store.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  url = `http://${host}:${port}`;
  return {
    app,
    url,
    payments: payments?.name ?? null,
    storage: config.postgresUrl === undefined ? "sqlite" : "postgres",
    async close() {
      await app.close();
      await closeShared();
      await store.close();
    },
  };
}

/**
 * What to tell a person whose broker could not listen, in one line naming the port and the flag
 * that fixes it; undefined for any other error.
 *
 * @example
 * const why = listenFailure(error); // "port 4020 on 127.0.0.1 is already in use (EADDRINUSE); …"
 */
export function listenFailure(error: unknown): string | undefined {
  const { code, port, address } = (error ?? {}) as { code?: unknown; port?: unknown; address?: unknown };
  const where = `port ${String(port)} on ${String(address)}`;
  switch (code) {
    case "EADDRINUSE":
      return `${where} is already in use (EADDRINUSE); stop what uses it, or pass another --port (--port 0 picks a free one)`;
    case "EACCES":
      return `${where} needs privileges this user does not have (EACCES); pass a port above 1023 with --port`;
    case "EADDRNOTAVAIL":
      return `${String(address)} is not an address of this machine (EADDRNOTAVAIL); pass another --host (default 127.0.0.1)`;
    default:
      return undefined;
  }
}

/**
 * The lines a broker started outside dev mode prints under its URL: what a newcomer cannot do on
 * it (top-ups without a payment provider, http or local sellers) and the command that starts one
 * they can try everything on.
 *
 * @example
 * if (!config.dev) process.stdout.write(productionNotice(broker.payments, "npm start -- --dev"));
 */
export function productionNotice(payments: string | null, devCommand: string): string {
  const topups = payments === null ? "top-ups answer 503 (no Stripe keys) and " : "";
  return (
    `Production mode: ${topups}seller endpoints must be public https.\n` +
    `  To try Mercato on this machine, start it with --dev: ${devCommand}\n`
  );
}
