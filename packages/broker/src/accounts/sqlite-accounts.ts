import type Database from "better-sqlite3";
import type { AccountsStore, ApiKeyPatch, ApiKeyRecord } from "./port.js";
import { assertSpendCap, KEY_COLUMNS, type KeyRow, keyValues, toKey } from "./rows.js";

type Prepare = (sql: string) => Database.Statement;

/**
 * Starts the replacement key `newId`'s spending at the rotated key `oldId`'s, inside the rotation's
 * transaction. Key spending is the ledger's (`key_spend`), above this module: the store passes it in.
 */
export type CarrySqliteKeySpend = (oldId: string, newId: string) => void;

/** Accounts and their API keys on SQLite, through the store's cached statements. */
export function createSqliteAccounts(
  db: Database.Database,
  prepare: Prepare,
  carryKeySpend: CarrySqliteKeySpend,
): AccountsStore {
  const insertKey = (key: ApiKeyRecord): void => {
    prepare(
      `INSERT INTO api_keys (${KEY_COLUMNS.join(", ")}) VALUES (${KEY_COLUMNS.map(() => "?").join(", ")})`,
    ).run(...keyValues(key));
  };
  const getKeyRow = (id: string): KeyRow | undefined =>
    prepare("SELECT * FROM api_keys WHERE id = ?").get(id) as KeyRow | undefined;

  const updateKey = db.transaction((id: string, patch: ApiKeyPatch): ApiKeyRecord | undefined => {
    const row = getKeyRow(id);
    if (!row) return undefined;
    const key = toKey(row);
    if (patch.name !== undefined) key.name = patch.name;
    if (patch.rateLimit !== undefined) key.rateLimit = patch.rateLimit;
    if (patch.spendCap !== undefined) {
      assertSpendCap(key.kind, patch.spendCap);
      key.spendCap = patch.spendCap;
    }
    prepare("UPDATE api_keys SET name = ?, rate_limit = ?, spend_cap = ? WHERE id = ?").run(
      key.name,
      key.rateLimit,
      key.spendCap,
      id,
    );
    return key;
  });

  return {
    async createAccount(account, firstKey) {
      db.transaction(() => {
        prepare("INSERT INTO accounts (id, name, email, created_at) VALUES (?, ?, ?, ?)").run(
          account.id,
          account.name,
          account.email,
          account.createdAt,
        );
        insertKey(firstKey);
      })();
    },

    async getAccount(id) {
      const row = prepare("SELECT id, name, email, created_at FROM accounts WHERE id = ?").get(id) as
        | { id: string; name: string; email: string | null; created_at: string }
        | undefined;
      return row && { id: row.id, name: row.name, email: row.email, createdAt: row.created_at };
    },

    async insertApiKey(key) {
      insertKey(key);
    },

    async findApiKeyByHash(hash) {
      const row = prepare("SELECT * FROM api_keys WHERE hashed_key = ?").get(hash) as KeyRow | undefined;
      return row && toKey(row);
    },

    async getApiKey(id) {
      const row = getKeyRow(id);
      return row && toKey(row);
    },

    async listApiKeys(accountId) {
      const rows = prepare(
        "SELECT * FROM api_keys WHERE account_id = ? ORDER BY created_at DESC, rowid DESC",
      ).all(accountId) as KeyRow[];
      return rows.map(toKey);
    },

    async revokeApiKey(id, at) {
      prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(at, id);
      const row = getKeyRow(id);
      return row && toKey(row);
    },

    async rotateApiKey(oldId, replacement, at) {
      return db.transaction(() => {
        const revoked = prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(
          at,
          oldId,
        );
        if (revoked.changes !== 1) return false;
        insertKey(replacement);
        carryKeySpend(oldId, replacement.id);
        return true;
      })();
    },

    async updateApiKey(id, patch) {
      return updateKey(id, patch);
    },

    async suspendApiKey(id, at, reason) {
      const { changes } = prepare(
        `UPDATE api_keys SET suspended_at = ?, suspend_reason = ?
         WHERE id = ? AND suspended_at IS NULL AND revoked_at IS NULL`,
      ).run(at, reason, id);
      return changes === 1;
    },

    async reinstateApiKey(id) {
      const { changes } = prepare(
        "UPDATE api_keys SET suspended_at = NULL, suspend_reason = NULL WHERE id = ? AND suspended_at IS NOT NULL",
      ).run(id);
      return changes === 1;
    },
  };
}
