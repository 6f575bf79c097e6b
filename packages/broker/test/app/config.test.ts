import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/app/config.js";
import {
  DEFAULT_ALERT_SETTINGS,
  DEFAULT_FRAUD_SETTINGS,
  DEFAULT_INVOKE_SETTINGS,
  DEFAULT_MONITORING_SETTINGS,
} from "../../src/platform/settings.js";

describe("parseConfig", () => {
  it("defaults to 127.0.0.1:4020 on ./.mercato/mercato.db, not dev, no admin token", () => {
    expect(parseConfig([], {}, "/srv/app")).toEqual({
      port: 4020,
      host: "127.0.0.1",
      dbPath: "/srv/app/.mercato/mercato.db",
      postgresUrl: undefined,
      postgresPoolSize: 10,
      redisUrl: undefined,
      redisPrefix: "mercato:",
      dev: false,
      adminToken: undefined,
      logLevel: "info",
      stripe: undefined,
      publicUrl: undefined,
      invoke: {
        defaultTimeoutMs: 10_000,
        maxTimeoutMs: 60_000,
        defaultRateLimit: 600,
        maxResponseBytes: 1_048_576,
      },
      grantGraceMs: 120_000,
      monitoring: DEFAULT_MONITORING_SETTINGS,
      alerts: DEFAULT_ALERT_SETTINGS,
      fraud: DEFAULT_FRAUD_SETTINGS,
    });
  });

  it("reads the direct-mode grace period in seconds", () => {
    expect(parseConfig(["--grant-grace", "5"], {}).grantGraceMs).toBe(5_000);
    expect(parseConfig([], { MERCATO_GRANT_GRACE_S: "300" }).grantGraceMs).toBe(300_000);
    expect(() => parseConfig(["--grant-grace", "0"], {})).toThrow(/--grant-grace must be a whole number/);
  });

  it("reads PostgreSQL and Redis URLs from flags or the environment, and refuses other schemes", () => {
    const config = parseConfig(["--postgres", "postgres://mercato:pw@db:5432/mercato"], {
      MERCATO_REDIS_URL: "redis://cache:6379/0",
    });
    expect(config.postgresUrl).toBe("postgres://mercato:pw@db:5432/mercato");
    expect(config.redisUrl).toBe("redis://cache:6379/0");
    expect(parseConfig([], { MERCATO_DATABASE_URL: "postgresql://db/m" }).postgresUrl).toBe(
      "postgresql://db/m",
    );
    expect(parseConfig([], {})).toMatchObject({
      postgresUrl: undefined,
      postgresPoolSize: 10,
      redisUrl: undefined,
      redisPrefix: "mercato:",
    });
    expect(parseConfig(["--redis-prefix", "shop-a:"], {}).redisPrefix).toBe("shop-a:");
    expect(parseConfig(["--pg-pool-size", "32"], {}).postgresPoolSize).toBe(32);
    expect(parseConfig([], {}).postgresLeaderUrl).toBeUndefined();
    expect(
      parseConfig(["--pg-leader-url", "postgres://db:5432/m"], {
        MERCATO_LEADER_DATABASE_URL: "postgres://x/m",
      }).postgresLeaderUrl,
    ).toBe("postgres://db:5432/m");
    expect(parseConfig([], { MERCATO_LEADER_DATABASE_URL: "postgresql://db/m" }).postgresLeaderUrl).toBe(
      "postgresql://db/m",
    );
    expect(() => parseConfig(["--pg-leader-url", "mysql://db/m"], {})).toThrow(ConfigError);
    expect(() => parseConfig([], { MERCATO_PG_POOL_SIZE: "0" })).toThrow(ConfigError);
    expect(() => parseConfig([], { MERCATO_REDIS_PREFIX: "has space" })).toThrow(ConfigError);
    expect(() => parseConfig(["--postgres", "mysql://db/m"], {})).toThrow(
      new ConfigError("--postgres must be a postgres:// or postgresql:// URL, got mysql://"),
    );
    expect(() => parseConfig([], { MERCATO_REDIS_URL: "not a url" })).toThrow(
      new ConfigError("MERCATO_REDIS_URL must be a redis:// or rediss:// URL"),
    );
  });

  it("reads the monitoring, alert and fraud settings", () => {
    const config = parseConfig(["--health-interval", "5000", "--new-account-daily-limit", "25.5"], {
      MERCATO_SMTP_URL: "smtp://user:secret@127.0.0.1:2525",
      MERCATO_ALERT_FROM: "Ops <ops@example.com>",
    });
    expect(config.monitoring.healthIntervalMs).toBe(5000);
    expect(config.alerts).toEqual({
      smtpUrl: "smtp://user:secret@127.0.0.1:2525",
      from: "Ops <ops@example.com>",
    });
    expect(config.fraud.newAccountDailyLimitMicros).toBe(25_500_000);
    expect(parseConfig(["--new-account-daily-limit", "0"], {}).fraud.newAccountDailyLimitMicros).toBeNull();
    expect(() => parseConfig([], { MERCATO_SMTP_URL: "http://mail.example.com" })).toThrow(
      /MERCATO_SMTP_URL must be/,
    );
    expect(() => parseConfig(["--new-account-daily-limit", "-1"], {})).toThrow(ConfigError);
  });

  it("reads the sign-up limit: accounts per hour per client address, 0 = off", () => {
    expect(DEFAULT_FRAUD_SETTINGS.signupsPerHour).toBe(20);
    expect(parseConfig([], {}).fraud.signupsPerHour).toBe(20);
    expect(parseConfig(["--signup-rate-limit", "5"], {}).fraud.signupsPerHour).toBe(5);
    expect(parseConfig([], { MERCATO_SIGNUP_RATE_LIMIT: "0" }).fraud.signupsPerHour).toBe(0);
    expect(
      parseConfig(["--signup-rate-limit", "7"], { MERCATO_SIGNUP_RATE_LIMIT: "9" }).fraud.signupsPerHour,
    ).toBe(7);
    for (const bad of ["-1", "1.5", "many", "100000001"]) {
      expect(() => parseConfig([`--signup-rate-limit=${bad}`], {}), bad).toThrow(
        /--signup-rate-limit must be/,
      );
    }
    expect(() => parseConfig([], { MERCATO_SIGNUP_RATE_LIMIT: "x" })).toThrow(
      /MERCATO_SIGNUP_RATE_LIMIT must be/,
    );
  });

  it("reads the registration limits (0 = off) and the health checks per host", () => {
    const defaults = parseConfig([], {});
    expect(defaults.fraud).toMatchObject({ maxAgentsPerAccount: 100, registrationsPerHour: 30 });
    expect(defaults.monitoring.healthChecksPerHost).toBe(10);
    const flags = parseConfig(
      ["--max-agents-per-account", "5", "--registration-rate-limit", "0", "--health-checks-per-host", "3"],
      { MERCATO_MAX_AGENTS_PER_ACCOUNT: "9", MERCATO_HEALTH_CHECKS_PER_HOST: "7" },
    );
    expect(flags.fraud).toMatchObject({ maxAgentsPerAccount: 5, registrationsPerHour: 0 });
    expect(flags.monitoring.healthChecksPerHost).toBe(3);
    const env = parseConfig([], {
      MERCATO_MAX_AGENTS_PER_ACCOUNT: "0",
      MERCATO_REGISTRATION_RATE_LIMIT: "12",
      MERCATO_HEALTH_CHECKS_PER_HOST: "2",
    });
    expect(env.fraud).toMatchObject({ maxAgentsPerAccount: 0, registrationsPerHour: 12 });
    expect(env.monitoring.healthChecksPerHost).toBe(2);
    expect(() => parseConfig(["--max-agents-per-account=-1"], {})).toThrow(
      /--max-agents-per-account must be/,
    );
    expect(() => parseConfig([], { MERCATO_REGISTRATION_RATE_LIMIT: "1.5" })).toThrow(
      /MERCATO_REGISTRATION_RATE_LIMIT must be/,
    );
    // A host always has a bound: 0 would stop every check.
    expect(() => parseConfig(["--health-checks-per-host", "0"], {})).toThrow(
      /--health-checks-per-host must be a whole number from 1/,
    );
  });

  it("reads the invoke limits, and refuses a default timeout above the maximum", () => {
    expect(
      parseConfig(["--invoke-timeout", "2000", "--rate-limit", "30"], {
        MERCATO_MAX_INVOKE_TIMEOUT_MS: "5000",
      }).invoke,
    ).toEqual({
      ...DEFAULT_INVOKE_SETTINGS,
      defaultTimeoutMs: 2000,
      maxTimeoutMs: 5000,
      defaultRateLimit: 30,
    });
    // A maximum below the default timeout lowers the default with it.
    expect(parseConfig(["--max-invoke-timeout", "3000"], {}).invoke.defaultTimeoutMs).toBe(3000);
    expect(() => parseConfig(["--invoke-timeout", "9000", "--max-invoke-timeout", "3000"], {})).toThrow(
      /--invoke-timeout \(9000 ms\) is above the maximum/,
    );
    expect(() => parseConfig([], { MERCATO_RATE_LIMIT: "0" })).toThrow(
      /MERCATO_RATE_LIMIT must be a whole number/,
    );
    expect(() => parseConfig(["--invoke-timeout", "1.5"], {})).toThrow(ConfigError);
  });

  it("reads environment variables, and flags win over them", () => {
    const env = {
      PORT: "5000",
      HOST: "0.0.0.0",
      MERCATO_DB: "data/m.db",
      MERCATO_DEV: "1",
      MERCATO_ADMIN_TOKEN: "a-very-long-admin-token",
      LOG_LEVEL: "warn",
      MERCATO_PUBLIC_URL: "https://mercato.example.com/",
    };
    expect(parseConfig([], env, "/srv")).toEqual({
      port: 5000,
      host: "0.0.0.0",
      dbPath: "/srv/data/m.db",
      postgresUrl: undefined,
      postgresPoolSize: 10,
      redisUrl: undefined,
      redisPrefix: "mercato:",
      dev: true,
      adminToken: "a-very-long-admin-token",
      logLevel: "warn",
      stripe: undefined,
      publicUrl: "https://mercato.example.com",
      invoke: DEFAULT_INVOKE_SETTINGS,
      grantGraceMs: 120_000,
      monitoring: DEFAULT_MONITORING_SETTINGS,
      alerts: DEFAULT_ALERT_SETTINGS,
      fraud: DEFAULT_FRAUD_SETTINGS,
    });
    const flags = ["--port", "6000", "--host", "::1", "--db", "/tmp/x.db", "--log-level", "error"];
    expect(
      parseConfig([...flags, "--public-url", "http://localhost:9000/broker"], env, "/srv"),
    ).toMatchObject({
      port: 6000,
      host: "::1",
      dbPath: "/tmp/x.db",
      logLevel: "error",
      publicUrl: "http://localhost:9000/broker",
    });
    expect(parseConfig(["--dev"], {}).dev).toBe(true);
    expect(parseConfig([], { MERCATO_DEV: "0" }).dev).toBe(false);
  });

  it.each([
    [["--port", "http"], {}, /--port must be a port number/],
    [[], { PORT: "70000" }, /PORT must be a port number/],
    [[], { PORT: "-1" }, /PORT must be a port number/],
    [[], { MERCATO_DEV: "maybe" }, /MERCATO_DEV must be 1 or 0/],
    [[], { MERCATO_ADMIN_TOKEN: "short" }, /MERCATO_ADMIN_TOKEN must be at least 16 characters/],
    [["--log-level", "loud"], {}, /--log-level must be one of/],
    [["--host", "bad host!"], {}, /--host must be a host name/],
    [["--colour"], {}, /Unknown option '--colour'/],
    [["start"], {}, /Unexpected argument 'start'/],
    [[], { MERCATO_PUBLIC_URL: "ftp://files.example" }, /MERCATO_PUBLIC_URL must be an http or https URL/],
    [["--public-url", "not a url"], {}, /--public-url must be an http or https URL/],
    [[], { MERCATO_PUBLIC_URL: "https://x.example/?a=1" }, /without query or fragment/],
    [["--stripe-secret-key", "sk_test_abc"], {}, /Unknown option '--stripe-secret-key'/],
  ] as const)("fails fast with a clear message: %j %j", (argv, env, message) => {
    expect(() => parseConfig(argv, env)).toThrow(ConfigError);
    expect(() => parseConfig(argv, env)).toThrow(message);
  });

  describe("Stripe", () => {
    const secretKey = "sk_test_51AbCdEfGhIjKlMnOp";
    const webhookSecret = "whsec_0123456789abcdef";

    it("is on with both variables, from the environment only", () => {
      const env = { STRIPE_SECRET_KEY: secretKey, STRIPE_WEBHOOK_SECRET: webhookSecret };
      expect(parseConfig([], env).stripe).toEqual({ secretKey, webhookSecret });
      expect(parseConfig([], { ...env, STRIPE_SECRET_KEY: "rk_live_restricted1" }).stripe?.secretKey).toBe(
        "rk_live_restricted1",
      );
      expect(parseConfig([], { STRIPE_SECRET_KEY: "", STRIPE_WEBHOOK_SECRET: "" }).stripe).toBeUndefined();
    });

    it.each([
      [{ STRIPE_SECRET_KEY: secretKey }, /STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not/],
      [{ STRIPE_WEBHOOK_SECRET: webhookSecret }, /STRIPE_WEBHOOK_SECRET is set but STRIPE_SECRET_KEY is not/],
      [
        { STRIPE_SECRET_KEY: "pk_test_publishable9", STRIPE_WEBHOOK_SECRET: webhookSecret },
        /STRIPE_SECRET_KEY must be a Stripe secret or restricted key/,
      ],
      [
        { STRIPE_SECRET_KEY: secretKey, STRIPE_WEBHOOK_SECRET: "sk_test_swapped12" },
        /STRIPE_WEBHOOK_SECRET must be a webhook signing secret/,
      ],
    ])("fails fast when half or wrongly set, without echoing a secret: %j", (env, message) => {
      expect(() => parseConfig([], env)).toThrow(ConfigError);
      expect(() => parseConfig([], env)).toThrow(message);
      try {
        parseConfig([], env);
      } catch (error) {
        for (const value of Object.values(env)) expect((error as Error).message).not.toContain(value);
      }
    });
  });
});
