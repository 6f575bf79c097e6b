import type { PgDb, PgTx } from "../platform/db/pg-db.js";
import type { AccountsStore, ApiKeyRecord } from "./port.js";
import { assertSpendCap, KEY_COLUMNS, type KeyRow, keyValues, toKey } from "./rows.js";

/**
 * Starts the replacement key `newId`'s spending at the rotated key `oldId`'s, in the rotation's
 * transaction `tx`. Key spending is the ledger's (`key_spend`), above this module: the store passes it in.
 */
export type CarryPgKeySpend = (tx: PgTx, oldId: string, newId: string) => Promise<void>;

const KEYS = KEY_COLUMNS.join(", ");

async function insertKey(tx: PgTx | PgDb, key: ApiKeyRecord): Promise<void> {
  await tx.run(
    `INSERT INTO api_keys (${KEYS}) VALUES (${KEY_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})`,
    keyValues(key),
  );
}

/** Accounts and their API keys on PostgreSQL. */
export function createPgAccounts(db: PgDb, carryKeySpend: CarryPgKeySpend): AccountsStore {
  const getKeyRow = (id: string) => db.one<KeyRow>(`SELECT ${KEYS} FROM api_keys WHERE id = $1`, [id]);

  return {
    async createAccount(account, firstKey) {
      await db.transaction(async (tx) => {
        await tx.run("INSERT INTO accounts (id, name, email, created_at) VALUES ($1, $2, $3, $4)", [
          account.id,
          account.name,
          account.email,
          account.createdAt,
        ]);
        await insertKey(tx, firstKey);
      });
    },

    async getAccount(id) {
      const row = await db.one<{ id: string; name: string; email: string | null; created_at: string }>(
        "SELECT id, name, email, created_at FROM accounts WHERE id = $1",
        [id],
      );
      return row && { id: row.id, name: row.name, email: row.email, createdAt: row.created_at };
    },

    async insertApiKey(key) {
      await insertKey(db, key);
    },

    async findApiKeyByHash(hash) {
      const row = await db.one<KeyRow>(`SELECT ${KEYS} FROM api_keys WHERE hashed_key = $1`, [hash]);
      return row && toKey(row);
    },

    async getApiKey(id) {
      const row = await getKeyRow(id);
      return row && toKey(row);
    },

    async listApiKeys(accountId) {
      const rows = await db.query<KeyRow>(
        `SELECT ${KEYS} FROM api_keys WHERE account_id = $1 ORDER BY created_at DESC, seq DESC`,
        [accountId],
      );
      return rows.map(toKey);
    },

    async revokeApiKey(id, at) {
      const row = await db.one<KeyRow>(
        `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 RETURNING ${KEYS}`,
        [at, id],
      );
      return row && toKey(row);
    },

    async rotateApiKey(oldId, replacement, at) {
      return db.transaction(async (tx) => {
        const revoked = await tx.run(
          "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
          [at, oldId],
        );
        if (revoked !== 1) return false;
        await insertKey(tx, replacement);
        // The replacement carries what the old key spent, so rotating never resets a spend cap.
        await carryKeySpend(tx, oldId, replacement.id);
        return true;
      });
    },

    async updateApiKey(id, patch) {
      return db.transaction(async (tx) => {
        const row = await tx.one<KeyRow>(`SELECT ${KEYS} FROM api_keys WHERE id = $1 FOR UPDATE`, [id]);
        if (!row) return undefined;
        const key = toKey(row);
        if (patch.name !== undefined) key.name = patch.name;
        if (patch.rateLimit !== undefined) key.rateLimit = patch.rateLimit;
        if (patch.spendCap !== undefined) {
          assertSpendCap(key.kind, patch.spendCap);
          key.spendCap = patch.spendCap;
        }
        await tx.run("UPDATE api_keys SET name = $1, rate_limit = $2, spend_cap = $3 WHERE id = $4", [
          key.name,
          key.rateLimit,
          key.spendCap,
          id,
        ]);
        return key;
      });
    },

    async suspendApiKey(id, at, reason) {
      const changed = await db.run(
        `UPDATE api_keys SET suspended_at = $1, suspend_reason = $2
         WHERE id = $3 AND suspended_at IS NULL AND revoked_at IS NULL`,
        [at, reason, id],
      );
      return changed === 1;
    },

    async reinstateApiKey(id) {
      const changed = await db.run(
        "UPDATE api_keys SET suspended_at = NULL, suspend_reason = NULL WHERE id = $1 AND suspended_at IS NOT NULL",
        [id],
      );
      return changed === 1;
    },
  };
}
