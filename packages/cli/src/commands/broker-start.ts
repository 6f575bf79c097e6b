import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { ListenError, UsageError } from "../errors.js";
import { action } from "../runtime.js";

/** The options of `mercato broker start`, as commander parses them. */
interface BrokerStartFlags {
  port?: string;
  host?: string;
  db?: string;
  postgres?: string;
  redis?: string;
  dev?: boolean;
  adminToken?: string;
  logLevel?: string;
}

/**
 * Adds `start` to the `broker` command: starts a broker from flags and environment variables,
 * prints its URL and runs until SIGINT or SIGTERM, then stops it cleanly.
 *
 * @throws UsageError naming the flag or variable when a value is invalid (the broker's ConfigError),
 *   ListenError naming the port when the broker cannot listen on it.
 */
export function addBrokerStartCommand(broker: Command, context: CliContext): Command {
  return broker
    .command("start")
    .summary("Start a broker on this machine")
    .description(
      "Start a broker on this machine: the registry, API keys and OpenAPI docs, on one SQLite file.\n" +
        "Each flag has an environment variable of the same meaning; the flag wins.",
    )
    .option("--port <n>", "port to listen on, 0 picks a free one (env PORT; default 4020)")
    .option("--host <addr>", "interface to listen on (env HOST; default 127.0.0.1)")
    .option("--db <path>", "SQLite file, created if missing (env MERCATO_DB; default ./.mercato/mercato.db)")
    .option(
      "--postgres <url>",
      "PostgreSQL instead of SQLite, for several brokers on one database (env MERCATO_DATABASE_URL)",
    )
    .option(
      "--redis <url>",
      "Redis for rate limits and the key cache shared by several brokers (env MERCATO_REDIS_URL)",
    )
    .option(
      "--dev",
      "dev mode: allow http and local seller endpoints; never in production (env MERCATO_DEV=1)",
    )
    .option("--admin-token <token>", "token of the admin routes, 16+ characters (env MERCATO_ADMIN_TOKEN)")
    .option(
      "--log-level <level>",
      "fatal, error, warn, info, debug, trace or silent (env LOG_LEVEL; default info)",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ mercato broker start --dev
  $ mercato broker start --port 8080 --db ./data/mercato.db --log-level warn
  $ mercato broker start --postgres postgres://mercato@db:5432/mercato --redis redis://cache:6379
  $ PORT=0 MERCATO_DEV=1 mercato broker start`,
    )
    .action(
      action(context, async (runtime, flags: BrokerStartFlags) => {
        // Loaded here, not at the top: every other command stays quick to start without the broker's
        // server, database driver and logger.
        const { ConfigError, listenFailure, parseConfig, productionNotice, startBroker } = await import(
          "@mercato/broker"
        );
        let config: ReturnType<typeof parseConfig>;
        try {
          config = parseConfig(toBrokerArgv(flags), context.env, context.cwd);
        } catch (error) {
          if (error instanceof ConfigError) throw new UsageError(error.message, { cause: error });
          throw error;
        }
        let running: Awaited<ReturnType<typeof startBroker>>;
        try {
          running = await startBroker(config);
        } catch (error) {
          const why = listenFailure(error);
          if (why !== undefined) throw new ListenError(why, { cause: error });
          throw error;
        }
        // With --json, one JSON line per event (the broker's own logs are JSON lines too).
        if (runtime.json) {
          context.stdout(
            `${JSON.stringify({ event: "listening", url: running.url, database: describeDatabase(config), dev: config.dev })}\n`,
          );
        } else {
          context.stdout(
            `Mercato broker listening on ${running.url}${config.dev ? " (dev mode)" : ""}\n` +
              `  database  ${describeDatabase(config)}\n` +
              (config.redisUrl === undefined ? "" : `  redis     ${redact(config.redisUrl)}\n`) +
              `  API docs  ${running.url}/docs\n` +
              `  OpenAPI   ${running.url}/openapi.json\n` +
              (config.dev ? "" : productionNotice(running.payments, "mercato broker start --dev")) +
              "Press Ctrl-C to stop.\n",
          );
        }
        let reason = "stopped";
        try {
          reason = await context.untilStopped();
          running.app.log.info({ reason }, "shutting down");
        } finally {
          await running.close();
        }
        context.stdout(
          runtime.json ? `${JSON.stringify({ event: "stopped", reason })}\n` : "Mercato broker stopped.\n",
        );
      }),
    );
}

/** The broker's own flags (see BROKER_USAGE) for what commander parsed: the broker validates them. */
function toBrokerArgv(flags: BrokerStartFlags): string[] {
  const argv: string[] = [];
  const pass = (flag: string, value: string | undefined) => {
    if (value !== undefined) argv.push(`--${flag}`, value);
  };
  pass("port", flags.port);
  pass("host", flags.host);
  pass("db", flags.db);
  pass("postgres", flags.postgres);
  pass("redis", flags.redis);
  pass("admin-token", flags.adminToken);
  pass("log-level", flags.logLevel);
  if (flags.dev === true) argv.push("--dev");
  return argv;
}

/** The store, as printed at start: the SQLite file, or the PostgreSQL URL without its password. */
function describeDatabase(config: { dbPath: string; postgresUrl: string | undefined }): string {
  return config.postgresUrl === undefined ? config.dbPath : redact(config.postgresUrl);
}

/** A service URL with its password replaced: start-up output may end up in logs. */
function redact(value: string): string {
  const url = new URL(value);
  if (url.password !== "") url.password = "***";
  return url.toString();
}
