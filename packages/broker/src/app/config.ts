import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  type AlertSettings,
  DEFAULT_ALERT_SETTINGS,
  DEFAULT_FRAUD_SETTINGS,
  DEFAULT_GRANT_GRACE_MS,
  DEFAULT_INVOKE_SETTINGS,
  DEFAULT_MONITORING_SETTINGS,
  type FraudSettings,
  type InvokeSettings,
  type MonitoringSettings,
} from "../platform/settings.js";

/** The broker's configuration, from flags and environment variables of the same meaning. */
export interface BrokerConfig {
  /** TCP port; 0 picks a free one. Flag `--port`, env `PORT`; default 4020. */
  port: number;
  /** Interface to listen on. Flag `--host`, env `HOST`; default 127.0.0.1. */
  host: string;
  /** SQLite file. Flag `--db`, env `MERCATO_DB`; default `./.mercato/mercato.db`. Unused with `postgresUrl`. */
  dbPath: string;
  /**
   * PostgreSQL instead of SQLite, for several broker processes sharing one database. Flag
   * `--postgres`, env `MERCATO_DATABASE_URL`: `postgres://user:password@host:5432/database`.
   */
  postgresUrl: string | undefined;
  /**
   * The connection that holds the background-work lock (a session-level advisory lock), when
   * `postgresUrl` goes through a pooler in transaction mode: PostgreSQL itself or a session-mode
   * pooler. Flag `--pg-leader-url`, env `MERCATO_LEADER_DATABASE_URL`; default `postgresUrl`.
   */
  postgresLeaderUrl: string | undefined;
  /** Connections each broker keeps to PostgreSQL. Flag `--pg-pool-size`, env `MERCATO_PG_POOL_SIZE`; default 10. */
  postgresPoolSize: number;
  /**
   * Redis, to share rate limits and the key cache across broker processes. Flag `--redis`, env
   * `MERCATO_REDIS_URL`: `redis://host:6379/0`. Without it, both are per process.
   */
  redisUrl: string | undefined;
  /**
   * Prefix of the broker's Redis keys and channels, so that several marketplaces (or test runs) can
   * share one Redis. Flag `--redis-prefix`, env `MERCATO_REDIS_PREFIX`; default `mercato:`.
   */
  redisPrefix: string;
  /**
   * Dev mode: seller endpoints may be http and loopback or private addresses, for local sellers.
   * Flag `--dev`, env `MERCATO_DEV=1`. Never in production.
   */
  dev: boolean;
  /** Token of the admin routes; admin routes are off without it. Flag `--admin-token`, env `MERCATO_ADMIN_TOKEN`. */
  adminToken: string | undefined;
  /** pino log level. Flag `--log-level`, env `LOG_LEVEL`; default `info`. */
  logLevel: LogLevel;
  /**
   * Stripe, when both `STRIPE_SECRET_KEY` and `STRIPE_WEBHOOK_SECRET` are set (environment only,
   * never flags, never logged): top-ups through Checkout, payouts through Connect transfers.
   */
  stripe: StripeConfig | undefined;
  /**
   * Base URL of the broker as buyers' browsers reach it, for Checkout's return pages. Flag
   * `--public-url`, env `MERCATO_PUBLIC_URL`; default the URL the broker listens on.
   */
  publicUrl: string | undefined;
  /** The invoke proxy's limits. */
  invoke: InvokeSettings;
  /**
   * Direct mode: how long after a grant is closed, or expires, it is settled, in ms, so that the
   * seller's last redemptions still count (docs/direct-mode.md, §5). Flag `--grant-grace` (seconds),
   * env `MERCATO_GRANT_GRACE_S`; default 120 s.
   */
  grantGraceMs: number;
  /** Health checks of sellers. */
  monitoring: MonitoringSettings;
  /** Where alerts are sent from. */
  alerts: AlertSettings;
  /** Fraud prevention: key suspension and the new-account daily limit. */
  fraud: FraudSettings;
}

