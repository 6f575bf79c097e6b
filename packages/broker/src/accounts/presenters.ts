import { formatUsd } from "@mercato/protocol";
import type { AccountRecord, ApiKeyRecord } from "./port.js";

/** The wire form of an account. */
export function presentAccount(account: AccountRecord) {
  return { account_id: account.id, name: account.name, email: account.email, created_at: account.createdAt };
}

/**
 * The wire form of a key's metadata (the APIKey object, never the hash). `spentMicros` is what an
 * access key has spent (`getKeySpend`); account keys show null.
 */
export function presentKey(key: ApiKeyRecord, spentMicros = 0) {
  return {
    key_id: key.id,
    kind: key.kind,
    name: key.name,
    prefix: key.prefix,
    agent_id: key.agentId,
    rate_limit: key.rateLimit,
    spend_cap_usd: key.spendCap === null ? null : formatUsd(key.spendCap),
    spent_usd: key.kind === "access" ? formatUsd(spentMicros) : null,
    suspended_at: key.suspendedAt,
    suspend_reason: key.suspendReason,
    expires_at: key.expiresAt,
    created_at: key.createdAt,
    revoked_at: key.revokedAt,
  };
}
