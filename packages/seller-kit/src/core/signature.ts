import {
  type CallKeyResolver,
  MercatoError,
  type VerifiedCall,
  verifyCallSignature,
} from "@mercato/protocol";
import type { CallRequest } from "./parse-call.js";
import type { SellerKitRequest, VerifiedCallInfo } from "./types.js";

/** What {@link verifySignature} checks a call against. */
export interface SignatureDeps {
  /** The broker's keys. */
  resolveKey: CallKeyResolver;
  /** How far the signed timestamp may be from `now()`, either way. */
  windowSeconds: number;
  now: () => number;
}

/**
 * The broker's signature over the call (`mercato-call-v2`): method, target, body, timestamp, call id
 * and listing.
 *
 * @throws MercatoError 401 `UNAUTHENTICATED` when it is missing, malformed, stale or forged; anything
 * else when the broker's keys could not be loaded.
 */
export function verifySignature(call: SellerKitRequest, deps: SignatureDeps): Promise<VerifiedCall> {
  return verifyCallSignature(
    { method: call.method, path: call.target, body: call.body, header: call.headers },
    { resolveKey: deps.resolveKey, now: deps.now(), windowSeconds: deps.windowSeconds },
  );
}

/** The refusal of a body whose `call_id` is not the signed one, or `undefined` when it is. */
export function checkSignedCallId(verified: VerifiedCall, request: CallRequest): MercatoError | undefined {
  if (verified.callId === request.call_id) return undefined;
  return new MercatoError("UNAUTHENTICATED", "The body's call_id is not the signed mercato-call-id", {
    details: { reason: "bad_signature" },
  });
}

/** The signed facts the handler sees (`context.verified`). */
export function verifiedCallInfo(verified: VerifiedCall): VerifiedCallInfo {
  return {
    kid: verified.kid,
    timestamp: verified.timestamp,
    agentId: verified.agentId,
    agentOwner: verified.agentOwner,
    priceMicros: verified.priceMicros,
  };
}

/** The warning of a kit created with `verify: false`. */
export function warnVerifyOff(warn: (message: string) => void): void {
  warn(
    "\n!!! mercato seller kit: verify is false. Calls are NOT checked for the broker's signature:\n" +
      "!!! anyone who can reach this endpoint can call your handler, and replays are not refused.\n" +
      "!!! Use verify: false for local development only.\n",
  );
}
