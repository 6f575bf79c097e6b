// What every example seller program shares: its settings from flags and environment variables, the
// deterministic failure schedule, the seller kit in front of its handler on node:http, the one
// "listening on" line, and a clean exit on SIGTERM or SIGINT.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { MercatoError, parseUsd } from "@mercato/protocol";
import { createClient, type RegisterAgentRequest } from "@mercato/sdk";
import { type SellerContract, type SellerKit, type StandardSchemaV1, sellerKit } from "@mercato/seller-kit";

/** The broker a seller trusts when neither `--broker` nor `MERCATO_URL` names one. */
export const DEFAULT_BROKER_URL = "http://127.0.0.1:4020";

/** Parts per million in a whole: failure rates are exact integers of ppm, never floats. */
const PPM = 1_000_000;

/** How one run of a seller program is set up. */
export interface SellerSettings {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** The broker whose signed calls are accepted (its `/.well-known/jwks.json`). */
  brokerUrl: string;
  /** The agent's name on the marketplace (used by `--register` and shown in some outputs). */
  name: string;
  /** Price per call, USD, as a decimal string. */
  priceUsd: string;
  /** Share of calls that fail with a 500, in parts per million (0–1,000,000). */
  failRatePpm: number;
  /**
   * How long a failing call takes before it fails, ms: an upstream that gives up after a while.
   * Failed calls are free, but a buyer waits for them.
   */
  failAfterMs: number;
  /** Register the agent with the broker at start, with the account key in `MERCATO_API_KEY`. */
  register: boolean;
  /** The account key for `register`. */
  apiKey: string | undefined;
  /**
   * The seller's account id (`acct_…`): the kit serves this account's listings only. Without it,
   * the account of `apiKey` (looked up at start).
   */
  owner: string | undefined;
}

/** What a handler learns about the program running it. */
export interface SellerRunContext {
  /** The name it runs under (`--name`), e.g. to sign its answers. */
  name: string;
}

/** A seller program: its handler, its input and output schemas and how it appears on the marketplace. */
export interface SellerDefinition<
  Schema extends StandardSchemaV1,
  Output extends StandardSchemaV1 = StandardSchemaV1,
> {
  /** The program's file name without extension, e.g. `"price-oracle"`. */
  program: string;
  /** The path it serves calls on, e.g. `"/price"`; the registered endpoint ends with it. */
  path: string;
  /** Name used unless `--name` or `SELLER_NAME` says otherwise. */
  defaultName: string;
  /** Price per call used unless `--price` or `SELLER_PRICE` says otherwise. */
  defaultPriceUsd: string;
  /** The zod schema the kit checks each call's input against (a 400 otherwise). */
  input: Schema;
  /**
   * The zod schema of its answer: the kit checks every output against it (a broken one is the
   * seller's unpaid failure) and serves both as JSON Schema at `…/.well-known/mercato-contract`.
   */
  output: Output;
  /** The seller's own work: pure and deterministic in the examples. */
  handler: (
    input: StandardSchemaV1.InferOutput<Schema>,
    context: SellerRunContext,
  ) => StandardSchemaV1.InferInput<Output>;
  /** Its registration, for an endpoint URL; `overrides` replace fields (name, price, …). */
  manifest: (endpointUrl: string, overrides?: Partial<RegisterAgentRequest>) => RegisterAgentRequest;
}

/** What an example seller's registration says of itself; {@link cryptoManifest} adds the rest. */
export interface ManifestFields {
  name: string;
  description: string;
  tags: string[];
  /** Price per call, USD. */
  priceUsd: string;
}

/**
 * The registration builder of an example seller: category `crypto`, version 1.0.0, priced per
 * call, at the endpoint URL it is given; `overrides` replace fields (a second edition's name and
 * price, say).
 *
 * @example const manifest = cryptoManifest({ name: "Gas", description: "…", tags: ["gas"], priceUsd: "0.001" });
 */
export function cryptoManifest(
  fields: ManifestFields,
): (endpointUrl: string, overrides?: Partial<RegisterAgentRequest>) => RegisterAgentRequest {
  return (endpointUrl, overrides = {}) => ({
    name: fields.name,
    description: fields.description,
    category: "crypto",
    tags: fields.tags,
    version: "1.0.0",
    api_endpoint: endpointUrl,
    pricing: { model: "per_call", price_per_call: fields.priceUsd },
    ...overrides,
  });
}

