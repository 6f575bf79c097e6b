// A seller program's server: the seller kit in front of its handler on node:http, the failure
// schedule applied to its calls, the one "listening on" line and, with --register, its registration.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "@mercato/sdk";
import { type SellerKit, type StandardSchemaV1, sellerKit } from "@mercato/seller-kit";
import { createFailureSchedule, ScheduledFailure } from "./failure-schedule.js";
import { type SellerDefinition, type SellerRunContext, withSchemas } from "./seller-definition.js";
import { parseSellerSettings, type SellerSettings } from "./seller-settings.js";

/** Waits `ms`, or until the call is abandoned. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A seller program listening on a loopback port. */
export interface RunningSeller {
  /** The endpoint to register: `http://127.0.0.1:<port><path>`. */
  url: string;
  kit: SellerKit;
  settings: SellerSettings;
  /** Stops accepting calls and closes open connections. */
  close(): Promise<void>;
}

/** Options of {@link startSeller}. */
export interface StartSellerOptions {
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  /** Where the `listening on` line goes (stdout by default). */
  stdout?: (line: string) => void;
  /** Where other messages go (stderr by default). */
  stderr?: (line: string) => void;
}

/**
 * Starts a seller program: reads its settings, puts the seller kit (verifying the broker's
 * signatures, serving its owner's listings only, checking input with the definition's schema) in front of its handler on
 * `node:http`, listens on 127.0.0.1, and prints exactly one line, `listening on <endpoint>`, which
 * scripts wait for. With `--register` it then registers itself with the broker.
 *
 * @throws MercatoError `VALIDATION_ERROR` for invalid settings, the broker's error when `--register`
 *   fails (the server is closed first); the listen error (`EADDRINUSE`…).
 */
export async function startSeller<Schema extends StandardSchemaV1, Output extends StandardSchemaV1>(
  definition: SellerDefinition<Schema, Output>,
  options: StartSellerOptions = {},
): Promise<RunningSeller> {
  const stdout = options.stdout ?? ((line: string) => process.stdout.write(`${line}\n`));
  const stderr = options.stderr ?? ((line: string) => process.stderr.write(`${line}\n`));
  const settings = parseSellerSettings(options.argv ?? process.argv.slice(2), options.env ?? process.env, {
    name: definition.defaultName,
    priceUsd: definition.defaultPriceUsd,
  });
  const schedule = createFailureSchedule(settings.failRatePpm);
  const context: SellerRunContext = { name: settings.name };
  const owner =
    settings.owner ??
    (await createClient({ baseUrl: settings.brokerUrl, apiKey: settings.apiKey }).accounts.me()).account_id;
  const kit = sellerKit({
    broker: settings.brokerUrl,
    owner,
    input: definition.input,
    output: definition.output,
    handler: async (input, { signal }) => {
      if (schedule.next()) {
        const failure = new ScheduledFailure(`call ${schedule.calls} failed on schedule`);
        if (settings.failAfterMs > 0) await delay(settings.failAfterMs, signal);
        throw failure;
      }
      return definition.handler(input, context);
    },
    onError: (error, where) => {
      // Scheduled failures are the point of FAIL_RATE: not worth a line each.
      if (error instanceof ScheduledFailure) return;
      stderr(`${definition.program}: ${where.stage} failed (${where.requestId}): ${String(error)}`);
    },
  });
  const server = createServer(kit.node);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(settings.port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}${definition.path}`;
  stdout(`listening on ${url}`);

  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  if (settings.register && settings.apiKey !== undefined) {
    const client = createClient({ baseUrl: settings.brokerUrl, apiKey: settings.apiKey });
    try {
      const { agent_id } = await client.agents.register(
        definition.manifest(url, {
          name: settings.name,
          pricing: { model: "per_call", price_per_call: settings.priceUsd },
          // The listing's contract: the JSON Schemas the kit derived from the zod schemas.
          ...withSchemas(kit.contract),
        }),
      );
      stderr(
        `${definition.program}: registered as ${agent_id} ("${settings.name}", ${settings.priceUsd} USD a call)`,
      );
    } catch (error) {
      // Not registered, not reachable: nobody would call it, so it does not keep running.
      await close();
      throw error;
    }
  }

  return {
    url,
    kit,
    settings,
    close,
  };
}
