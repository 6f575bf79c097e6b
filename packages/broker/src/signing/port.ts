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
