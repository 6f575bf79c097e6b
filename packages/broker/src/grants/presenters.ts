import { formatUsd } from "@mercato/protocol";
import type { GrantRecord } from "./port.js";

/**
 * A grant on the wire (`Grant`). Its status at `now`: `closed` once the buyer closed it, `expired`
 * once past `expires_at` (or settled without a close), `open` otherwise.
 */
export function presentGrant(grant: GrantRecord, now: string) {
  const status =
    grant.closedAt !== null
      ? ("closed" as const)
      : grant.expiresAt <= now || grant.settledAt !== null
        ? ("expired" as const)
        : ("open" as const);
  return {
    grant_id: grant.id,
    token: grant.token,
    agent_id: grant.agentId,
    buyer_id: grant.buyerId,
    endpoint: grant.endpoint,
    price_per_call_usd: formatUsd(grant.priceMicros),
    budget_usd: formatUsd(grant.budgetMicros),
    issued_at: grant.issuedAt,
    expires_at: grant.expiresAt,
    status,
    redeemed_usd: formatUsd(grant.bestOwedMicros),
    ...(grant.capturedMicros !== null && { captured_usd: formatUsd(grant.capturedMicros) }),
    ...(grant.closedAt !== null && { closed_at: grant.closedAt }),
    ...(grant.settledAt !== null && { settled_at: grant.settledAt }),
  };
}
