import type Database from "better-sqlite3";
import type { SigningKeyRecord, SigningKeyStore } from "./port.js";

/** A `signing_keys` row. */
interface SigningKeyRow {
  kid: string;
  private_jwk: string;
  public_jwk: string;
  created_at: string;
}

/** The record of a `signing_keys` row (both engines' columns are the same). */
export function toSigningKey(row: SigningKeyRow): SigningKeyRecord {
  return { kid: row.kid, privateJwk: row.private_jwk, publicJwk: row.public_jwk, createdAt: row.created_at };
}

/**
 * The signing keys on SQLite. `write` runs a change in the store's write path (the ledger's group
 * commit), so that a key is inserted in order with every other write.
 */
export function createSqliteSigningKeys(
  prepare: (sql: string) => Database.Statement,
  write: (change: () => void) => Promise<void>,
): SigningKeyStore {
  return {
    async listSigningKeys() {
      return (
        prepare(
          "SELECT kid, private_jwk, public_jwk, created_at FROM signing_keys ORDER BY created_at DESC",
        ).all() as SigningKeyRow[]
      ).map(toSigningKey);
    },

    async insertSigningKey(key) {
      await write(() => {
        prepare(
          "INSERT OR IGNORE INTO signing_keys (kid, private_jwk, public_jwk, created_at) VALUES (?, ?, ?, ?)",
        ).run(key.kid, key.privateJwk, key.publicJwk, key.createdAt);
      });
    },
  };
}
