// A seller program's settings: each flag wins over its environment variable, which wins over the
// default; an invalid value is a VALIDATION_ERROR naming the flag or variable.
import { parseArgs } from "node:util";
import { MercatoError, parseUsd } from "@mercato/protocol";
import { PPM } from "./failure-schedule.js";

/** The broker a seller trusts when neither `--broker` nor `MERCATO_URL` names one. */
export const DEFAULT_BROKER_URL = "http://127.0.0.1:4020";

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
