import { isErrorCode, MercatoError } from "@mercato/protocol/errors";
import type { paths } from "../generated/openapi.js";

/** A standard `fetch`: the global one, or one injected for tests, proxies or other runtimes. */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

type HttpMethod = "get" | "post" | "patch" | "delete";
type Path = keyof paths;
/** The methods a path has (an absent one is `?: never`, so its type is `undefined`). */
type MethodOf<P extends Path> = {
  [M in HttpMethod]: paths[P][M] extends undefined ? never : M;
}[HttpMethod];
type Operation<P extends Path, M extends HttpMethod> = NonNullable<paths[P][M]>;
type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;
type Success<O> = O extends { responses: infer R }
  ? { [S in keyof R]: S extends 200 | 201 ? Json<R[S]> : never }[keyof R]
  : never;
type Body<O> = O extends { requestBody: { content: { "application/json": infer B } } } ? B : never;
type PathParams<O> = O extends { parameters: { path: infer P } } ? P : never;
type Query<O> = O extends { parameters: { query?: infer Q } } ? Q : never;

/** What a request sends besides its method and path, typed by the generated OpenAPI types. */
export type RequestInput<O> = ([PathParams<O>] extends [never] ? unknown : { params: PathParams<O> }) &
  ([Body<O>] extends [never] ? unknown : { body: Body<O> }) &
  ([Query<O>] extends [never] ? unknown : { query?: Query<O> });

/** The largest timeout a runtime's timers honour (2^31 − 1 ms, about 24.8 days). */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/** True for a timeout {@link createRequester} accepts: a positive integer number of ms. */
export function isValidTimeout(ms: number): boolean {
  return Number.isSafeInteger(ms) && ms > 0 && ms <= MAX_TIMEOUT_MS;
}

/** What one request may change of the client's defaults. */
export interface RequestOptions {
  /** Aborts the request; the request then throws the signal's reason, not a {@link MercatoError}. */
  signal?: AbortSignal | undefined;
  /** This request's timeout, in ms, instead of the client's. */
  timeoutMs?: number | undefined;
  /** Extra headers (names in any case). */
  headers?: Record<string, string> | undefined;
  /** The Bearer key of this request instead of the client's (an access key for invoke). */
  apiKey?: string | undefined;
}

/** Options of {@link createRequester}. */
export interface RequesterOptions {
  baseUrl: string;
  apiKey: string | undefined;
  fetch: FetchFunction;
  timeoutMs: number;
  userAgent: string;
}

/** Sends one request to the broker: path, method, params, body and answer typed by OpenAPI. */
export type Requester = <P extends Path, M extends MethodOf<P>>(
  method: M,
  path: P,
  input: RequestInput<Operation<P, M>>,
  options?: RequestOptions,
) => Promise<Success<Operation<P, M>>>;

/**
 * Makes the client's one way to talk to the broker: JSON in and out, the Bearer key, a timeout
 * (combined with the caller's `signal`), and every failure as a {@link MercatoError} but an abort
 * by the caller's signal, which throws the signal's reason as `fetch` does.
 */
export function createRequester(options: RequesterOptions): Requester {
  const base = options.baseUrl.replace(/\/+$/, "");
  return async (method, path, input, perRequest = {}) => {
    const { params, query, body } = input as { params?: object; query?: object; body?: unknown };
    const url = `${base}${fillPath(path, params)}${queryString(query)}`;
    const timeoutMs = perRequest.timeoutMs ?? options.timeoutMs;
    if (!isValidTimeout(timeoutMs)) {
      throw new MercatoError("VALIDATION_ERROR", `timeoutMs must be a positive integer, got ${timeoutMs}`);
    }
    const apiKey = perRequest.apiKey ?? options.apiKey;
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": options.userAgent,
    };
    if (apiKey !== undefined) headers.authorization = `Bearer ${apiKey}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    for (const [name, value] of Object.entries(perRequest.headers ?? {})) headers[name.toLowerCase()] = value;

    const caller = perRequest.signal;
    if (caller?.aborted) throw abortReason(caller);
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await options.fetch(url, {
        method: method.toUpperCase(),
        headers,
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: caller === undefined ? timeout : AbortSignal.any([caller, timeout]),
      });
      text = await response.text();
    } catch (cause) {
      // The caller gave up: not the broker's fault, and not worth a retry.
      if (caller?.aborted) throw abortReason(caller);
      const why = timeout.aborted
        ? `no answer within ${timeoutMs} ms`
        : cause instanceof Error
          ? cause.message
          : String(cause);
      throw new MercatoError("SERVICE_UNAVAILABLE", `Could not reach the broker at ${base}: ${why}`, {
        cause,
      });
    }

    let parsed: unknown;
    let parseError: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch (error) {
      parseError = error;
    }
    if (!response.ok) throw errorFromResponse(response, parsed, parseError);
    if (parseError !== undefined || parsed === undefined) {
      throw new MercatoError(
        "INTERNAL_ERROR",
        `The broker answered ${method.toUpperCase()} ${path} with HTTP ${response.status} and no JSON body`,
        { cause: parseError, details: { status: response.status } },
      );
    }
    return parsed as Success<Operation<typeof path, typeof method>>;
  };
}

/**
 * The broker's error, with a 429's `Retry-After` (in seconds) as `details.retry_after_s` when the
 * body does not carry it, and `RATE_LIMITED` for a 429 without an envelope (from a proxy, say).
 */
function errorFromResponse(response: Response, parsed: unknown, parseError: unknown): MercatoError {
  const error = MercatoError.fromResponse(response.status, parsed, parseError);
  if (response.status !== 429) return error;
  const fromEnvelope = isErrorCode((parsed as { error?: { code?: unknown } } | undefined)?.error?.code);
  const retryAfter = retryAfterSeconds(response.headers.get("retry-after"));
  const addRetryAfter = retryAfter !== undefined && error.details?.retry_after_s === undefined;
  if (fromEnvelope && !addRetryAfter) return error;
  const details = addRetryAfter ? { ...error.details, retry_after_s: retryAfter } : error.details;
  return new MercatoError(fromEnvelope ? error.code : "RATE_LIMITED", error.message, {
    status: error.status,
    ...(details !== undefined && { details }),
    ...(error.requestId !== undefined && { requestId: error.requestId }),
    ...(error.cause !== undefined && { cause: error.cause }),
  });
}

/** `Retry-After` as whole seconds from now: delay-seconds or an HTTP date. */
function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/**
 * What a request aborted by the caller throws: the signal's reason when it is an error (by default
 * a `DOMException` named `AbortError`), else an `AbortError` carrying the reason as its cause.
 */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error("The request was aborted", { cause: reason });
  error.name = "AbortError";
  return error;
}

function fillPath(path: string, params: object | undefined): string {
  return path.replace(/\{(\w+)\}/g, (_match, name: string) => {
    const value = (params as Record<string, unknown> | undefined)?.[name];
    if (typeof value !== "string" || value === "") {
      throw new MercatoError("VALIDATION_ERROR", `Missing path parameter ${name} for ${path}`);
    }
    return encodeURIComponent(value);
  });
}

function queryString(query: object | undefined): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null) search.append(name, String(item));
    }
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}
