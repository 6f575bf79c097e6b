import { createHash } from "node:crypto";
import type { ApiKeyRecord } from "../../src/accounts/port.js";

/**
 * An API key record for tests that write to a store directly: an account key with no limits, no
 * expiry and no suspension, unless `fields` say otherwise. The hash defaults to the SHA-256 of the
 * id, so distinct ids never collide on the store's unique hash.
 */
export function apiKeyRecord(
  fields: Pick<ApiKeyRecord, "id" | "accountId"> & Partial<ApiKeyRecord>,
): ApiKeyRecord {
  return {
    kind: "account",
    name: null,
    prefix: "mk_abcdef",
    hash: createHash("sha256").update(fields.id).digest("hex"),
    agentId: null,
    rateLimit: null,
    spendCap: null,
    suspendedAt: null,
    suspendReason: null,
    expiresAt: null,
    createdAt: "2026-01-01T00:00:00.000Z",
    revokedAt: null,
    ...fields,
  };
}
