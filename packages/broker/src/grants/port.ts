import type {
  CountedGrantReport,
  GrantRecord,
  GrantReportRecord,
  GrantReportVerdict,
  GrantVoucherRecord,
  NewGrant,
} from "./records.js";

export type {
  CountedGrantReport,
  GrantRecord,
  GrantReportRecord,
  GrantReportVerdict,
  GrantVoucherRecord,
  NewGrant,
  ReportOutcome,
} from "./records.js";

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
