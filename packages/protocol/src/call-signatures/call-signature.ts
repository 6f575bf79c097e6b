import type * as z from "zod";
import { base64url, fromBase64url, utf8 } from "../encoding.js";
import { MercatoError } from "../errors/mercato-error.js";
import { importPublicKey } from "../receipts/public-key.js";
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
  /** The Ed25519 signature of the `mercato-call-v2` signing input, base64url. */
  signature: "mercato-signature-v2",
  /** The listing the call is for (`agent_…`): a seller kit serves only its own listings. */
  agentId: "mercato-agent-id",
  /** The account that owns that listing (`acct_…`), which the call's charge pays. */
  agentOwner: "mercato-agent-owner",
  /** The call's price, an integer number of micro-USD: what the buyer is charged on success. */
  priceMicros: "mercato-price-micros",
} as const;

/**
 * First line of every signing input: names the scheme, and keeps these signatures apart from
 * receipts. v2 also signs the listing (agent id, its owner and the call's price); v1 signatures,
 * which named no listing, are no longer accepted.
 */
export const CALL_SIGNATURE_SCHEME = "mercato-call-v2";

/**
 * The header of the retired `mercato-call-v1` signature, which named no listing. A broker still
 * sends it, beside the v2 signature, to listings in their endpoint-proof grace period, so that
 * seller kits older than v2 keep working until their sellers upgrade; this kit never accepts it.
 */
export const LEGACY_CALL_SIGNATURE_HEADER = "mercato-signature";

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
  /** The listing the call is for (`agent_…`). */
  agentId: string;
  /** The listing's owner account (`acct_…`). */
  agentOwner: string;
  /** The call's price, integer micro-USD. */
  priceMicros: number;
}

/** The listing a call is for, as the broker signs it. */
export interface CallListing {
  agentId: string;
  agentOwner: string;
  /** Integer micro-USD. */
  priceMicros: number;
}

/**
 * The exact bytes a call signature signs, one field a line:
 * `mercato-call-v2\nPOST\n/path?query\n<body digest>\n<timestamp>\n<call id>\n<agent id>\n<owner id>\n<price micros>`.
 * No field may contain a newline (ids are printable ASCII, checked on both sides), so the fields
 * cannot be shifted into one another. A receipt's JWS signing input never contains a newline, so
 * one key can sign both safely.
 */
export function callSigningInput(parts: CallSignatureParts): string {
  return [
    CALL_SIGNATURE_SCHEME,
    parts.method.toUpperCase(),
    parts.path,
    parts.bodyDigest,
    String(parts.timestamp),
    parts.callId,
    parts.agentId,
    parts.agentOwner,
    String(parts.priceMicros),
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
 * Signs a seller call with an Ed25519 private key (WebCrypto) and returns the seven headers to send
 * with it. The broker uses this scheme for every proxied call.
 *
 * @example
 * const headers = await signCall(
 *   { method: "POST", path: "/agent", body, callId, agentId, agentOwner, priceMicros: 20_000 },
 *   privateKey,
 *   kid,
 * );
 */
export async function signCall(
  call: SignableCall & CallListing & { callId: string; timestamp?: number },
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
    agentId: call.agentId,
    agentOwner: call.agentOwner,
    priceMicros: call.priceMicros,
  });
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, privateKey, utf8(input));
  return callHeaders({ ...call, timestamp }, kid, base64url(new Uint8Array(signature)));
}

/** The headers of a signed call, from its signed facts and its signature (base64url). */
export function callHeaders(
  call: CallListing & { callId: string; timestamp: number },
  kid: string,
  signature: string,
): Record<(typeof CALL_HEADERS)[keyof typeof CALL_HEADERS], string> {
  return {
    [CALL_HEADERS.callId]: call.callId,
    [CALL_HEADERS.timestamp]: String(call.timestamp),
    [CALL_HEADERS.keyId]: kid,
    [CALL_HEADERS.signature]: signature,
    [CALL_HEADERS.agentId]: call.agentId,
    [CALL_HEADERS.agentOwner]: call.agentOwner,
    [CALL_HEADERS.priceMicros]: String(call.priceMicros),
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

/** A verified call's signed facts: who signed, when, and the listing it is for. */
export interface VerifiedCall extends CallListing {
  callId: string;
  timestamp: number;
  kid: string;
}

const CALL_ID = /^[\x21-\x7e]{1,200}$/;
/** Listing and account ids: printable ASCII without spaces, as the broker makes them. */
const LISTING_ID = /^[\x21-\x7e]{1,200}$/;

/**
 * Checks a call's signature headers: all present and well formed, the timestamp within the window,
 * the key known, the Ed25519 signature valid over method, path, body digest, timestamp, call id,
 * agent id, agent owner and price. Replay of a valid call inside the window is the caller's to
 * refuse (remember the call ids); that the listing is the caller's own is the caller's to check.
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
  const agentId = call.header(CALL_HEADERS.agentId);
  const agentOwner = call.header(CALL_HEADERS.agentOwner);
  const priceText = call.header(CALL_HEADERS.priceMicros);
  if (!signatureText && call.header(LEGACY_CALL_SIGNATURE_HEADER)) {
    throw refused(
      "missing",
      `The call carries only a mercato-call-v1 signature, which names no listing: it was sent by a Mercato broker older than this seller kit, which needs ${CALL_SIGNATURE_SCHEME} (${CALL_HEADERS.signature})`,
    );
  }
  if (!callId || !timestampText || !kid || !signatureText) {
    throw refused("missing", "The call is not signed by a Mercato broker");
  }
  if (!agentId || !agentOwner || !priceText) {
    throw refused(
      "missing",
      "The call does not name its listing (mercato-agent-id, mercato-agent-owner, mercato-price-micros): it was not signed by a current Mercato broker",
    );
  }
  const signature = fromBase64url(signatureText);
  if (
    !CALL_ID.test(callId) ||
    !/^\d{1,12}$/.test(timestampText) ||
    !LISTING_ID.test(agentId) ||
    !LISTING_ID.test(agentOwner) ||
    !/^\d{1,15}$/.test(priceText) ||
    !signature ||
    signature.length !== 64
  ) {
    throw refused("malformed", "The call's signature headers are malformed");
  }
  const priceMicros = Number(priceText);
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
    agentId,
    agentOwner,
    priceMicros,
  });
  const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, utf8(input));
  if (!ok) throw refused("bad_signature", "The call's signature does not verify");
  return { callId, timestamp, kid, agentId, agentOwner, priceMicros };
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
