import type * as z from "zod";
import { base64url, fromBase64url, utf8 } from "../encoding.js";
import { MercatoError } from "../errors/mercato-error.js";
import { importPublicKey } from "../receipts/receipt.js";
import type { Jwks } from "../schemas/ledger.js";

/**
 * Headers of a signed seller call. The broker (in proxy mode) signs every call it sends a seller;
 * the seller kit checks the signature against the broker's published keys.
 */
export const CALL_HEADERS = {
  /** The call's id, the same as the body's `call_id`. Unique per call: a seller refuses a reused one. */
  callId: "mercato-call-id",
  /** When the call was signed, in whole seconds since the Unix epoch. */
  timestamp: "mercato-timestamp",
  /** The `kid` of the broker key that signed (see `/.well-known/jwks.json`). */
  keyId: "mercato-key-id",
  /** The Ed25519 signature of the signing input, base64url. */
  signature: "mercato-signature",
} as const;

/** First line of every signing input: names the scheme, and keeps these signatures apart from receipts. */
export const CALL_SIGNATURE_SCHEME = "mercato-call-v1";

/** How far a call's timestamp may be from the seller's clock, either way, by default: 5 minutes. */
export const DEFAULT_REPLAY_WINDOW_SECONDS = 300;

/** What a call signature covers. */
export interface CallSignatureParts {
  /** HTTP method, upper case. */
  method: string;
  /** The request target as sent: path and query (`/agent/abc?x=1`). */
  path: string;
  /** SHA-256 of the body's bytes, base64url ({@link digestBody}). */
  bodyDigest: string;
  /** Seconds since the Unix epoch. */
  timestamp: number;
  callId: string;
}

/**
 * The exact bytes a call signature signs, one field a line:
 * `mercato-call-v1\nPOST\n/path?query\n<body digest>\n<timestamp>\n<call id>`.
 * A receipt's JWS signing input never contains a newline, so one key can sign both safely.
 */
export function callSigningInput(parts: CallSignatureParts): string {
  return [
    CALL_SIGNATURE_SCHEME,
    parts.method.toUpperCase(),
    parts.path,
    parts.bodyDigest,
    String(parts.timestamp),
    parts.callId,
  ].join("\n");
}

/** SHA-256 of a body (a string is taken as UTF-8), base64url: the `bodyDigest` of a signature. */
export async function digestBody(body: Uint8Array | string): Promise<string> {
  const bytes = typeof body === "string" ? utf8(body) : body;
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)));
}

/** A call to sign or to verify: the request target, its method and its exact body. */
export interface SignableCall {
  method: string;
  /** Path and query, as on the request line. */
  path: string;
  body: Uint8Array | string;
}

/**
 * Signs a seller call with an Ed25519 private key (WebCrypto) and returns the four headers to send
 * with it. The broker uses this scheme for every proxied call.
 *
 * @example
 * const headers = await signCall({ method: "POST", path: "/agent", body, callId }, privateKey, kid);
 */
export async function signCall(
  call: SignableCall & { callId: string; timestamp?: number },
  privateKey: CryptoKey,
  kid: string,
): Promise<Record<(typeof CALL_HEADERS)[keyof typeof CALL_HEADERS], string>> {
  const timestamp = call.timestamp ?? Math.floor(Date.now() / 1000);
  const input = callSigningInput({
    method: call.method,
    path: call.path,
    bodyDigest: await digestBody(call.body),
    timestamp,
    callId: call.callId,
  });
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, privateKey, utf8(input));
  return {
    [CALL_HEADERS.callId]: call.callId,
    [CALL_HEADERS.timestamp]: String(timestamp),
    [CALL_HEADERS.keyId]: kid,
    [CALL_HEADERS.signature]: base64url(new Uint8Array(signature)),
  };
}

/** Why a call signature was refused. */
export type CallSignatureFailure = "missing" | "malformed" | "stale" | "unknown_key" | "bad_signature";

/** Finds the public key for a `kid`; undefined when there is none. */
export type CallKeyResolver = (kid: string) => Promise<CryptoKey | undefined>;