/** The Stripe secrets. Kept out of logs: nothing logs the configuration. */
export interface StripeConfig {
  secretKey: string;
  webhookSecret: string;
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A configuration value that cannot be used; the message names the flag or variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** A database or cache URL of one of `protocols`, kept as given (it may hold a password: never logged). */
function parseServiceUrl(value: string, source: string, protocols: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${source} must be a ${protocols.map((p) => `${p}//`).join(" or ")} URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(
      `${source} must be a ${protocols.map((p) => `${p}//`).join(" or ")} URL, got ${url.protocol}//`,
    );
  }
  return value;
}

/** A Redis key prefix: printable, without spaces, at most 64 characters. */
function parseRedisPrefix(value: string, source: string): string {
  if (!/^[!-~]{1,64}$/.test(value)) {
    throw new ConfigError(`${source} must be 1 to 64 printable characters without spaces, got "${value}"`);
  }
  return value;
}

/** The usage text of the broker's flags. */
export const BROKER_USAGE = `Options (each flag has an environment variable of the same meaning; the flag wins):
  --port <n>           PORT                 port to listen on (default 4020; 0 picks a free one)
  --host <addr>        HOST                 interface to listen on (default 127.0.0.1)
  --db <path>          MERCATO_DB           SQLite file (default ./.mercato/mercato.db)
  --postgres <url>     MERCATO_DATABASE_URL PostgreSQL instead of SQLite (postgres://user@host:5432/db)
  --pg-pool-size <n>   MERCATO_PG_POOL_SIZE connections to PostgreSQL per broker (default 10)
  --pg-leader-url <url>  MERCATO_LEADER_DATABASE_URL  direct connection for the background-work lock, when --postgres is a transaction-mode pooler (default --postgres)
  --redis <url>        MERCATO_REDIS_URL    Redis for rate limits and the key cache shared by several brokers
  --redis-prefix <p>   MERCATO_REDIS_PREFIX prefix of the broker's Redis keys (default mercato:)
  --dev                MERCATO_DEV=1        dev mode: allow http and local seller endpoints
  --admin-token <t>    MERCATO_ADMIN_TOKEN  token of the admin routes (at least 16 characters)
  --log-level <level>  LOG_LEVEL            ${LOG_LEVELS.join(", ")} (default info)
  --public-url <url>   MERCATO_PUBLIC_URL   URL buyers reach the broker at (default its own)
  --invoke-timeout <ms>      MERCATO_INVOKE_TIMEOUT_MS      seller timeout when a call names none (default ${DEFAULT_INVOKE_SETTINGS.defaultTimeoutMs})
  --grant-grace <s>          MERCATO_GRANT_GRACE_S          direct mode: seconds between a grant's close or expiry and its settlement (default ${DEFAULT_GRANT_GRACE_MS / 1000})
  --max-invoke-timeout <ms>  MERCATO_MAX_INVOKE_TIMEOUT_MS  largest timeout_ms a call may ask for (default ${DEFAULT_INVOKE_SETTINGS.maxTimeoutMs})
  --rate-limit <n>           MERCATO_RATE_LIMIT             calls per minute of an access key without its own (default ${DEFAULT_INVOKE_SETTINGS.defaultRateLimit})
  --health-interval <ms>     MERCATO_HEALTH_INTERVAL_MS     time between health checks of one seller (default ${DEFAULT_MONITORING_SETTINGS.healthIntervalMs})
  --health-checks-per-host <n>  MERCATO_HEALTH_CHECKS_PER_HOST  health checks one host receives per interval, from all brokers (default ${DEFAULT_MONITORING_SETTINGS.healthChecksPerHost})
  --smtp-url <url>           MERCATO_SMTP_URL               SMTP server for e-mail alerts (smtp://user:pass@host:587)
  --alert-from <address>     MERCATO_ALERT_FROM             From of alert e-mails (default "Mercato <alerts@localhost>")
  --burst-floor <n>          MERCATO_BURST_FLOOR            calls per minute a key may always make before fraud checks look (default ${DEFAULT_FRAUD_SETTINGS.burstFloorPerMinute})
  --new-account-daily-limit <usd>  MERCATO_NEW_ACCOUNT_DAILY_LIMIT_USD  daily spend of accounts younger than ${DEFAULT_FRAUD_SETTINGS.newAccountDays} days (default ${Number(DEFAULT_FRAUD_SETTINGS.newAccountDailyLimitMicros) / 1_000_000}; 0 = none)
  --signup-rate-limit <n>    MERCATO_SIGNUP_RATE_LIMIT      accounts one client address may create per hour (default ${DEFAULT_FRAUD_SETTINGS.signupsPerHour}; 0 = none)
  --max-agents-per-account <n>   MERCATO_MAX_AGENTS_PER_ACCOUNT   listings (agents not deactivated) one account may have (default ${DEFAULT_FRAUD_SETTINGS.maxAgentsPerAccount}; 0 = none)
  --registration-rate-limit <n>  MERCATO_REGISTRATION_RATE_LIMIT  registrations, endpoint changes and re-activations per account per hour (default ${DEFAULT_FRAUD_SETTINGS.registrationsPerHour}; 0 = none)
  -h, --help                                show this help

Payments (environment only): STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, both or neither,
take top-ups through Stripe Checkout and pay sellers through Stripe Connect. Without them,
top-ups are credited at once in dev mode and are off otherwise.`;

