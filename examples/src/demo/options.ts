// The demo's command line: --calls, --port and --keep-running.
import { parseArgs } from "node:util";
import { MercatoError } from "@mercato/protocol";

/** Options of the demo. */
export interface DemoOptions {
  calls: number;
  port: number;
  keepRunning: boolean;
}

export function parseOptions(argv: readonly string[]): DemoOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      calls: { type: "string", default: "20" },
      port: { type: "string" },
      "keep-running": { type: "boolean", default: false },
    },
  });
  const keepRunning = values["keep-running"] === true;
  const calls = Number(values.calls);
  const port = Number(values.port ?? (keepRunning ? "4020" : "0"));
  if (!Number.isSafeInteger(calls) || calls < 1 || calls > 500) {
    throw new MercatoError(
      "VALIDATION_ERROR",
      `--calls must be a whole number from 1 to 500, got ${values.calls}`,
    );
  }
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) {
    throw new MercatoError("VALIDATION_ERROR", `--port must be a port from 0 to 65535, got ${values.port}`);
  }
  return { calls, port, keepRunning };
}
