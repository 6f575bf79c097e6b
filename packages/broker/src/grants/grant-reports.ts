import type { CountedGrantReport, GrantReportRecord, GrantReportVerdict, ReportOutcome } from "./port.js";

/**
 * The rules of usage reports (docs/direct-mode.md, §5), the same on every store: each engine loads
 * what they need under its lock, lets {@link planGrantReports} and {@link releaseClaims} decide,
 * and writes what they changed.
 *
 * A call, named by `(grant, sequence)`, has one stored claim, and its outcome is decided by the
 * seller's side: the seller kit's report replaces a buyer's claim that was not counted yet, and a
 * buyer's report never replaces the seller's. What counts:
 * - a success, only while the grant's *paid* successes, `floor(paid / price)` (paid: what settlement
 *   captures), exceed the successes already counted; a success that is not paid yet is kept
 *   (pending) and counted once a voucher pays for it. A buyer's success is counted only once the
 *   grant settled (its reports finalized), so that the seller's report of the same call, arriving
 *   before that in any order, decides;
 * - a failure or a client error, only from the seller's side (against its own figures), up to
 *   `floor(budget / price)` each;
 * - never a buyer's failure or client error: free to forge, so they are not even kept.
 */

/** A grant's figures that the rules need, as a store reads them; counters change as reports are planned. */
export interface GrantReportState {
  id: string;
  agentId: string;
  buyerId: string;
  priceMicros: number;
  budgetMicros: number;
  /** What settlement captures: the best voucher recorded (`bestOwedMicros`). */
  paidMicros: number;
  /** The grant settled and its pending claims were weighed once (`releaseSettledGrantReports`). */
  final: boolean;
  successes: number;
  failures: number;
  clientErrors: number;
  /** Claims stored from each side (counted or not): bounded, so that reports cannot fill the store. */
  buyerClaims: number;
  sellerClaims: number;
}

/**
 * A stored claim about one call. `source` and `outcome` are null for a call counted before
 * migration 13 (its outcome is decided: nothing replaces it).
 */
export interface ReportClaim {
  source: "buyer" | "seller" | null;
  outcome: ReportOutcome | null;
  responseTimeMs: number | null;
  counted: boolean;
}

/** A claim as planned: to insert, or to replace the buyer's claim stored for the same call. */
export interface PlannedClaim extends ReportClaim {
  grantId: string;
  sequence: number;
  replaces: boolean;
}

/** A pending success claim, as a store reads it to release it. */
export interface PendingClaim {
  sequence: number;
  source: "buyer" | "seller";
  responseTimeMs: number;
}

/** Key of a call in the maps below. */
export const callKey = (grantId: string, sequence: number): string => `${grantId}:${sequence}`;

/**
 * How many successes and as many failures (and client errors) a grant may count: the calls its
 * budget pays for.
 */
export function reportCap(grant: { budgetMicros: number; priceMicros: number }): number {
  return Math.floor(grant.budgetMicros / grant.priceMicros);
}

/** Most claims kept from the buyer (successes only) and from the seller (every outcome). */
const buyerClaimCap = (grant: GrantReportState): number => reportCap(grant);
const sellerClaimCap = (grant: GrantReportState): number => 3 * reportCap(grant);

/** Successes the grant's vouchers pay for that are not counted yet. */
export function successRoom(grant: GrantReportState): number {
  return Math.min(reportCap(grant), Math.floor(grant.paidMicros / grant.priceMicros)) - grant.successes;
}

/**
 * Decides each report of a batch, in order. `existing` holds the stored claims of the batch's calls
 * (`callKey`); it and the grants' counters are updated as the batch is planned, so a call reported
 * twice in a batch is decided once. Returns a verdict per report and the claims to write, one per
 * call.
 */
export function planGrantReports(
  grants: ReadonlyMap<string, GrantReportState>,
  existing: Map<string, ReportClaim>,
  reports: readonly GrantReportRecord[],
): { verdicts: GrantReportVerdict[]; writes: PlannedClaim[]; counted: CountedGrantReport[] } {
  const writes = new Map<string, PlannedClaim>();
  const counted: CountedGrantReport[] = [];
  const verdicts = reports.map((report): GrantReportVerdict => {
    const grant = grants.get(report.grantId);
    if (!grant) return "ignored";
    const key = callKey(report.grantId, report.sequence);
    const prior = existing.get(key);
    let claim: ReportClaim;
    if (report.source === "buyer") {
      if (report.outcome !== "success" || prior !== undefined) return "ignored";
      const now = grant.final && successRoom(grant) > 0;
      if (!now && (grant.final || grant.buyerClaims >= buyerClaimCap(grant))) return "ignored";
      grant.buyerClaims++;
      if (now) grant.successes++;
      claim = { source: "buyer", outcome: "success", responseTimeMs: report.responseTimeMs, counted: now };
    } else {
      // The seller's report decides, unless the call is decided already: by the seller, before
      // migration 13, or by a buyer's claim counted once the grant settled.
      if (prior !== undefined && (prior.source !== "buyer" || prior.counted)) return "ignored";
      if (grant.sellerClaims >= sellerClaimCap(grant)) return "ignored";
      if (prior !== undefined) grant.buyerClaims--;
      grant.sellerClaims++;
      claim = {
        source: "seller",
        outcome: report.outcome,
        responseTimeMs: report.responseTimeMs,
        counted: countSeller(grant, report.outcome),
      };
    }
    existing.set(key, claim);
    const replaces = writes.get(key)?.replaces ?? prior !== undefined;
    writes.set(key, { ...claim, grantId: report.grantId, sequence: report.sequence, replaces });
    if (claim.counted) counted.push(countedReport(grant, report.sequence, claim));
    return claim.counted ? "counted" : claim.outcome === "success" ? "pending" : "ignored";
  });
  return { verdicts, writes: [...writes.values()], counted };
}

/** Counts a seller's claim when the grant has room for it; a success that is not paid yet waits. */
function countSeller(grant: GrantReportState, outcome: ReportOutcome): boolean {
  const cap = reportCap(grant);
  switch (outcome) {
    case "success":
      if (successRoom(grant) <= 0) return false;
      grant.successes++;
      return true;
    case "failure":
      if (grant.failures >= cap) return false;
      grant.failures++;
      return true;
    case "client_error":
      if (grant.clientErrors >= cap) return false;
      grant.clientErrors++;
      return true;
  }
}

/**
 * Which pending successes of a grant to count now, the seller's first and then by sequence; the
 * buyer's only once the grant is final. `pending` must be in that order (a store reads at most
 * {@link successRoom} of them). Updates the grant's counter.
 */
export function releaseClaims(
  grant: GrantReportState,
  pending: readonly PendingClaim[],
): CountedGrantReport[] {
  const room = successRoom(grant);
  const released = pending
    .filter((claim) => claim.source === "seller" || grant.final)
    .slice(0, Math.max(0, room))
    .map((claim) =>
      countedReport(grant, claim.sequence, {
        source: claim.source,
        outcome: "success",
        responseTimeMs: claim.responseTimeMs,
        counted: true,
      }),
    );
  grant.successes += released.length;
  return released;
}

function countedReport(grant: GrantReportState, sequence: number, claim: ReportClaim): CountedGrantReport {
  return {
    grantId: grant.id,
    agentId: grant.agentId,
    buyerId: grant.buyerId,
    sequence,
    source: claim.source ?? "seller",
    outcome: claim.outcome ?? "success",
    responseTimeMs: claim.responseTimeMs ?? 0,
  };
}
