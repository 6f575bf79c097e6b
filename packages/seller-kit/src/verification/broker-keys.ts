import { type CallKeyResolver, createJwksKeyResolver, MercatoError } from "@mercato/protocol";

/** A JSON Web Key as published in a broker's key set; only Ed25519 signing keys are used. */
export interface JsonWebKeyLike {
  kty: string;
  crv?: string;
  x?: string;
  kid?: string;
  alg?: string;
  use?: string;
}

/** A JSON Web Key Set, the body of `GET {broker}/.well-known/jwks.json`. */
export interface JsonWebKeySetLike {
  keys: readonly JsonWebKeyLike[];
}

/**
 * The part of `fetch` the kit uses to talk to the broker; the global `fetch` fits. Loading the
 * broker's keys is a GET without `method` nor `body`; direct mode's redemptions and usage reports
 * are POSTs with a JSON `body`.
 */
export type FetchLike = (
  url: string,
  init: { method?: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

/** Options of {@link createBrokerKeyResolver}. */
export interface BrokerKeyResolverOptions {
  /** The broker's base URL: keys come from `${broker}/.well-known/jwks.json`. */
  broker?: string | undefined;
  /** A fixed key set instead of fetching one. */
  jwks?: JsonWebKeySetLike | undefined;
  fetch?: FetchLike | undefined;
  /** Clock, ms since the epoch. */
  now: () => number;
}

/** How long the kit waits for any answer of the broker. */
export const BROKER_TIMEOUT_MS = 10_000;
/** After a failed load, lookups fail at once for this long instead of asking the broker again. */
const FAILED_LOAD_BACKOFF_MS = 1_000;

/** The URL of a broker route: its base URL (trailing slashes ignored) and `path` (`/…`). */
export function brokerUrl(broker: string, path: string): string {
  return `${broker.replace(/\/+$/, "")}${path}`;
}

/** The URL of a broker's key set. */
export function jwksUrl(broker: string): string {
  return brokerUrl(broker, "/.well-known/jwks.json");
}

/**
 * Finds the broker key for a `kid`: from a fixed `jwks`, or from the broker's JWKS, fetched on first
 * use, kept (imported keys included), and fetched again when an unknown `kid` shows up (a rotated
 * key) at most every 30 s. A failed fetch throws `SERVICE_UNAVAILABLE` and is not retried for 1 s,
 * so that a stream of forged calls cannot make the kit hammer a broker that is down.
 */
export function createBrokerKeyResolver(options: BrokerKeyResolverOptions): CallKeyResolver {
  const { jwks, now } = options;
  if (jwks) return createJwksKeyResolver({ load: async () => ({ keys: ed25519Keys(jwks) }), now });

  const url = jwksUrl(options.broker ?? "");
  const fetchKeys = options.fetch ?? (globalThis.fetch as FetchLike);
  let failure: { at: number; error: MercatoError } | undefined;

  const load = async () => {
    if (failure && now() - failure.at < FAILED_LOAD_BACKOFF_MS) throw failure.error;
    try {
      const response = await fetchKeys(url, {
        headers: { accept: "application/json" },
        signal: AbortSignal.timeout(BROKER_TIMEOUT_MS),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = (await response.json()) as Partial<JsonWebKeySetLike> | null;
      if (!body || !Array.isArray(body.keys)) throw new Error("the body is not a JSON Web Key Set");
      failure = undefined;
      return { keys: ed25519Keys(body as JsonWebKeySetLike) };
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      const error = new MercatoError(
        "SERVICE_UNAVAILABLE",
        `Could not load the broker's keys from ${url}: ${reason}`,
        {
          cause,
        },
      );
      failure = { at: now(), error };
      throw error;
    }
  };
  return createJwksKeyResolver({ load, now });
}

/** The Ed25519 signing keys of a set, in the shape protocol imports; the others are skipped. */
function ed25519Keys(jwks: JsonWebKeySetLike) {
  const keys = [];
  for (const jwk of jwks.keys) {
    if (jwk === null || typeof jwk !== "object") continue;
    if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519") continue;
    // An Ed25519 public key is 32 bytes: 43 base64url characters. A bad one would fail the import of the whole set.
    if (typeof jwk.x !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(jwk.x) || typeof jwk.kid !== "string")
      continue;
    if (jwk.use !== undefined && jwk.use !== "sig") continue;
    keys.push({ kty: "OKP", crv: "Ed25519", x: jwk.x, kid: jwk.kid, alg: "EdDSA", use: "sig" } as const);
  }
  return keys;
}
