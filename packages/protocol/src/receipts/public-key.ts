import type * as z from "zod";
import type { PublicJwk } from "../schemas/ledger.js";

const ED25519 = { name: "Ed25519" } as const;

/** Imports an Ed25519 public JWK for verification. */
export function importPublicKey(jwk: z.input<typeof PublicJwk>): Promise<CryptoKey> {
  return crypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, ED25519, false, ["verify"]);
}
