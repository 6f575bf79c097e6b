import { MercatoError } from "@mercato/protocol";
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
) => Promise<Success<Operation<P, M>>>;

/**
 * Makes the client's one way to talk to the broker: JSON in and out, the Bearer key, a timeout,
 * and every failure as a {@link MercatoError}.
 */
export function createRequester(options: RequesterOptions): Requester {
  const base = options.baseUrl.replace(/\/+$/, "");
  return async (method, path, input) => {
    const { params, query, body } = input as { params?: object; query?: object; body?: unknown };
    const url = `${base}${fillPath(path, params)}${queryString(query)}`;
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": options.userAgent,
    };
    if (options.apiKey !== undefined) headers.authorization = `Bearer ${options.apiKey}`;
    if (body !== undefined) headers["content-type"] = "application/json";

    let response: Response;
    let text: string;
    try {
      response = await options.fetch(url, {
        method: method.toUpperCase(),
        headers,
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      text = await response.text();
    } catch (cause) {
      const why =
        cause instanceof Error && cause.name === "TimeoutError"
          ? `no answer within ${options.timeoutMs} ms`
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
    if (!response.ok) throw MercatoError.fromResponse(response.status, parsed, parseError);
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
