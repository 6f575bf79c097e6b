import type { MercatoError, VerifiedCall } from "@mercato/protocol";
import { type ListingMatcher, wrongListing } from "../listing/index.js";

/**
 * The refusal of a call for a listing this kit does not serve (an impostor listed this endpoint as
 * theirs), or `undefined` for one of its own.
 */
export function checkListing(listing: ListingMatcher, verified: VerifiedCall): MercatoError | undefined {
  return listing.serves(verified.agentId, verified.agentOwner)
    ? undefined
    : wrongListing(verified.agentId, verified.agentOwner);
}
