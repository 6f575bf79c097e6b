import type { GrantRecord, GrantReportRecord } from "./types.js";

/** A `grants` row, as both stores read it. */
export interface GrantRow {
  id: string;
  agent_id: string;
  buyer_id: string;
  seller_account_id: string;
  key_id: string | null;
  endpoint: string;
  price_micros: number;
  budget_micros: number;
  buyer_public_key: string;
  token: string;
  issued_at: string | Date;
  expires_at: string | Date;
  best_owed_micros: number;
  best_sequence: number;
  best_voucher_owed_micros: number;
  best_signature: string | null;
  closed_at: string | Date | null;
  settling_micros: number | null;
  settled_at: string | Date | null;
  captured_micros: number | null;
  reported_successes: number;
  reported_failures: number;
}

export type GrantReportRow = GrantReportRecord;

const iso = (value: string | Date): string => (value instanceof Date ? value.toISOString() : value);
const isoOrNull = (value: string | Date | null): string | null => (value === null ? null : iso(value));

export function toGrant(row: GrantRow): GrantRecord {
  return {
    id: row.id,
    agentId: row.agent_id,
    buyerId: row.buyer_id,
    sellerAccountId: row.seller_account_id,
    keyId: row.key_id,
    endpoint: row.endpoint,
    priceMicros: row.price_micros,
    budgetMicros: row.budget_micros,
    buyerPublicKey: row.buyer_public_key,
    token: row.token,
    issuedAt: iso(row.issued_at),
    expiresAt: iso(row.expires_at),
    bestOwedMicros: row.best_owed_micros,
    bestSequence: row.best_sequence,
    bestVoucherOwedMicros: row.best_voucher_owed_micros,
    bestSignature: row.best_signature,
    closedAt: isoOrNull(row.closed_at),
    settlingMicros: row.settling_micros,
    settledAt: isoOrNull(row.settled_at),
    capturedMicros: row.captured_micros,
    reportedSuccesses: row.reported_successes,
    reportedFailures: row.reported_failures,
  };
}

/**
 * How many successes, and how many failures, a grant's usage reports may count: the calls its
 * budget pays for, `floor(budget / price)`. A buyer cannot move an agent's figures more than its
 * own grants could have.
 */
export function reportCap(grant: Pick<GrantRow, "budget_micros" | "price_micros">): number {
  return Math.floor(grant.budget_micros / grant.price_micros);
}
