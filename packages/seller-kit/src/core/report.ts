import type { SellerErrorContext, SellerKitOptions } from "./types.js";

/** Hands an error the caller is not shown to the seller's `onError`; never throws. */
export type ErrorReport = (error: unknown, context: SellerErrorContext) => void;

/**
 * The kit's error reporter: `onError` (default: `console.error`), guarded so that a reporter that
 * throws or rejects changes nothing for the caller.
 */
export function createErrorReport(onError: SellerKitOptions["onError"]): ErrorReport {
  const reporter = onError ?? defaultOnError;
  return (error, context) => {
    try {
      const result = reporter(error, context);
      // A rejected promise from an async reporter must not become an unhandled rejection.
      if (result && typeof (result as Promise<void>).then === "function") {
        (result as Promise<void>).then(undefined, () => undefined);
      }
    } catch {
      // A failing error reporter must not turn the answer into a crash.
    }
  };
}

function defaultOnError(error: unknown, context: SellerErrorContext): void {
  const call =
    context.callId !== undefined
      ? ` on call ${context.callId}`
      : context.grantId !== undefined
        ? ` for grant ${context.grantId}`
        : "";
  console.error(`mercato seller kit: ${context.stage} failed${call} (request ${context.requestId})`, error);
}
