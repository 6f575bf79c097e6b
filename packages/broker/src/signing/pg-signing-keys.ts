import type { PgDb } from "../platform/db/pg-db.js";
import type { SigningKeyStore } from "./port.js";
import { toSigningKey } from "./sqlite-signing-keys.js";

/** The signing keys on PostgreSQL: a key is inserted once, whichever broker inserts it first. */
export function createPgSigningKeys(db: PgDb): SigningKeyStore {
  return {
    async listSigningKeys() {
      const rows = await db.query<Parameters<typeof toSigningKey>[0]>(
        "SELECT kid, private_jwk, public_jwk, created_at FROM signing_keys ORDER BY created_at DESC",
      );
      return rows.map(toSigningKey);
    },

    async insertSigningKey(key) {
      await db.run(
        `INSERT INTO signing_keys (kid, private_jwk, public_jwk, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kid) DO NOTHING`,
        [key.kid, key.privateJwk, key.publicJwk, key.createdAt],
      );
    },
  };
}