/**
 * Reads the broker's configuration from command-line flags and environment variables.
 *
 * @throws ConfigError naming the flag or variable when a value is unknown or invalid.
 * @example
 * const config = parseConfig(process.argv.slice(2), process.env);
 */
export function parseConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd = process.cwd(),
): BrokerConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        db: { type: "string" },
        postgres: { type: "string" },
        "pg-pool-size": { type: "string" },
        "pg-leader-url": { type: "string" },
        redis: { type: "string" },
        "redis-prefix": { type: "string" },
        dev: { type: "boolean" },
        "admin-token": { type: "string" },
        "log-level": { type: "string" },
        "public-url": { type: "string" },
        "invoke-timeout": { type: "string" },
        "max-invoke-timeout": { type: "string" },
        "rate-limit": { type: "string" },
        "grant-grace": { type: "string" },
        "health-interval": { type: "string" },
        "health-checks-per-host": { type: "string" },
        "smtp-url": { type: "string" },
        "alert-from": { type: "string" },
        "new-account-daily-limit": { type: "string" },
        "burst-floor": { type: "string" },
        "signup-rate-limit": { type: "string" },
        "max-agents-per-account": { type: "string" },
        "registration-rate-limit": { type: "string" },
      },
    }));
  } catch (cause) {
    throw new ConfigError((cause as Error).message, { cause });
  }
  const pick = (flag: string, variable: string): { value: string; source: string } | undefined => {
    const fromFlag = values[flag];
    if (typeof fromFlag === "string") return { value: fromFlag, source: `--${flag}` };
    const fromEnv = env[variable];
    if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, source: variable };
    return undefined;
  };

  const port = pick("port", "PORT");
  const host = pick("host", "HOST");
  const db = pick("db", "MERCATO_DB");
  const postgres = pick("postgres", "MERCATO_DATABASE_URL");
  const pgPoolSize = pick("pg-pool-size", "MERCATO_PG_POOL_SIZE");
  const pgLeader = pick("pg-leader-url", "MERCATO_LEADER_DATABASE_URL");
  const redis = pick("redis", "MERCATO_REDIS_URL");
  const redisPrefix = pick("redis-prefix", "MERCATO_REDIS_PREFIX");
  const adminToken = pick("admin-token", "MERCATO_ADMIN_TOKEN");
  const logLevel = pick("log-level", "LOG_LEVEL");
  const publicUrl = pick("public-url", "MERCATO_PUBLIC_URL");
  const invokeTimeout = pick("invoke-timeout", "MERCATO_INVOKE_TIMEOUT_MS");
  const maxInvokeTimeout = pick("max-invoke-timeout", "MERCATO_MAX_INVOKE_TIMEOUT_MS");
  const rateLimit = pick("rate-limit", "MERCATO_RATE_LIMIT");
  const grantGrace = pick("grant-grace", "MERCATO_GRANT_GRACE_S");
  const healthInterval = pick("health-interval", "MERCATO_HEALTH_INTERVAL_MS");
  const smtpUrl = pick("smtp-url", "MERCATO_SMTP_URL");
  const alertFrom = pick("alert-from", "MERCATO_ALERT_FROM");
  const dailyLimit = pick("new-account-daily-limit", "MERCATO_NEW_ACCOUNT_DAILY_LIMIT_USD");
  const burstFloor = pick("burst-floor", "MERCATO_BURST_FLOOR");
  const signupLimit = pick("signup-rate-limit", "MERCATO_SIGNUP_RATE_LIMIT");
  const healthPerHost = pick("health-checks-per-host", "MERCATO_HEALTH_CHECKS_PER_HOST");
  const maxAgents = pick("max-agents-per-account", "MERCATO_MAX_AGENTS_PER_ACCOUNT");
  const registrationLimit = pick("registration-rate-limit", "MERCATO_REGISTRATION_RATE_LIMIT");
  const invoke: InvokeSettings = {
    ...DEFAULT_INVOKE_SETTINGS,
    ...(maxInvokeTimeout && {
      maxTimeoutMs: parseCount(maxInvokeTimeout.value, maxInvokeTimeout.source, 600_000),
    }),
    ...(rateLimit && { defaultRateLimit: parseCount(rateLimit.value, rateLimit.source, 10_000_000) }),
  };
  invoke.defaultTimeoutMs = invokeTimeout
    ? parseCount(invokeTimeout.value, invokeTimeout.source, 600_000)
    : Math.min(DEFAULT_INVOKE_SETTINGS.defaultTimeoutMs, invoke.maxTimeoutMs);
  if (invoke.defaultTimeoutMs > invoke.maxTimeoutMs) {
    throw new ConfigError(
      `${invokeTimeout?.source ?? "the default invoke timeout"} (${invoke.defaultTimeoutMs} ms) is above the maximum invoke timeout (${invoke.maxTimeoutMs} ms)`,
    );
  }

  return {
    port: port ? parsePort(port.value, port.source) : 4020,
    host: host ? parseHost(host.value, host.source) : "127.0.0.1",
    dbPath: resolve(cwd, db ? db.value : ".mercato/mercato.db"),
    postgresUrl: postgres
      ? parseServiceUrl(postgres.value, postgres.source, ["postgres:", "postgresql:"])
      : undefined,
    postgresLeaderUrl: pgLeader
      ? parseServiceUrl(pgLeader.value, pgLeader.source, ["postgres:", "postgresql:"])
      : undefined,
    postgresPoolSize: pgPoolSize ? parseCount(pgPoolSize.value, pgPoolSize.source, 1_000) : 10,
    redisUrl: redis ? parseServiceUrl(redis.value, redis.source, ["redis:", "rediss:"]) : undefined,
    redisPrefix: redisPrefix ? parseRedisPrefix(redisPrefix.value, redisPrefix.source) : "mercato:",
    dev: values.dev === true || parseFlag(env.MERCATO_DEV, "MERCATO_DEV"),
    adminToken: adminToken ? parseAdminToken(adminToken.value, adminToken.source) : undefined,
    logLevel: logLevel ? parseLogLevel(logLevel.value, logLevel.source) : "info",
    stripe: parseStripe(env),
    publicUrl: publicUrl ? parsePublicUrl(publicUrl.value, publicUrl.source) : undefined,
    invoke,
    grantGraceMs: grantGrace
      ? parseCount(grantGrace.value, grantGrace.source, 86_400) * 1000
      : DEFAULT_GRANT_GRACE_MS,
    monitoring: {
      ...DEFAULT_MONITORING_SETTINGS,
      ...(healthInterval && {
        healthIntervalMs: parseCount(healthInterval.value, healthInterval.source, 86_400_000),
      }),
      ...(healthPerHost && {
        healthChecksPerHost: parseCount(healthPerHost.value, healthPerHost.source, 10_000),
      }),
    },
    alerts: {
      smtpUrl: smtpUrl ? parseSmtpUrl(smtpUrl.value, smtpUrl.source) : undefined,
      from: alertFrom ? alertFrom.value : DEFAULT_ALERT_SETTINGS.from,
    },
    fraud: {
      ...DEFAULT_FRAUD_SETTINGS,
      ...(dailyLimit && { newAccountDailyLimitMicros: parseDailyLimit(dailyLimit.value, dailyLimit.source) }),
      ...(burstFloor && {
        burstFloorPerMinute: parseCount(burstFloor.value, burstFloor.source, 100_000_000),
      }),
      ...(signupLimit && {
        signupsPerHour: parseCount(signupLimit.value, signupLimit.source, 100_000_000, 0),
      }),
      ...(maxAgents && {
        maxAgentsPerAccount: parseCount(maxAgents.value, maxAgents.source, 100_000_000, 0),
      }),
      ...(registrationLimit && {
        registrationsPerHour: parseCount(registrationLimit.value, registrationLimit.source, 100_000_000, 0),
      }),
    },
  };
}

