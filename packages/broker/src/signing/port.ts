// The signing module owns the broker's Ed25519 signing keys: their record and the store that keeps
// them, shared by every broker process on one database. The signer (`signer.ts`) signs receipts,
// seller calls and grants with the key the store lists first and publishes every key's public
// half; the receipt payload (`receipt-payload.ts`) is what a captured charge's receipt signs.

/** A broker signing key (Ed25519), as JWKs. */
export interface SigningKeyRecord {
  kid: string;
  privateJwk: string;
  publicJwk: string;
  createdAt: string;
}

/** The broker's signing keys (receipts, calls, grants), shared by every broker on the store. */
export interface SigningKeyStore {
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  insertSigningKey(key: SigningKeyRecord): Promise<void>;
}
