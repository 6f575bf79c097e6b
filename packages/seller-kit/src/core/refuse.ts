import { isMercatoError, MercatoError } from "@mercato/protocol";
import type { SellerMeter } from "../metering/index.js";
import type { ErrorReport } from "./report.js";
import { failure } from "./respond.js";
import type { SellerErrorStage, SellerKitResponse } from "./types.js";

/** Answers requests refused before the handler, counting them. */
export interface Refusals {
  /** Answers a request refused before the handler: counted as rejected. */
  refuse(error: MercatoError, requestId: string): SellerKitResponse;
  /**
   * Refuses a call whose credentials failed: shown when it is the caller's fault, 503 (reported,
   * stage `verification`) when the keys could not be loaded.
   */
  refuseUnverified(error: unknown, requestId: string): SellerKitResponse;
}

/** What {@link createRefusals} needs. */
export interface RefusalDeps {
  meter: SellerMeter;
  report: ErrorReport;
  /** Also told of every refusal (direct mode counts its own). */
  counted?: () => void;
}

/** The refusals of one kind of request, counted by the meter (and by `counted`). */
export function createRefusals({ meter, report, counted }: RefusalDeps): Refusals {
  const refuse = (error: MercatoError, requestId: string): SellerKitResponse => {
    meter.rejected();
    counted?.();
    return failure(error, requestId);
  };
  return {
    refuse,
    refuseUnverified(error, requestId) {
      if (isMercatoError(error) && error.status < 500) return refuse(error, requestId);
      report(error, { stage: "verification", requestId, callId: undefined, timeoutMs: undefined });
      return refuse(
        new MercatoError("SERVICE_UNAVAILABLE", "The seller cannot check the call's signature right now", {
          details: { reason: "keys_unavailable" },
        }),
        requestId,
      );
    },
  };
}

/**
 * The answer to a request an adapter could not turn into a call: a `MercatoError` below 500 is
 * shown as is (refused), anything else is reported at `stage` and answered 500.
 */
export function failRequest(
  refusals: Refusals,
  report: ErrorReport,
  error: unknown,
  stage: SellerErrorStage,
  requestId: string,
): SellerKitResponse {
  if (isMercatoError(error) && error.status < 500) return refusals.refuse(error, requestId);
  report(error, { stage, requestId, callId: undefined, timeoutMs: undefined });
  const shown =
    isMercatoError(error) && error.code === "INTERNAL_ERROR"
      ? error
      : new MercatoError("INTERNAL_ERROR", "The seller kit failed");
  return failure(shown, requestId);
}

/** The refusal of a body over `maxBodyBytes`. */
export function tooLargeError(maxBodyBytes: number): MercatoError {
  return new MercatoError("PAYLOAD_TOO_LARGE", `The body is larger than ${maxBodyBytes} bytes`, {
    details: { max_bytes: maxBodyBytes },
  });
}
