// The settings of the broker's modules: plain data with their defaults, parsed from flags and the
// environment by app/config.ts and handed to each module by the composition root.

/** Health checks of sellers' `GET {api_endpoint}/health`. */
export interface MonitoringSettings {
  /** Time between two checks of one agent, ms (±10% jitter). Flag `--health-interval`, env `MERCATO_HEALTH_INTERVAL_MS`; default 30,000. */
  healthIntervalMs: number;
  /** A check that takes longer fails, ms. Default 5,000. */
  healthTimeoutMs: number;
  /** Checks in flight at once, across all agents. Default 64. */
  healthConcurrency: number;
  /** Failed checks in a row that mark an agent down. Default 3. */
  failuresBeforeDown: number;
  /**
   * Most health checks one host name receives per interval from every broker sharing the store,
   * however many distinct endpoints are listed on it; the others wait their turn (oldest waiting
   * first), so each is still checked every few intervals. Flag `--health-checks-per-host`, env
   * `MERCATO_HEALTH_CHECKS_PER_HOST`; default 10.
   */
  healthChecksPerHost: number;
}

/** Alert delivery. */
export interface AlertSettings {
  /** SMTP server for e-mail alerts (`smtp://user:pass@host:587`, `smtps://…`); none: e-mail alerts are off. Flag `--smtp-url`, env `MERCATO_SMTP_URL`. */
  smtpUrl: string | undefined;
  /** The From of alert e-mails. Flag `--alert-from`, env `MERCATO_ALERT_FROM`; default `Mercato <alerts@localhost>`. */
  from: string;
}

/** Fraud prevention. */
export interface FraudSettings {
  /**
   * Calls per minute a key may always make before its baseline is looked at. Flag `--burst-floor`,
   * env `MERCATO_BURST_FLOOR`; default 1,000 (above the default rate limit of 600, so a new key
   * running flat out at its allowance is never taken for a thief).
   */
  burstFloorPerMinute: number;
  /** A minute's calls above this many times the key's trailing baseline suspend it. Default 10. */
  burstMultiplier: number;
  /**
   * Most a new account may spend per UTC day, micro-USD; null: no limit. Flag
   * `--new-account-daily-limit` (USD), env `MERCATO_NEW_ACCOUNT_DAILY_LIMIT_USD`; default 100 USD.
   */
  newAccountDailyLimitMicros: number | null;
  /** An account is new for this many days after sign-up. Default 7. */
  newAccountDays: number;
  /**
   * Accounts one client address may create per hour (`POST /accounts`), shared through Redis by
   * brokers that share one; 0: no limit. Flag `--signup-rate-limit`, env `MERCATO_SIGNUP_RATE_LIMIT`;
   * default 20.
   */
  signupsPerHour: number;
  /**
   * Listings (agents not deactivated) one account may have at once; registering or re-activating
   * past it answers `LISTING_LIMIT_REACHED` (403); 0: no limit. Flag `--max-agents-per-account`,
   * env `MERCATO_MAX_AGENTS_PER_ACCOUNT`; default 100.
   */
  maxAgentsPerAccount: number;
  /**
   * Registrations, endpoint changes and re-activations one account may make per hour (a burst of
   * this many, then one every 3600/n s), shared through Redis by brokers that share one; past it,
   * `RATE_LIMITED` (429) with `Retry-After`; 0: no limit. Flag `--registration-rate-limit`, env
   * `MERCATO_REGISTRATION_RATE_LIMIT`; default 30.
   */
  registrationsPerHour: number;
}

/** Monitoring settings when nothing is configured. */
export const DEFAULT_MONITORING_SETTINGS: MonitoringSettings = {
  healthIntervalMs: 30_000,
  healthTimeoutMs: 5_000,
  healthConcurrency: 64,
  failuresBeforeDown: 3,
  healthChecksPerHost: 10,
};

/** Fewer calls in the last hour than this never raise the low-success-rate alert, by default. */
export const SUCCESS_RATE_MIN_CALLS = 20;

/** Alert settings when nothing is configured. */
export const DEFAULT_ALERT_SETTINGS: AlertSettings = {
  smtpUrl: undefined,
  from: "Mercato <alerts@localhost>",
};

/** Fraud settings when nothing is configured. */
export const DEFAULT_FRAUD_SETTINGS: FraudSettings = {
  burstFloorPerMinute: 1_000,
  burstMultiplier: 10,
  newAccountDailyLimitMicros: 100_000_000,
  newAccountDays: 7,
  signupsPerHour: 20,
  maxAgentsPerAccount: 100,
  registrationsPerHour: 30,
};

/** How long after its close or expiry a direct-mode grant is settled when nothing is configured, ms. */
export const DEFAULT_GRANT_GRACE_MS = 120_000;

/** Limits of the invoke proxy. */
export interface InvokeSettings {
  /** Seller timeout when a call names none, ms. Flag `--invoke-timeout`, env `MERCATO_INVOKE_TIMEOUT_MS`; default 10,000. */
  defaultTimeoutMs: number;
  /** Largest `timeout_ms` a call may ask for. Flag `--max-invoke-timeout`, env `MERCATO_MAX_INVOKE_TIMEOUT_MS`; default 60,000. */
  maxTimeoutMs: number;
  /** Calls per minute of an access key without its own limit. Flag `--rate-limit`, env `MERCATO_RATE_LIMIT`; default 600. */
  defaultRateLimit: number;
  /** Largest seller answer, bytes; a larger one is a failed call. Default 1 MiB. */
  maxResponseBytes: number;
}

/** The invoke limits when nothing is configured. */
export const DEFAULT_INVOKE_SETTINGS: InvokeSettings = {
  defaultTimeoutMs: 10_000,
  maxTimeoutMs: 60_000,
  defaultRateLimit: 600,
  maxResponseBytes: 1024 * 1024,
};
