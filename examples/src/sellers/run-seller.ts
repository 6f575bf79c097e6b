// What every example seller program shares: its settings from flags and environment variables, the
// deterministic failure schedule, the seller kit in front of its handler on node:http, the one
// "listening on" line, and a clean exit on SIGTERM or SIGINT.
//
// The parts live in modules of their own: seller-settings.ts (flags and environment variables),
// failure-schedule.ts (which calls fail), seller-definition.ts (a program's definition and its
// registration) and seller-server.ts (the seller kit on node:http); this module runs a program and
// exports all of it, as the sellers, the demo and the tests import it.
import { MercatoError } from "@mercato/protocol";
import type { StandardSchemaV1 } from "@mercato/seller-kit";
import type { SellerDefinition } from "./seller-definition.js";
import { type RunningSeller, startSeller } from "./seller-server.js";

export {
  createFailureSchedule,
  type FailureSchedule,
  failsAt,
  ScheduledFailure,
} from "./failure-schedule.js";
export {
  cryptoManifest,
  type ManifestFields,
  type SellerDefinition,
  type SellerRunContext,
  withSchemas,
} from "./seller-definition.js";
export { type RunningSeller, type StartSellerOptions, startSeller } from "./seller-server.js";
export {
  DEFAULT_BROKER_URL,
  parseRatePpm,
  parseSellerSettings,
  type SellerSettings,
} from "./seller-settings.js";

/**
 * The `main` of a seller program: starts it, and on SIGTERM or SIGINT closes the server and exits
 * with status 0. A bad setting prints `<program>: <message>` and exits with status 2.
 */
export async function runSellerProgram<Schema extends StandardSchemaV1, Output extends StandardSchemaV1>(
  definition: SellerDefinition<Schema, Output>,
): Promise<void> {
  let running: RunningSeller;
  try {
    running = await startSeller(definition);
  } catch (error) {
    process.stderr.write(`${definition.program}: ${(error as Error).message}\n`);
    process.exitCode = error instanceof MercatoError && error.code === "VALIDATION_ERROR" ? 2 : 1;
    return;
  }
  const stop = () => {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    // Pooled keep-alive connections to the broker (its key set) may hold the loop open: the process
    // ends when the server has closed, or after a second at the latest.
    setTimeout(() => process.exit(0), 1_000).unref();
    void running.close().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
