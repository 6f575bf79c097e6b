import { MercatoError, type VerifiedCall } from "@mercato/protocol";
import type { ReplayGuard } from "../verification/index.js";

/**
 * Remembers the verified call's id and returns `undefined`, or returns the refusal of a call whose id
 * was already received within the replay window (`UNAUTHENTICATED`, reason `replayed`), or of a new
 * call while the guard is full (`SERVICE_UNAVAILABLE`, reason `replay_guard_full`).
 */
export function checkReplay(
  replay: ReplayGuard,
  verified: VerifiedCall,
  nowMs: number,
): MercatoError | undefined {
  const decision = replay.admit(verified.callId, verified.timestamp, nowMs);
  if (decision === "accepted") return undefined;
  if (decision === "replayed") return replayed(verified.callId);
  return new MercatoError(
    "SERVICE_UNAVAILABLE",
    "The seller is remembering too many recent calls to tell a new one from a replay: retry in a moment",
    { details: { reason: "replay_guard_full" } },
  );
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
