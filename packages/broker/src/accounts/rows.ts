import { MercatoError } from "@mercato/protocol";
import { assertAmount } from "../platform/amounts.js";
import type { ApiKeyRecord } from "./port.js";

// The `api_keys` row and its record, shared by the SQLite and PostgreSQL stores (same column names).

/** An `api_keys` row. */
export interface KeyRow {
  id: string;
  account_id: string;
  kind: ApiKeyRecord["kind"];
  name: string | null;
  prefix: string;
  hashed_key: string;
  agent_id: string | null;
  rate_limit: number | null;
  spend_cap: number | null;
  suspended_at: string | null;
  suspend_reason: string | null;
  expires_at: string | null;
  created_at: string;
  revoked_at: string | null;
}

/** The record of an `api_keys` row. */
export function toKey(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    kind: row.kind,
    name: row.name,
    prefix: row.prefix,
    hash: row.hashed_key,
    agentId: row.agent_id,
    rateLimit: row.rate_limit,
    spendCap: row.spend_cap,
    suspendedAt: row.suspended_at,
    suspendReason: row.suspend_reason,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

/** The columns of {@link KeyRow}, in the order of {@link keyValues}. */
export const KEY_COLUMNS: readonly (keyof KeyRow)[] = Object.freeze([
  "id",
  "account_id",
  "kind",
  "name",
  "prefix",
  "hashed_key",
  "agent_id",
  "rate_limit",
  "spend_cap",
  "suspended_at",
  "suspend_reason",
  "expires_at",
  "created_at",
  "revoked_at",
]);

/**
 * A new key's row, as the values of {@link KEY_COLUMNS}. Fields a caller from plain JavaScript
 * may leave out (the spend cap, the suspension) are null rather than missing parameters.
 * @throws MercatoError `INVALID_AMOUNT`, `VALIDATION_ERROR` (see {@link assertSpendCap}).
 */
export function keyValues(key: ApiKeyRecord): unknown[] {
  const spendCap = key.spendCap ?? null;
  assertSpendCap(key.kind, spendCap);
  return [
    key.id,
    key.accountId,
    key.kind,
    key.name,
    key.prefix,
    key.hash,
    key.agentId,
    key.rateLimit,
    spendCap,
    key.suspendedAt ?? null,
    key.suspendReason ?? null,
    key.expiresAt,
    key.createdAt,
    key.revokedAt,
  ];
}

/**
 * A key's own spend cap is integer micros ≥ 0, and only access keys have one.
 * @throws MercatoError `INVALID_AMOUNT`, `VALIDATION_ERROR` (a cap on an account key).
 */
export function assertSpendCap(kind: ApiKeyRecord["kind"], spendCap: number | null): void {
  if (spendCap === null) return;
  assertAmount(spendCap, 0);
  if (kind !== "access") {
    throw new MercatoError("VALIDATION_ERROR", "Only access keys have a spend cap of their own", {
      details: { issues: [{ path: "spend_cap", message: "account keys have no spend cap" }] },
    });
  }
}
