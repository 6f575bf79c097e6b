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

/**
 * Direct-mode grants. Money moves through the ledger (a grant's budget is an ordinary hold, its
 * settlement an ordinary capture or void); this keeps the grant's own state: its vouchers, closing
 * and settlement. The settlement steps are in `grants/settle.ts`, the same on every store.
 */
export interface GrantStore {
  /**
   * Records a grant whose hold is already placed (`hold` with the grant's id).
   * @throws MercatoError `CONFLICT` when the id is taken.
   */
  insertGrant(grant: NewGrant): Promise<GrantRecord>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  /**
   * Keeps `voucher` and its claim as the grant's best when the claim is above the best so far (and
   * within the voucher's amount, itself within the budget) and settlement has not started; otherwise
   * changes nothing. Returns the grant as it stands, undefined when unknown.
   */
  recordGrantVoucher(id: string, voucher: GrantVoucherRecord): Promise<GrantRecord | undefined>;
  /** Sets `closedAt` unless already closed or settling; returns the grant as it stands. */
  closeGrant(id: string, at: string): Promise<GrantRecord | undefined>;
  /**
   * Starts settlement: fixes `settlingMicros` to the best claim (`bestOwedMicros`), once (a second call
   * answers the grant with the amount fixed the first time). Returns the grant as it stands.
   */
  beginGrantSettlement(id: string): Promise<GrantRecord | undefined>;
  /** Ends settlement: records `capturedMicros` and `settledAt`, once. Returns the grant as it stands. */
  finishGrantSettlement(id: string, capturedMicros: number, at: string): Promise<GrantRecord | undefined>;
  /**
   * Ids of grants due for settlement at `now`: unsettled, and closed at or before `now − graceMs`
   * or expired at or before it. Oldest first, at most `limit`.
   */
  listGrantsDue(now: string, graceMs: number, limit: number): Promise<string[]>;
  /**
   * Weighs reported call outcomes by the rules of `grant-reports.ts`: one outcome per
   * (grant, sequence), the seller's report deciding; successes only as far as the grant's best
   * voucher pays for them (the rest kept, pending); failures and client errors only from the
   * seller, up to `floor(budget / price)` each. Returns a verdict per report, in order, and every
   * outcome counted by this call: the batch's own and earlier pending ones that are paid for now.
   * Reports of unknown grants are ignored.
   */
  countGrantReports(
    reports: GrantReportRecord[],
  ): Promise<{ verdicts: GrantReportVerdict[]; counted: CountedGrantReport[] }>;
  /**
   * Weighs, once, the pending claims of up to `limit` grants that settled: their paid amount is
   * final, so the seller's pending successes and then the buyer's count as far as it pays for them.
   * Returns the outcomes counted. Safe to run on several brokers at once.
   */
  releaseSettledGrantReports(limit: number): Promise<CountedGrantReport[]>;
  /**
   * Drops the remembered reports of grants settled at or before `settledBefore` (at most `limit`
   * grants a run; returns how many): reports of those grants no longer count (`REPORTS_WINDOW_MS`),
   * so nothing needs them to tell a repeat.
   */
  pruneGrantReports(settledBefore: string, limit: number): Promise<number>;
}
