import { MercatoError } from "@mercato/protocol";
import type { AgentPatch, AgentStatusValue, ListingLimits, NewAgent } from "./port.js";

/**
 * The statement both stores count an owner's listings with (`?`: the owner's id): listings not
 * deactivated, and listings waiting for their endpoint's proof (which go active once it comes).
 */
export const COUNT_LISTINGS =
  "SELECT count(*) AS count FROM agents WHERE owner_id = ? AND (status <> 'inactive' OR endpoint_challenge IS NOT NULL)";

/** True when a new listing counts against its owner's limit: it is listed, or waits for its proof. */
export function countsAsListing(agent: NewAgent): boolean {
  return agent.status !== "inactive" || (agent.endpoint?.challenge ?? null) !== null;
}

/** The limit to enforce, or undefined when there is none. */
export function listingLimit(limits: ListingLimits | undefined): number | undefined {
  const max = limits?.maxListings;
  return max === undefined || max <= 0 ? undefined : max;
}

/** True when `patch` would list again an agent that is now deactivated. */
export function reactivates(status: AgentStatusValue, patch: AgentPatch): boolean {
  return status === "inactive" && patch.status === "active";
}

/**
 * The refusal of one listing too many.
 *
 * @example
 * if (count >= limit) throw listingLimitReached(limit);
 */
export function listingLimitReached(limit: number): MercatoError {
  return new MercatoError(
    "LISTING_LIMIT_REACHED",
    `An account may have at most ${limit} agents that are not deactivated; deactivate one (DELETE /agents/{id}) before listing another`,
    { details: { limit } },
  );
}
