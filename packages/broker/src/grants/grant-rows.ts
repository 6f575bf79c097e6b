import type { GrantReportState, ReportClaim } from "./grant-reports.js";
import type { GrantRecord } from "./port.js";

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
  reported_client_errors: number;
  buyer_claims: number;
  seller_claims: number;
  reports_final: number | boolean;
}

/** A `grant_reports` row: one call's stored claim. */
export interface GrantReportRow {
  grant_id: string;
  sequence: number | string;
  source: "buyer" | "seller" | null;
  outcome: ReportClaim["outcome"];
  response_time_ms: number | string | null;
  counted: number | boolean;
}

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
    reportedClientErrors: row.reported_client_errors,
  };
}

/** What the usage-report rules need of a grant. */
export function toReportState(row: GrantRow): GrantReportState {
  return {
    id: row.id,
    agentId: row.agent_id,
    buyerId: row.buyer_id,
    priceMicros: Number(row.price_micros),
    budgetMicros: Number(row.budget_micros),
    paidMicros: Number(row.best_owed_micros),
    final: Boolean(row.reports_final),
    successes: Number(row.reported_successes),
    failures: Number(row.reported_failures),
    clientErrors: Number(row.reported_client_errors),
    buyerClaims: Number(row.buyer_claims),
    sellerClaims: Number(row.seller_claims),
  };
}

/** A stored claim, as the rules read it. */
export function toClaim(row: GrantReportRow): ReportClaim {
  return {
    source: row.source,
    outcome: row.outcome,
    responseTimeMs: row.response_time_ms === null ? null : Number(row.response_time_ms),
    counted: Boolean(row.counted),
  };
}
