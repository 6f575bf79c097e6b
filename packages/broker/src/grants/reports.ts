import { type UsageOutcomeValue, usageOutcomeOf } from "@mercato/protocol";
import type { ApiKeyRecord } from "../accounts/port.js";
import type { CallOutcome, MetricsStore } from "../metrics/port.js";
import type { CountedGrantReport, GrantRecord, GrantReportRecord, GrantStore } from "./port.js";
import { REPORTS_WINDOW_MS } from "./settle.js";

/** A usage report as the route takes it (`UsageReport`'s items). */
export interface UsageReportItem {
  agent_id: string;
  grant_id: string;
  sequence: number;
  success?: boolean | undefined;
  outcome?: UsageOutcomeValue | undefined;
  response_time_ms: number;
}

/**
 * The side of `grant` that `key` speaks for: the agent owner's (the seller kit), the buyer's, or
 * neither. An access key acts only on its own agent: on a grant of any other agent, even one of
 * its account, it is no party. Calls between accounts of one owner have no side.
 */
export function sideOf(grant: GrantRecord, key: ApiKeyRecord): "buyer" | "seller" | undefined {
  if (key.kind === "access" && key.agentId !== grant.agentId) return undefined;
  if (grant.buyerId === grant.sellerAccountId) return undefined;
  if (key.accountId === grant.sellerAccountId) return "seller";
  if (key.accountId === grant.buyerId) return "buyer";
  return undefined;
}

/**
 * The claims a batch of usage reports makes, each with its index in the batch: reports of grants
 * `key` is a party to (`sideOf`), naming the grant's agent, and arriving at most
 * {@link REPORTS_WINDOW_MS} after the grant settled. The rest is ignored.
 */
export function claimsOf(
  reports: readonly UsageReportItem[],
  grants: ReadonlyMap<string, GrantRecord | undefined>,
  key: ApiKeyRecord,
  now: Date,
): Array<{ index: number; claim: GrantReportRecord }> {
  const countedAfter = new Date(now.getTime() - REPORTS_WINDOW_MS).toISOString();
  const claims: Array<{ index: number; claim: GrantReportRecord }> = [];
  reports.forEach((report, index) => {
    const grant = grants.get(report.grant_id);
    if (grant === undefined || grant.agentId !== report.agent_id) return;
    if (grant.settledAt !== null && grant.settledAt <= countedAfter) return;
    const source = sideOf(grant, key);
    if (source === undefined) return;
    claims.push({
      index,
      claim: {
        grantId: grant.id,
        sequence: report.sequence,
        source,
        outcome: usageOutcomeOf(report),
        responseTimeMs: report.response_time_ms,
      },
    });
  });
  return claims;
}

/**
 * The one place a counted usage report becomes a {@link CallOutcome} for the agent's metrics, with
 * the grant's buyer as the buyer: a client error (the seller kit refused the buyer's input) is
 * counted apart, never as the seller's failure.
 */
export function callOutcomeOf(report: CountedGrantReport): CallOutcome {
  return {
    agentId: report.agentId,
    buyerId: report.buyerId,
    outcome: report.outcome,
    responseTimeMs: report.responseTimeMs,
  };
}

/** The call outcomes of counted reports (see {@link callOutcomeOf}). */
export function callOutcomesOf(reports: readonly CountedGrantReport[]): CallOutcome[] {
  return reports.map(callOutcomeOf);
}

/**
 * Counts what the pending reports of newly settled grants are owed, once per grant (the sweeper
 * runs it after settling): the seller's successes and then the buyer's, as far as the grant's
 * captured amount pays for them. Returns how many outcomes it counted.
 */
export async function countSettledGrantReports(
  store: Pick<GrantStore, "releaseSettledGrantReports"> & Pick<MetricsStore, "recordCallOutcomes">,
  at: string,
  limit = 500,
): Promise<number> {
  const counted = await store.releaseSettledGrantReports(limit);
  const outcomes = callOutcomesOf(counted);
  if (outcomes.length > 0) await store.recordCallOutcomes(outcomes, at);
  return counted.length;
}
