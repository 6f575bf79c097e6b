import { MercatoError, type VerifiedCall } from "@mercato/protocol";
import type { ReplayGuard } from "../verification/index.js";

/**
 * Remembers the verified call's id and returns `undefined`, or returns the refusal of a call whose id
 * was already received within the replay window.
 */
export function checkReplay(
  replay: ReplayGuard,
  verified: VerifiedCall,
  nowMs: number,
): MercatoError | undefined {
  return replay.remember(verified.callId, verified.timestamp, nowMs) ? undefined : replayed(verified.callId);
}

function replayed(callId: string): MercatoError {
  return new MercatoError(
    "UNAUTHENTICATED",
    `The call ${callId} was already received: a call is served once`,
    {
      details: { reason: "replayed" },
    },
  );
}
