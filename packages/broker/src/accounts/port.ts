// The accounts module owns accounts and their API keys (account keys mk_…, access keys sk_live_… and
// sk_test_…): the records and the store interface here, key generation and hashing, the key cache,
// and authentication of every request (`authenticate.ts`). Its routes sign up, show the caller's
// account, and create, list, change, revoke, rotate and reinstate keys.

import type { KeyKind } from "./api-keys.js";

/** A marketplace account. Times are ISO 8601 strings in UTC throughout the store. */
export interface AccountRecord {
  id: string;
  name: string;
  email: string | null;
  createdAt: string;
}

/** An API key as stored: its SHA-256, never the secret. */
export interface ApiKeyRecord {
  id: string;
  accountId: string;
  kind: KeyKind;
  name: string | null;
  prefix: string;
  hash: string;
  /** For access keys: the one agent the key may invoke. */
  agentId: string | null;
  /** Calls per minute; null for the broker's default. */
  rateLimit: number | null;
  /**
   * Access keys: the most the key may ever spend, in micros (captured charges plus holds in flight);
   * null for no cap of its own. Always null for account keys.
   */
  spendCap: number | null;
  /** When fraud detection suspended the key (it answers `KEY_SUSPENDED` until reinstated); null otherwise. */
  suspendedAt: string | null;
  suspendReason: string | null;
  expiresAt: string | null;
  createdAt: string;
  revokedAt: string | null;
}

/** What `updateApiKey` may change; `null` clears a field. */
export interface ApiKeyPatch {
  name?: string | null;
  rateLimit?: number | null;
  spendCap?: number | null;
}

/** Accounts and their API keys. */
export interface AccountsStore {
  /** Creates an account together with its first account key, atomically. */
  createAccount(account: AccountRecord, firstKey: ApiKeyRecord): Promise<void>;
  getAccount(id: string): Promise<AccountRecord | undefined>;

  insertApiKey(key: ApiKeyRecord): Promise<void>;
  /** Looks a key up by its SHA-256 (revoked and expired keys included: the caller decides). */
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  /** An account's keys, newest first. */
  listApiKeys(accountId: string): Promise<ApiKeyRecord[]>;
  /** Revokes a key at `at`; a key already revoked keeps its first revocation time. */
  revokeApiKey(id: string, at: string): Promise<ApiKeyRecord | undefined>;
  /**
   * Revokes `oldId` and inserts `replacement` in one transaction; false when `oldId` was already
   * revoked. The replacement's spending starts at the old key's (captured plus in flight), so that
   * rotating a key does not reset its spend cap.
   */
  rotateApiKey(oldId: string, replacement: ApiKeyRecord, at: string): Promise<boolean>;
  /** Changes a key's name, rate limit or spend cap (a field left out is kept); undefined when no such key. */
  updateApiKey(id: string, patch: ApiKeyPatch): Promise<ApiKeyRecord | undefined>;

  /** Suspends an access key (fraud detection); false when it was already suspended or revoked. */
  suspendApiKey(id: string, at: string, reason: string): Promise<boolean>;
  /** Lifts a suspension; false when the key was not suspended. */
  reinstateApiKey(id: string): Promise<boolean>;
}
