import type { ErrorCode, MercatoError, REQUEST_SCHEMAS, RESPONSE_SCHEMAS } from "@mercato/protocol";
import type { FastifyReply, FastifyRequest } from "fastify";
import type * as z from "zod";

/**
 * `none`: public; `account`: an account key (mk_…); `access`: an access key (sk_live_… or sk_test_…);
 * `key`: either kind of key (the caller is the key's account); `admin`: the admin token from the config.
 */
export type AuthMode = "none" | "account" | "access" | "key" | "admin";
export type RequestName = keyof typeof REQUEST_SCHEMAS;
export type ResponseName = keyof typeof RESPONSE_SCHEMAS;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/**
 * Who called, by auth mode. Empty here: the accounts module fills it in (`accounts/authenticate.ts`)
 * by declaration merging, as Fastify's decorators are typed, so that this machinery stays below the
 * modules that use it.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by declaration merging
export interface RouteCallers {}
type CallerOf<A extends AuthMode> = A extends "account"
  ? RouteCallers extends { account: infer C }
    ? C
    : never
  : A extends "access" | "key"
    ? RouteCallers extends { access: infer C }
      ? C
      : never
    : undefined;

/** What a handler gets: parsed inputs, the caller, and the dependencies its module declares. */
export interface RouteContext<D, B, Q, P, A extends AuthMode> {
  deps: D;
  body: B;
  query: Q;
  params: P;
  caller: CallerOf<A>;
  request: FastifyRequest;
  reply: FastifyReply;
}

/**
 * One HTTP route, described once: the broker registers it with Fastify and lists it in the
 * OpenAPI document from the same description.
 */
export interface RouteSpec<
  D,
  BN extends RequestName | undefined,
  QS extends z.ZodType | undefined,
  PS extends z.ZodType | undefined,
  RN extends ResponseName,
  A extends AuthMode,
> {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** Fastify path, `:name` for parameters. */
  url: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: A;
  body?: BN;
  query?: QS;
  params?: PS;
  success: { status: 200 | 201; schema: RN; description: string };
  /** Error codes this route answers with, besides the common ones. */
  errors?: ErrorCode[];
  /** The route is rate-limited: the OpenAPI document lists its 429 and the RateLimit headers. */
  rateLimited?: boolean;
  /** Largest body this route takes, bytes, when above the broker's (64 KiB by default). */
  bodyLimit?: number;
  /**
   * Told of every 4xx this route answers (before the handler, as a body that is not JSON or too
   * large, or from it), before the answer is sent: the invoke proxy counts a buyer's invalid input
   * as a client error. Must not throw.
   */
  onRefused?: (deps: D, request: FastifyRequest, error: MercatoError) => Promise<void>;
  handler: (
    context: RouteContext<
      D,
      BN extends RequestName ? z.output<(typeof REQUEST_SCHEMAS)[BN]> : undefined,
      Out<QS>,
      Out<PS>,
      A
    >,
  ) => Promise<z.input<(typeof RESPONSE_SCHEMAS)[RN]>>;
}

/** A route with its input types erased, as the broker keeps them; `D` is what its module uses. */
export type Route<D> = RouteSpec<
  D,
  RequestName | undefined,
  z.ZodType | undefined,
  z.ZodType | undefined,
  ResponseName,
  AuthMode
>;

/**
 * A module's route definer: `const defineRoute = routeDefiner<RegistryDeps>()`. Each route's handler
 * then sees only the dependencies its module declares; the composition root checks that what it
 * hands the module satisfies them.
 */
export function routeDefiner<D>() {
  return function defineRoute<
    BN extends RequestName | undefined = undefined,
    QS extends z.ZodType | undefined = undefined,
    PS extends z.ZodType | undefined = undefined,
    RN extends ResponseName = ResponseName,
    A extends AuthMode = "none",
  >(spec: RouteSpec<D, BN, QS, PS, RN, A>): Route<D> {
    return spec as unknown as Route<D>;
  };
}
