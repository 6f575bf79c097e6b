import { MercatoError } from "@mercato/protocol/errors";
import type { FetchFunction } from "./request.js";

/** Where a seller kit serves its contract, below its endpoint. */
export const KIT_CONTRACT_PATH = "/.well-known/mercato-contract";

/** The default time to wait for a kit's contract. */
const DEFAULT_KIT_CONTRACT_TIMEOUT_MS = 10_000;

/**
 * A seller kit's contract: the JSON Schemas (draft 2020-12) of the input it takes and the output it
 * answers, `null` for one it does not declare. The shape `client.agents.register` takes.
 */
export interface KitContract {
  input_schema: Record<string, unknown> | null;
  output_schema: Record<string, unknown> | null;
}

/** Options of {@link fetchKitContract}. */
export interface FetchKitContractOptions {
  /** The `fetch` to use (default: the global one). */
  fetch?: FetchFunction;
  /** How long to wait for the kit, in ms (default 10 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Reads the contract a seller kit serves at `GET {endpoint}/.well-known/mercato-contract`, derived
 * from its `input` and `output` schemas, so that a listing can be registered with its schemas
 * without writing JSON Schema by hand. `endpoint` is the kit's endpoint (the listing's
 * `api_endpoint`), or the contract's own URL.
 *
 * @throws MercatoError `VALIDATION_ERROR` when `endpoint` is not an http(s) URL; `SELLER_UNAVAILABLE`
 * when the kit cannot be reached, `SELLER_TIMEOUT` when it does not answer in time; `SELLER_ERROR`
 * when it answers anything but a contract (an endpoint without the seller kit, or a kit too old to
 * serve one).
 *
 * @example
 * import { createClient, fetchKitContract } from "@mercato/sdk";
 *
 * const endpoint = "https://summarizer.example/agent";
 * const { input_schema, output_schema } = await fetchKitContract(endpoint);
 * await client.agents.register({
 *   ...listing, // name, description, category, tags, pricing
 *   api_endpoint: endpoint,
 *   ...(input_schema && { input_schema }),
 *   ...(output_schema && { output_schema }),
 * });
 */
export async function fetchKitContract(
  endpoint: string,
  options: FetchKitContractOptions = {},
): Promise<KitContract> {
  const url = kitContractUrl(endpoint);
  const fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? DEFAULT_KIT_CONTRACT_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  let status: number;
  let text: string;
  try {
    const response = await fetchImpl(url, {
      method: "GET",
      headers: { accept: "application/json" },
      signal: options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]),
    });
    status = response.status;
    text = await response.text();
  } catch (cause) {
    if (options.signal?.aborted) throw cause;
    if (timeout.aborted) {
      throw new MercatoError(
        "SELLER_TIMEOUT",
        `The seller kit at ${url} did not answer within ${timeoutMs} ms`,
        {
          cause,
        },
      );
    }
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new MercatoError("SELLER_UNAVAILABLE", `Could not reach the seller kit at ${url}: ${why}`, {
      cause,
    });
  }
  const contract = status === 200 ? parseContract(text) : undefined;
  if (contract === undefined) {
    throw new MercatoError(
      "SELLER_ERROR",
      `${url} answered HTTP ${status} without a contract: is the endpoint served by @mercato/seller-kit ` +
        "(a version that serves .well-known/mercato-contract)?",
      { details: { status } },
    );
  }
  return contract;
}

/** The URL of the contract of the kit at `endpoint` (the endpoint's query, if any, kept). */
function kitContractUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    url = new URL("invalid:");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new MercatoError(
      "VALIDATION_ERROR",
      `The seller kit's endpoint must be an http(s) URL, got ${endpoint}`,
    );
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (!path.endsWith(KIT_CONTRACT_PATH)) url.pathname = `${path}${KIT_CONTRACT_PATH}`;
  url.hash = "";
  return url.href;
}

function parseContract(text: string): KitContract | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null) return undefined;
  const { input_schema: input, output_schema: output } = body as Record<string, unknown>;
  if (!isSchemaOrNull(input) || !isSchemaOrNull(output)) return undefined;
  return { input_schema: input, output_schema: output };
}

function isSchemaOrNull(value: unknown): value is Record<string, unknown> | null {
  return value === null || (typeof value === "object" && !Array.isArray(value));
}
