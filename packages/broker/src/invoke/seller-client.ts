import { exceedsJsonDepth, MAX_JSON_DEPTH } from "@mercato/protocol";
import { Agent, errors as undiciErrors } from "undici";
import { type SellerErrorSummary, summariseSellerError } from "../contracts/index.js";
import { publicOnlyLookup, type ResolveHost } from "../platform/endpoint-policy.js";

/** How a call to a seller ended. Failures are data: the invoke path voids the hold for each. */
export type SellerCallResult =
  | { kind: "ok"; status: number; output: unknown }
  /** The seller answered, but not with a 2xx seller-protocol body. */
  | {
      kind: "error";
      reason: string;
      status?: number;
      sellerCode?: string;
      /** The seller's own error envelope, capped and sanitised (see `summariseSellerError`). */
      sellerError?: SellerErrorSummary;
    }
  | { kind: "timeout" }
  /** The seller could not be reached (refused, reset before answering, DNS, blocked address). */
  | { kind: "unavailable"; reason: string };

/** One call: where, what, and how long to wait. */
export interface SellerRequest {
  origin: string;
  /** Path and query. */
  path: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

/** Calls sellers over pooled keep-alive connections. */
export interface SellerClient {
  call(request: SellerRequest): Promise<SellerCallResult>;
  close(): Promise<void>;
}

/** Options of {@link createSellerClient}. */
export interface SellerClientOptions {
  /** Dev mode: loopback and private seller addresses are allowed. */
  dev: boolean;
  /** Resolves seller hosts; every address must be public outside dev mode. */
  resolveHost: ResolveHost;
  /** Largest seller answer, bytes (default 1 MiB): a larger one is a failed call. */
  maxResponseBytes?: number;
  /** Connections kept per seller origin (default 256). */
  connectionsPerOrigin?: number;
}

class ResponseTooLarge extends Error {}

/**
 * The broker's HTTP client for sellers: an undici pool per origin with keep-alive, no redirects
 * (a 3xx is a failed call), a size limit on answers, and, outside dev mode, a DNS lookup that
 * refuses non-public addresses at connect time, so that an endpoint re-pointed at the broker's own
 * network after registration (DNS rebinding) is still refused.
 */
export function createSellerClient(options: SellerClientOptions): SellerClient {
  const maxBytes = options.maxResponseBytes ?? 1024 * 1024;
  const agent = new Agent({
    connections: options.connectionsPerOrigin ?? 256,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    pipelining: 1,
    ...(!options.dev && { connect: { lookup: publicOnlyLookup(options.resolveHost) } }),
  });

  return {
    async call(request) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), request.timeoutMs);
      try {
        const response = await agent.request({
          origin: request.origin,
          path: request.path,
          method: "POST",
          headers: request.headers,
          body: request.body,
          signal: controller.signal,
          headersTimeout: request.timeoutMs,
          bodyTimeout: request.timeoutMs,
        });
        let text: string;
        try {
          text = await readLimited(response.body, maxBytes);
        } catch (error) {
          if (error instanceof ResponseTooLarge) {
            return {
              kind: "error",
              status: response.statusCode,
              reason: `answered more than ${maxBytes} bytes`,
            };
          }
          throw error;
        }
        return interpret(response.statusCode, text);
      } catch (error) {
        if (controller.signal.aborted) return { kind: "timeout" };
        return classify(error);
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => agent.close(),
  };
}

async function readLimited(
  body: AsyncIterable<Buffer> & { destroy(): void },
  maxBytes: number,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      throw new ResponseTooLarge();
    }
    chunks.push(chunk);
  }
  return chunks.length === 1
    ? (chunks[0] as Buffer).toString("utf8")
    : Buffer.concat(chunks).toString("utf8");
}

function interpret(status: number, text: string): SellerCallResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {
      kind: "error",
      status,
      reason: status >= 200 && status < 300 ? "answered a body that is not JSON" : `answered HTTP ${status}`,
    };
  }
  if (status < 200 || status >= 300) {
    const code = (json as { error?: { code?: unknown } } | null)?.error?.code;
    const sellerError = summariseSellerError(json);
    return {
      kind: "error",
      status,
      reason: `answered HTTP ${status}`,
      ...(typeof code === "string" && code.length <= 64 && { sellerCode: code }),
      ...(sellerError && { sellerError }),
    };
  }
  if (json === null || typeof json !== "object" || Array.isArray(json) || !Object.hasOwn(json, "output")) {
    return { kind: "error", status, reason: 'answered JSON without an "output" field' };
  }
  const output = (json as { output: unknown }).output;
  // What JSON.parse built always serialises again, unless it nests so deep that JSON.stringify runs
  // out of stack: refused here, before any capture, so the buyer's answer can always be built.
  if (exceedsJsonDepth(output, MAX_JSON_DEPTH)) {
    return {
      kind: "error",
      status,
      reason: `answered an output nested deeper than ${MAX_JSON_DEPTH} levels`,
    };
  }
  return { kind: "ok", status, output };
}

function classify(error: unknown): SellerCallResult {
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return { kind: "timeout" };
  }
  if (error instanceof undiciErrors.ConnectTimeoutError)
    return { kind: "unavailable", reason: "connect timed out" };
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (
    typeof code === "string" &&
    /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ENOTPUBLIC|EHOSTUNREACH|ENETUNREACH|ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED)$/.test(
      code,
    )
  ) {
    return { kind: "unavailable", reason: code === "ENOTPUBLIC" ? message : `${code}` };
  }
  return { kind: "unavailable", reason: message };
}