/**
 * Reads a seller program's settings: each flag wins over its environment variable, which wins
 * over the default.
 *
 * | flag | variable | default |
 * |---|---|---|
 * | `--port` | `PORT` | `0` (a free port) |
 * | `--broker` | `MERCATO_URL` | `http://127.0.0.1:4020` |
 * | `--name` | `SELLER_NAME` | the seller's own |
 * | `--price` | `SELLER_PRICE` | the seller's own |
 * | `--fail-rate` | `FAIL_RATE` | `0` |
 * | `--fail-after` | `FAIL_AFTER_MS` | `0` (a failing call fails at once) |
 * | `--register` | `MERCATO_REGISTER=1` | off (needs `MERCATO_API_KEY`) |
 * | `--owner` | `MERCATO_OWNER` | the account of `MERCATO_API_KEY` |
 *
 * One of `--owner`, `MERCATO_OWNER` or `MERCATO_API_KEY` is required: the seller kit serves only
 * its owner's listings.
 *
 * @throws MercatoError `VALIDATION_ERROR` naming the flag or variable whose value is invalid.
 */
export function parseSellerSettings(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  defaults: { name: string; priceUsd: string },
): SellerSettings {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        port: { type: "string" },
        broker: { type: "string" },
        name: { type: "string" },
        price: { type: "string" },
        "fail-rate": { type: "string" },
        "fail-after": { type: "string" },
        register: { type: "boolean" },
        owner: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (cause) {
    throw new MercatoError("VALIDATION_ERROR", (cause as Error).message, { cause });
  }
  const pick = (flag: string, variable: string): { value: string; from: string } | undefined => {
    const fromFlag = values[flag];
    if (typeof fromFlag === "string") return { value: fromFlag, from: `--${flag}` };
    const fromEnv = env[variable];
    if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, from: variable };
    return undefined;
  };

  const port = pick("port", "PORT");
  const broker = pick("broker", "MERCATO_URL");
  const name = pick("name", "SELLER_NAME");
  const price = pick("price", "SELLER_PRICE");
  const failRate = pick("fail-rate", "FAIL_RATE");
  const failAfter = pick("fail-after", "FAIL_AFTER_MS");
  const owner = pick("owner", "MERCATO_OWNER");
  const settings: SellerSettings = {
    port: port === undefined ? 0 : parsePort(port.value, port.from),
    brokerUrl: broker === undefined ? DEFAULT_BROKER_URL : parseBrokerUrl(broker.value, broker.from),
    name: name === undefined ? defaults.name : name.value.trim(),
    priceUsd: price === undefined ? defaults.priceUsd : parsePrice(price.value, price.from),
    failRatePpm: failRate === undefined ? 0 : parseRatePpm(failRate.value, failRate.from),
    failAfterMs: failAfter === undefined ? 0 : parseDelayMs(failAfter.value, failAfter.from),
    register: values.register === true || env.MERCATO_REGISTER === "1",
    apiKey: env.MERCATO_API_KEY === "" ? undefined : env.MERCATO_API_KEY,
    owner: owner === undefined ? undefined : parseOwner(owner.value, owner.from),
  };
  if (settings.name === "") throw invalid(name?.from ?? "--name", "must not be empty");
  if (settings.register && settings.apiKey === undefined) {
    throw invalid("--register", "needs an account key in MERCATO_API_KEY");
  }
  if (settings.owner === undefined && settings.apiKey === undefined) {
    throw invalid(
      "--owner",
      "is required (or MERCATO_OWNER, or an account key in MERCATO_API_KEY): your account id, acct_…, whose listings the seller kit serves",
    );
  }
  return settings;
}

function parseOwner(text: string, from: string): string {
  const owner = text.trim();
  if (!/^acct_[\x21-\x7e]+$/.test(owner)) throw invalid(from, `must be an account id (acct_…), got ${text}`);
  return owner;
}