/** Options of {@link verifyCallSignature}. */
export interface VerifyCallOptions {
  resolveKey: CallKeyResolver;
  /** The verifier's clock, ms since the epoch (default `Date.now()`). */
  now?: number;
  /** Largest allowed distance between the call's timestamp and `now` (default 300 s). */
  windowSeconds?: number;
}

/** A verified call's signed facts. */
export interface VerifiedCall {
  callId: string;
  timestamp: number;
  kid: string;
}

const CALL_ID = /^[\x21-\x7e]{1,200}$/;

/**
 * Checks a call's signature headers: all present and well formed, the timestamp within the window,
 * the key known, the Ed25519 signature valid over method, path, body digest, timestamp and call id.
 * Replay of a valid call inside the window is the caller's to refuse (remember the call ids).
 *
 * @throws MercatoError `UNAUTHENTICATED`, with `details.reason` a {@link CallSignatureFailure}.
 */
export async function verifyCallSignature(
  call: SignableCall & { header: (name: string) => string | null | undefined },
  options: VerifyCallOptions,
): Promise<VerifiedCall> {
  const callId = call.header(CALL_HEADERS.callId);
  const timestampText = call.header(CALL_HEADERS.timestamp);
  const kid = call.header(CALL_HEADERS.keyId);
  const signatureText = call.header(CALL_HEADERS.signature);
  if (!callId || !timestampText || !kid || !signatureText) {
    throw refused("missing", "The call is not signed by a Mercato broker");
  }
  const signature = fromBase64url(signatureText);
  if (!CALL_ID.test(callId) || !/^\d{1,12}$/.test(timestampText) || !signature || signature.length !== 64) {
    throw refused("malformed", "The call's signature headers are malformed");
  }
  const timestamp = Number(timestampText);
  const now = (options.now ?? Date.now()) / 1000;
  const window = options.windowSeconds ?? DEFAULT_REPLAY_WINDOW_SECONDS;
  if (Math.abs(now - timestamp) > window) {
    throw refused(
      "stale",
      `The call was signed ${Math.round(now - timestamp)} s from now, outside ${window} s`,
    );
  }
  const key = await options.resolveKey(kid);
  if (!key) throw refused("unknown_key", `The call is signed by an unknown key (${kid})`);
  const input = callSigningInput({
    method: call.method,
    path: call.path,
    bodyDigest: await digestBody(call.body),
    timestamp,
    callId,
  });
  const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, utf8(input));
  if (!ok) throw refused("bad_signature", "The call's signature does not verify");
  return { callId, timestamp, kid };
}

function refused(reason: CallSignatureFailure, message: string): MercatoError {
  return new MercatoError("UNAUTHENTICATED", message, { details: { reason } });
}

/** Options of {@link createJwksKeyResolver}. */
export interface JwksKeyResolverOptions {
  /** Fetches the broker's key set (`GET {broker}/.well-known/jwks.json`). */
  load: () => Promise<z.input<typeof Jwks>>;
  /** An unknown `kid` triggers a reload at most this often (default 30 s). */
  minReloadIntervalMs?: number;
  /** Clock, ms (default `Date.now`). */
  now?: () => number;
}

/**
 * A {@link CallKeyResolver} over a broker's JWKS: loads the set on first use, keeps the imported
 * keys, and reloads when asked for a `kid` it does not know (a rotated broker key), no more often
 * than `minReloadIntervalMs` so that forged kids cannot make it hammer the broker. Concurrent
 * lookups share one load; a failed load is retried on the next lookup.
 */
export function createJwksKeyResolver(options: JwksKeyResolverOptions): CallKeyResolver {
  const interval = options.minReloadIntervalMs ?? 30_000;
  const now = options.now ?? Date.now;
  let keys = new Map<string, CryptoKey>();
  let loadedAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | undefined;

  const reload = () => {
    loading ??= (async () => {
      try {
        const jwks = await options.load();
        const next = new Map<string, CryptoKey>();
        for (const jwk of jwks.keys) {
          if (jwk.kty === "OKP" && jwk.crv === "Ed25519") next.set(jwk.kid, await importPublicKey(jwk));
        }
        keys = next;
        loadedAt = now();
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };

  return async (kid) => {
    const known = keys.get(kid);
    if (known) return known;
    if (now() - loadedAt >= interval) await reload();
    else if (loading) await loading;
    return keys.get(kid);
  };
}
