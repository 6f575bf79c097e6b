#!/usr/bin/env node
import { BROKER_USAGE, ConfigError, parseConfig } from "./app/config.js";
import { listenFailure, productionNotice, startBroker } from "./app/start.js";

const PAYMENTS: Record<string, string> = {
  stripe: "stripe (Checkout top-ups, Connect payouts)",
  dev: "dev (top-ups credited at once, no real money)",
  none: "none (top-ups answer 503; settlements recorded for manual payout)",
};

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  process.stdout.write(`Usage: mercato-broker [options]\n\nStarts the Mercato broker.\n\n${BROKER_USAGE}\n`);
  process.exit(0);
}

try {
  const config = parseConfig(args, process.env);
  const broker = await startBroker(config);
  process.stdout.write(
    `Mercato broker listening on ${broker.url}${config.dev ? " (dev mode)" : ""}\n` +
      `  database  ${config.dbPath}\n  payments  ${PAYMENTS[broker.payments ?? "none"] ?? broker.payments}\n` +
      `  API docs  ${broker.url}/docs\n  OpenAPI   ${broker.url}/openapi.json\n` +
      (config.dev ? "" : productionNotice(broker.payments, "npm start -- --dev")),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    broker.app.log.info({ signal }, "shutting down");
    broker.close().then(
      () => process.exit(0),
      (error: unknown) => {
        broker.app.log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`mercato-broker: ${error.message}\n\n${BROKER_USAGE}\n`);
    process.exit(2);
  }
  const why = listenFailure(error);
  if (why !== undefined) {
    process.stderr.write(`mercato-broker: cannot listen: ${why}\n`);
    process.exit(1);
  }
  throw error;
}
