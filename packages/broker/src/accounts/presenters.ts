import type { AccountRecord, ApiKeyRecord } from "../store/types.js";

/** The wire form of an account. */
export function presentAccount(account: AccountRecord) {
  return { account_id: account.id, name: account.name, email: account.email, created_at: account.createdAt };
}

/** The wire form of a key's metadata (the seed's APIKey, never the hash). */
export function presentKey(key: ApiKeyRecord) {
  return {
    key_id: key.id,
    kind: key.kind,
    name: key.name,
    prefix: key.prefix,
    agent_id: key.agentId,
    rate_limit: key.rateLimit,
    expires_at: key.expiresAt,
    created_at: key.createdAt,
    revoked_at: key.revokedAt,
  };
}
