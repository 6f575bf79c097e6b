import type { GrantPayloadValue } from "../grants/grant.js";

/** Test helpers of direct mode (not exported by the package). */

/** A broker signing key and its public JWK. */
export async function brokerKey(kid: string) {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const { x } = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as { x: string };
  return {
    privateKey: pair.privateKey,
    jwk: { kty: "OKP", crv: "Ed25519", x, kid, alg: "EdDSA", use: "sig" } as const,
  };
}

/** A grant payload: 0.02 USD a call, 1 USD budget, valid 1 h from 2026-03-01T12:00Z. */
export function grantPayload(overrides: Partial<GrantPayloadValue> = {}): GrantPayloadValue {
  return {
    grant_id: "grt_0123456789ab",
    agent_id: "agent_seller01",
    buyer_id: "acct_buyer0001",
    seller_account_id: "acct_seller001",
    endpoint: "https://seller.example/agent",
    price_per_call_usd: "0.020000",
    budget_usd: "1.000000",
    issued_at: "2026-03-01T12:00:00.000Z",
    expires_at: "2026-03-01T13:00:00.000Z",
    buyer_public_key: "A".repeat(43),
    issuer: "mercato",
    ...overrides,
  };
}

/** Inside the fixture grant's life. */
export const DURING = new Date("2026-03-01T12:30:00.000Z");

/** The `code: message` of a rejected promise's MercatoError, with `details.reason`. */
export async function failureOf(promise: Promise<unknown> | (() => unknown)) {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (error) {
    const e = error as { code?: string; status?: number; details?: { reason?: string } };
    return { code: e.code, status: e.status, reason: e.details?.reason };
  }
  throw new Error("expected a failure");
}
