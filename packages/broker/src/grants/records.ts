// The records the grants module owns; its port (the store interface) is in port.ts.
/**
 * A direct-mode grant (docs/direct-mode.md): a budget held on the buyer's wallet (a charge whose id
 * is the grant's id) that the buyer's vouchers spend. Amounts are integer micro-USD.
 */
export interface GrantRecord {
  /** `grt_…`; also the id of the hold on the buyer's wallet. */
  id: string;
  agentId: string;
  buyerId: string;
  sellerAccountId: string;
  /** The access key that opened it, when one did (its spend cap covers the budget); null for an account key. */
  keyId: string | null;
  endpoint: string;
  priceMicros: number;
  budgetMicros: number;
  buyerPublicKey: string;
  /** The signed grant token, as issued. */
  token: string;
  issuedAt: string;
  expiresAt: string;
  /**
   * **What settlement captures**: the highest claim recorded, never above the budget. A claim is
   * either a seller's redemption — what it earned by its own count, at most what its voucher owes
   * (vouchers are prepaid: a call's voucher also pays for that call, which the seller earns only if
   * it succeeded) — or the buyer's final voucher, which owes `price × successes`. Either way
   * `floor(bestOwedMicros / priceMicros)` is the number of the grant's calls paid for as successes.
   * 0 before any claim.
   */
  bestOwedMicros: number;
  /**
   * The voucher behind that claim: its sequence, what it owes (≥ `bestOwedMicros`: the buyer's
   * signature covers this amount) and its signature (0, 0 and null before any).
   */
  bestSequence: number;
  bestVoucherOwedMicros: number;
  bestSignature: string | null;
  /** When the buyer closed it. */
  closedAt: string | null;
  /**
   * The amount settlement captures, fixed when settlement starts: from then on no voucher is
   * recorded. Null before.
   */
  settlingMicros: number | null;
  /** When settlement finished (the hold captured or voided), and what was captured. */
  settledAt: string | null;
  capturedMicros: number | null;
  /**
   * Usage-report outcomes counted for this grant: successes up to what its vouchers pay for,
   * failures and client errors (the seller's reports) up to `budget / price` each.
   */
  reportedSuccesses: number;
  reportedFailures: number;
  reportedClientErrors: number;
}

/** A grant as opened: what `openGrant` writes; the rest starts empty. */
export type NewGrant = Pick<
  GrantRecord,
  | "id"
  | "agentId"
  | "buyerId"
  | "sellerAccountId"
  | "keyId"
  | "endpoint"
  | "priceMicros"
  | "budgetMicros"
  | "buyerPublicKey"
  | "token"
  | "issuedAt"
  | "expiresAt"
>;

/**
 * A voucher as the broker records it, verified by the caller before it reaches the store, and the
 * claim it backs: `claimMicros` ≤ `owedMicros` (what a seller earned; the buyer's final voucher
 * claims all it owes).
 */
export interface GrantVoucherRecord {
  sequence: number;
  owedMicros: number;
  signature: string;
  claimMicros: number;
}

/** A direct call's outcome as a usage report gives it. */
export type ReportOutcome = "success" | "failure" | "client_error";

/**
 * One reported outcome of a direct call, from the grant's buyer or from the agent owner (the
 * seller kit): the caller's side, which the route decided from the caller's account.
 */
export interface GrantReportRecord {
  grantId: string;
  sequence: number;
  source: "buyer" | "seller";
  outcome: ReportOutcome;
  responseTimeMs: number;
}

/**
 * What became of a report: counted toward the metrics now, kept to be counted once the grant's
 * vouchers pay for it (or it settles), or never counted.
 */
export type GrantReportVerdict = "counted" | "pending" | "ignored";

/** A reported outcome counted toward an agent's metrics, with what the metrics need of its grant. */
export interface CountedGrantReport {
  grantId: string;
  agentId: string;
  buyerId: string;
  sequence: number;
  source: "buyer" | "seller";
  outcome: ReportOutcome;
  responseTimeMs: number;
}
