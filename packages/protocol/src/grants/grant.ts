import type * as z from "zod";
import type { CallKeyResolver } from "../call-signatures/call-signature.js";
import { directError } from "../direct/failures.js";
import { base64url, decodeJson, encodeJson, fromBase64url, utf8 } from "../encoding.js";
import { MercatoError } from "../errors/mercato-error.js";
import { importPublicKey } from "../receipts/public-key.js";
import { GrantPayload } from "../schemas/grants.js";
import type { Jwks } from "../schemas/ledger.js";

/** A grant token's payload. */
export type GrantPayloadValue = z.output<typeof GrantPayload>;

/** A signed grant: the payload and its token (a compact JWS). */
export interface SignedGrant {
  payload: GrantPayloadValue;
  token: string;
}

/** The `typ` of a grant token's JWS header; keeps grants apart from receipts signed by the same key. */
export const GRANT_TOKEN_TYPE = "mercato-grant+jws";

/** Longest grant token accepted, in characters (a real one is under 1,000). */
const MAX_TOKEN_LENGTH = 4096;

const ED25519 = { name: "Ed25519" } as const;

/**
 * Signs a grant with the broker's Ed25519 private key as a compact JWS with the header
 * `{"alg":"EdDSA","typ":"mercato-grant+jws","kid"}`. WebCrypto only: runs on Node ≥ 20, in browsers
 * and on edge runtimes.
 *
 * @throws MercatoError `VALIDATION_ERROR` when the payload is not a {@link GrantPayload}.
 * @example
 * const { token } = await signGrant(payload, brokerKey, "2026-03");
 */
export async function signGrant(
  payload: GrantPayloadValue,
  privateKey: CryptoKey,
  kid: string,
): Promise<SignedGrant> {
  const parsed = GrantPayload.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MercatoError("VALIDATION_ERROR", "The grant payload is invalid", {
      details: { path: issue?.path.join("."), message: issue?.message },
    });
  }
  const header = encodeJson({ alg: "EdDSA", typ: GRANT_TOKEN_TYPE, kid });
  const body = encodeJson(parsed.data);
  const signature = await crypto.subtle.sign(ED25519, privateKey, utf8(`${header}.${body}`));
  return { payload: parsed.data, token: `${header}.${body}.${base64url(new Uint8Array(signature))}` };
}

/** Options of {@link verifyGrant}. */
export interface VerifyGrantOptions {
  /** The verifier's clock (default: now). A grant whose `expires_at` ≤ `now` is expired. */
  now?: Date;
  /** Accept an expired grant, e.g. to redeem or settle its vouchers (default false). */
  allowExpired?: boolean;
}

/**
 * Verifies a grant token offline against the broker's published keys (`GET /.well-known/jwks.json`,
 * or a resolver from `createJwksKeyResolver` that follows key rotation) and returns its payload.
 *
 * @throws MercatoError `UNAUTHENTICATED` with `details.reason` `grant_malformed` (not a grant JWS),
 *   `grant_unknown_key`, `grant_bad_signature`, `grant_invalid` (the payload fails the schema) or
 *   `grant_expired` (`expires_at` ≤ now, unless `allowExpired`).
 * @example
 * const grant = await verifyGrant(request.headers.get(DIRECT_HEADERS.grant) ?? "", jwks);
 */
export async function verifyGrant(
  token: string,
  keys: z.input<typeof Jwks> | CallKeyResolver,
  options: VerifyGrantOptions = {},
): Promise<GrantPayloadValue> {
  const parts = typeof token === "string" && token.length <= MAX_TOKEN_LENGTH ? token.split(".") : [];
  if (parts.length !== 3) throw directError("grant_malformed", "The grant is not a compact JWS");
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart) as { alg?: unknown; kid?: unknown; typ?: unknown } | undefined;
  if (header?.alg !== "EdDSA" || header.typ !== GRANT_TOKEN_TYPE || typeof header.kid !== "string") {
    throw directError("grant_malformed", "The grant token has an unexpected header");
  }
  const signature = fromBase64url(signaturePart);
  if (signature?.length !== 64) {
    throw directError("grant_malformed", "The grant token has a malformed signature");
  }
  const key = await resolveKey(keys, header.kid);
  if (!key) throw directError("grant_unknown_key", `The grant is signed by an unknown key (${header.kid})`);
  const ok = await crypto.subtle.verify(ED25519, key, signature, utf8(`${headerPart}.${payloadPart}`));
  if (!ok) throw directError("grant_bad_signature", "The grant's signature does not verify");
  const parsed = GrantPayload.safeParse(decodeJson(payloadPart));
  if (!parsed.success) throw directError("grant_invalid", "The grant token's payload is not a grant");
  const now = options.now ?? new Date();
  if (!options.allowExpired && Date.parse(parsed.data.expires_at) <= now.getTime()) {
    throw directError("grant_expired", `The grant expired at ${parsed.data.expires_at}`, {
      grant_id: parsed.data.grant_id,
    });
  }
  return parsed.data;
}

async function resolveKey(
  keys: z.input<typeof Jwks> | CallKeyResolver,
  kid: string,
): Promise<CryptoKey | undefined> {
  if (typeof keys === "function") return keys(kid);
  const jwk = keys.keys.find((key) => key.kid === kid);
  return jwk && importPublicKey(jwk);
}