function parseSmtpUrl(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${source} must be an smtp:// or smtps:// URL`);
  }
  // The URL may carry a password: the message never repeats it.
  if (url.protocol !== "smtp:" && url.protocol !== "smtps:") {
    throw new ConfigError(`${source} must be an smtp:// or smtps:// URL`);
  }
  return value;
}

function parseDailyLimit(value: string, source: string): number | null {
  if (!/^\d{1,7}(\.\d{1,6})?$/.test(value)) {
    throw new ConfigError(
      `${source} must be a USD amount (at most 6 decimals), got ${JSON.stringify(value)}`,
    );
  }
  const [whole = "0", fraction = ""] = value.split(".");
  const micros = Number(whole) * 1_000_000 + Number(fraction.padEnd(6, "0"));
  return micros === 0 ? null : micros;
}

function parseStripe(env: NodeJS.ProcessEnv): StripeConfig | undefined {
  const secretKey = env.STRIPE_SECRET_KEY || undefined;
  const webhookSecret = env.STRIPE_WEBHOOK_SECRET || undefined;
  if (secretKey === undefined && webhookSecret === undefined) return undefined;
  if (secretKey === undefined || webhookSecret === undefined) {
    const [set, missing] =
      secretKey === undefined
        ? ["STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY"]
        : ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"];
    throw new ConfigError(
      `${set} is set but ${missing} is not: set both to take payments with Stripe, or neither`,
    );
  }
  // The values are secrets: messages name the variable and the expected shape, never the value.
  if (!/^(sk|rk)_(test|live)_\S+$/.test(secretKey)) {
    throw new ConfigError("STRIPE_SECRET_KEY must be a Stripe secret or restricted key (sk_… or rk_…)");
  }
  if (!/^whsec_\S+$/.test(webhookSecret)) {
    throw new ConfigError("STRIPE_WEBHOOK_SECRET must be a webhook signing secret (whsec_…)");
  }
  return { secretKey, webhookSecret };
}

