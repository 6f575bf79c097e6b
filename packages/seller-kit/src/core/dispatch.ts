import { DIRECT_HEADERS, MercatoError } from "@mercato/protocol";
import type { ServeGet } from "./get-routes.js";
import type { ErrorReport } from "./report.js";
import { newRequestId } from "./request-id.js";
import { failure } from "./respond.js";
import type { ServeCall } from "./serve-call.js";
import type { DirectCallServer } from "./serve-direct.js";
import type { SellerKitRequest, SellerKitResponse } from "./types.js";

/** What {@link createRequestHandler} needs: the kit's routes. */
export interface DispatchDeps {
  /** Sees the `Host` of every request (to warn of a port `fetch()` refuses). */
  warnOfBadPort: (host: string | null | undefined) => void;
  /** A POST without a grant. */
  serveCall: ServeCall;
  /** A POST with a grant. */
  direct: DirectCallServer;
  serveGet: ServeGet;
  report: ErrorReport;
}

/**
 * The kit's `handle`: gives each request an id and routes it — a POST with a grant (`mercato-grant`)
 * to direct mode, any other POST to the broker's calls, a GET to the kit's routes; anything else is
 * answered 405. Never rejects.
 */
export function createRequestHandler(
  deps: DispatchDeps,
): (call: SellerKitRequest) => Promise<SellerKitResponse> {
  const { warnOfBadPort, serveCall, direct, serveGet, report } = deps;
  return async (call) => {
    const requestId = newRequestId();
    warnOfBadPort(call.headers("host"));
    try {
      const method = call.method.toUpperCase();
      if (method === "POST") {
        const grant = call.headers(DIRECT_HEADERS.grant);
        if (grant !== null && grant !== undefined) return await direct.serve(call, grant, requestId);
        return await serveCall(call, requestId);
      }
      if (method === "GET") {
        const served = await serveGet(call.target, requestId);
        if (served) return served;
      }
      return failure(
        new MercatoError("METHOD_NOT_ALLOWED", `${method} is not served here: POST a call`),
        requestId,
        "POST",
      );
    } catch (error) {
      // Unreachable unless the kit has a bug; the caller still gets an envelope.
      report(error, { stage: "request", requestId, callId: undefined, timeoutMs: undefined });
      return failure(new MercatoError("INTERNAL_ERROR", "The seller kit failed"), requestId);
    }
  };
}