/** A whole number of milliseconds from 0 to 60,000, e.g. `FAIL_AFTER_MS=1000`. */
function parseDelayMs(text: string, from: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 60_000)
    throw invalid(from, `must be whole milliseconds from 0 to 60000, got ${text}`);
  return Number(text);
}

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

/**
 * A failure rate (`"0.5"`, `"0.25"`, `"1"`) as exact parts per million, so that the failure
 * schedule never depends on floating-point rounding.
 *
 * @throws MercatoError `VALIDATION_ERROR` for anything but a decimal from 0 to 1 with at most 6 decimals.
 * @example parseRatePpm("0.5", "FAIL_RATE"); // 500000
 */
export function parseRatePpm(text: string, from = "rate"): number {
  const match = /^(\d+)(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (!match) throw invalid(from, `must be a decimal from 0 to 1 with at most 6 decimals, got ${text}`);
  const ppm = Number(match[1]) * PPM + Number((match[2] ?? "").padEnd(6, "0"));
  if (ppm > PPM) throw invalid(from, `must be at most 1, got ${text}`);
  return ppm;
}

/**
 * Whether call number `n` (0 for the first) fails under a failure rate of `ratePpm` parts per
 * million: it does when `floor((n + 1) · rate) > floor(n · rate)`. Failures are spread evenly
 * (at rate 0.5 every second call fails, at 0.25 every fourth), and any `k` calls in a row hold
 * `floor(k · rate)` or `ceil(k · rate)` failures. Integer arithmetic only.
 */
export function failsAt(n: number, ratePpm: number): boolean {
  return Math.floor(((n + 1) * ratePpm) / PPM) > Math.floor((n * ratePpm) / PPM);
}

/** Counts calls and says whether each fails under a fixed rate (see {@link failsAt}). */
export interface FailureSchedule {
  /** Takes the next call number and tells whether that call fails. */
  next(): boolean;
  /** Calls counted so far. */
  readonly calls: number;
  /** Of those, failed ones. */
  readonly failures: number;
}

/** A deterministic failure schedule for a rate in parts per million. */
export function createFailureSchedule(ratePpm: number): FailureSchedule {
  if (!Number.isInteger(ratePpm) || ratePpm < 0 || ratePpm > PPM) {
    throw new MercatoError("VALIDATION_ERROR", `ratePpm must be an integer from 0 to ${PPM}, got ${ratePpm}`);
  }
  let calls = 0;
  let failures = 0;
  return {
    next() {
      const fails = failsAt(calls, ratePpm);
      calls++;
      if (fails) failures++;
      return fails;
    },
    get calls() {
      return calls;
    },
    get failures() {
      return failures;
    },
  };
}

/** The error of a call the failure schedule made fail; the kit answers it as a 500. */
export class ScheduledFailure extends Error {
  override readonly name = "ScheduledFailure";
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

/**
 * A kit's contract as registration fields: `input_schema` and `output_schema`, each left out when
 * the kit has none (registration takes a schema or nothing).
 */
export function withSchemas(contract: SellerContract): Partial<RegisterAgentRequest> {
  return {
    ...(contract.input_schema !== null && { input_schema: contract.input_schema }),
    ...(contract.output_schema !== null && { output_schema: contract.output_schema }),
  } as Partial<RegisterAgentRequest>;
}

function parsePort(text: string, from: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || port > 65_535)
    throw invalid(from, `must be a port from 0 to 65535, got ${text}`);
  return port;
}

function parseBrokerUrl(text: string, from: string): string {
  try {
    const url = new URL(text);
    if (url.protocol === "http:" || url.protocol === "https:") return text.trim().replace(/\/+$/, "");
  } catch {
    // Reported below, with the variable's name.
  }
  throw invalid(from, `must be an http(s) URL, got ${text}`);
}

function parsePrice(text: string, from: string): string {
  try {
    if (parseUsd(text) > 0n) return text.trim();
  } catch {
    // Reported below, with the variable's name.
  }
  throw invalid(from, `must be a USD amount above 0 with at most 6 decimals, got ${text}`);
}

function invalid(from: string, message: string): MercatoError {
  return new MercatoError("VALIDATION_ERROR", `${from} ${message}`, { details: { setting: from } });
}
