import { MercatoError, type VerifiedCall } from "@mercato/protocol";
import type { ListingMatcher } from "../listing/index.js";
import type { ReplayGuard } from "../verification/index.js";
import { checkListing } from "./listing-check.js";
import { parseCall } from "./parse-call.js";
import { type Refusals, tooLargeError } from "./refuse.js";
import { checkReplay } from "./replay-check.js";
import type { RunCall } from "./run-call.js";
import { checkSignedCallId, type SignatureDeps, verifiedCallInfo, verifySignature } from "./signature.js";
import type { SellerKitRequest, SellerKitResponse } from "./types.js";

/** How a call proxied by the broker is checked (absent with `verify: false`). */
export interface CallVerification extends SignatureDeps {
  /** The listings this kit serves. */
  listing: ListingMatcher;
  replay: ReplayGuard;
}

/** What {@link createCallServer} needs. */
export interface CallServerDeps {
  maxBodyBytes: number;
  verification: CallVerification | undefined;
  refusals: Refusals;
  runCall: RunCall;
}

/** Serves a POST without a grant: a call the broker proxied. */
export type ServeCall = (call: SellerKitRequest, requestId: string) => Promise<SellerKitResponse>;

/**
 * A call proxied by the broker, checked in this order before the handler runs: the body's size, the
 * broker's signature, the listing, the replay window, the body, and its `call_id` against the signed one.
 */
export function createCallServer({
  maxBodyBytes,
  verification,
  refusals,
  runCall,
}: CallServerDeps): ServeCall {
  const { refuse } = refusals;
  return async (call, requestId) => {
    if (call.body.byteLength > maxBodyBytes) return refuse(tooLargeError(maxBodyBytes), requestId);

    let verified: VerifiedCall | undefined;
    if (verification) {
      try {
        verified = await verifySignature(call, verification);
      } catch (error) {
        return refusals.refuseUnverified(error, requestId);
      }
      // A call for another's listing of this endpoint (an impostor's): refused before any work.
      const refusal =
        checkListing(verification.listing, verified) ??
        checkReplay(verification.replay, verified, verification.now());
      if (refusal) return refuse(refusal, requestId);
    }

    const request = parseCall(call.body);
    if (request instanceof MercatoError) return refuse(request, requestId);
    const mismatch = verified && checkSignedCallId(verified, request);
    if (mismatch) return refuse(mismatch, requestId);
    return runCall(request, call, requestId, verified && verifiedCallInfo(verified), undefined);
  };
}