function parsePublicUrl(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${source} must be an http or https URL, got ${JSON.stringify(value)}`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search !== "" || url.hash !== "") {
    throw new ConfigError(
      `${source} must be an http or https URL without query or fragment, got ${JSON.stringify(value)}`,
    );
  }
  return url.href.replace(/\/+$/, "");
}

function parseCount(value: string, source: string, max: number, min = 1): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ConfigError(
      `${source} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

function parsePort(value: string, source: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new ConfigError(`${source} must be a port number from 0 to 65535, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function parseHost(value: string, source: string): string {
  if (!/^[A-Za-z0-9.:-]+$/.test(value) && !/^\[[0-9A-Fa-f:.]+\]$/.test(value)) {
    throw new ConfigError(`${source} must be a host name or IP address, got ${JSON.stringify(value)}`);
  }
  return value.replace(/^\[(.*)\]$/, "$1");
}

function parseFlag(value: string | undefined, source: string): boolean {
  if (value === undefined || value === "") return false;
  const normal = value.toLowerCase();
  if (["1", "true", "yes", "on"].includes(normal)) return true;
  if (["0", "false", "no", "off"].includes(normal)) return false;
  throw new ConfigError(`${source} must be 1 or 0 (or true/false), got ${JSON.stringify(value)}`);
}

function parseAdminToken(value: string, source: string): string {
  if (value.length < 16) throw new ConfigError(`${source} must be at least 16 characters long`);
  return value;
}

function parseLogLevel(value: string, source: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new ConfigError(`${source} must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as LogLevel;
}
