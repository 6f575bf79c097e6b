import type * as z from "zod";
import { base64url, decodeJson, encodeJson, fromBase64url, utf8 } from "../encoding.js";
import { MercatoError } from "../errors/mercato-error.js";
import { type Jwks, ReceiptPayload } from "../schemas/ledger.js";
import { importPublicKey } from "./public-key.js";

/** A receipt's payload. */
export type ReceiptPayloadValue = z.output<typeof ReceiptPayload>;
/** A signed receipt: the payload and its compact JWS. */
export interface SignedReceipt {
  payload: ReceiptPayloadValue;
  jws: string;
}

const HEADER_TYPE = "mercato-receipt+jws";
const ED25519 = { name: "Ed25519" } as const;

/**
 * Signs a receipt payload with the broker's Ed25519 private key as a compact JWS
 * (`{"alg":"EdDSA","kid",…}`). Uses WebCrypto, so it runs on Node ≥ 20 and in browsers.
 */
export async function signReceipt(
  payload: ReceiptPayloadValue,
  privateKey: CryptoKey,
  kid: string,
): Promise<SignedReceipt> {
  const header = encodeJson({ alg: "EdDSA", kid, typ: HEADER_TYPE });
  const body = encodeJson(payload);
  const signature = await crypto.subtle.sign(ED25519, privateKey, utf8(`${header}.${body}`));
  return { payload, jws: `${header}.${body}.${base64url(new Uint8Array(signature))}` };
}

/**
 * Verifies a receipt offline against the broker's published keys (`GET /.well-known/jwks.json`)
 * and returns its payload. When given the whole receipt, its `payload` must be the one signed.
 *
 * @throws MercatoError `VALIDATION_ERROR` when the JWS is malformed, names an unknown key, has a
 *   bad signature, or its payload differs from the one shown.
 * @example
 * const jwks = await (await fetch(`${broker}/.well-known/jwks.json`)).json();
 * const payload = await verifyReceipt(receipt, jwks);
 */
export async function verifyReceipt(
  receipt: SignedReceipt | string,
  jwks: z.input<typeof Jwks>,
): Promise<ReceiptPayloadValue> {
  const jws = typeof receipt === "string" ? receipt : receipt.jws;
  const parts = jws.split(".");
  if (parts.length !== 3) throw invalid("is not a compact JWS");
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart) as { alg?: unknown; kid?: unknown; typ?: unknown } | undefined;
  if (header?.alg !== "EdDSA" || typeof header.kid !== "string") throw invalid("has an unexpected header");
  const jwk = jwks.keys.find((key) => key.kid === header.kid);
  if (!jwk) throw invalid(`is signed by an unknown key (${header.kid})`);
  const signature = fromBase64url(signaturePart);
  if (!signature) throw invalid("has a malformed signature");
  const key = await importPublicKey(jwk);
  const ok = await crypto.subtle.verify(ED25519, key, signature, utf8(`${headerPart}.${payloadPart}`));
  if (!ok) throw invalid("has a signature that does not verify");
  const parsed = ReceiptPayload.safeParse(decodeJson(payloadPart));
  if (!parsed.success) throw invalid("has a payload that is not a receipt");
  if (typeof receipt !== "string" && canonical(receipt.payload) !== canonical(parsed.data)) {
    throw invalid("shows a payload other than the one signed");
  }
  return parsed.data;
}

function invalid(reason: string): MercatoError {
  return new MercatoError("VALIDATION_ERROR", `The receipt ${reason}`);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
