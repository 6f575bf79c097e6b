import {
  DIRECT_HEADERS,
  directCallId,
  directError,
  grantRefusalError,
  MercatoError,
  type UsageOutcomeValue,
} from "@mercato/protocol";
import type { DirectCredentials, DirectMode } from "../direct/index.js";
import type { DirectCallStats, SellerMeter } from "../metering/index.js";
import { parseCall } from "./parse-call.js";
import { createRefusals, tooLargeError } from "./refuse.js";
import type { ErrorReport } from "./report.js";
import type { RunCall } from "./run-call.js";
import type { SellerKitRequest, SellerKitResponse } from "./types.js";

/** What {@link createDirectCallServer} needs. */
export interface DirectCallServerDeps {
  /** Direct mode, or `undefined` when the kit takes no direct calls. */
  direct: DirectMode | undefined;
  maxBodyBytes: number;
  meter: SellerMeter;
  report: ErrorReport;
  runCall: RunCall;
  /** Times the call, in ms. */
  clock: () => number;
}

/** The kit's side of direct calls: a grant and a voucher instead of the broker's signature. */
export interface DirectCallServer {
  /** Serves a POST carrying the grant `token`. */
  serve(call: SellerKitRequest, token: string, requestId: string): Promise<SellerKitResponse>;
  /** The direct calls served and refused, and the grants kept; `undefined` without direct mode. */
  stats(): DirectCallStats | undefined;
}

/**
 * A direct call, checked in the order of docs/direct-mode.md: the body's size, the grant and voucher,
 * the body, its `call_id` (`{grant_id}:{sequence}`), the ledger's admission. An admitted call is
 * settled in the ledger before it is answered, so that the buyer's next call (sent after this
 * answer) finds it settled.
 */
export function createDirectCallServer(deps: DirectCallServerDeps): DirectCallServer {
  const { direct, maxBodyBytes, runCall, clock } = deps;
  let calls = 0;
  let refused = 0;
  const { refuse, refuseUnverified } = createRefusals({
    meter: deps.meter,
    report: deps.report,
    counted: () => refused++,
  });

  const serve = async (call: SellerKitRequest, token: string, requestId: string) => {
    if (!direct) {
      return refuse(
        directError(
          "direct_not_accepted",
          "This seller does not take direct calls: call it through the broker",
        ),
        requestId,
      );
    }
    if (call.body.byteLength > maxBodyBytes) return refuse(tooLargeError(maxBodyBytes), requestId);
    let credentials: DirectCredentials;
    try {
      credentials = await direct.authenticate(token, call.headers(DIRECT_HEADERS.voucher));
    } catch (error) {
      return refuseUnverified(error, requestId);
    }
    const request = parseCall(call.body);
    if (request instanceof MercatoError) return refuse(request, requestId);
    const { grant, voucher } = credentials;
    const expected = directCallId(grant.grant_id, voucher.sequence);
    if (request.call_id !== expected) {
      return refuse(
        directError("call_id_mismatch", `The body's call_id must be ${expected} (grant:sequence)`),
        requestId,
      );
    }
    const refusal = direct.admit(credentials);
    if (refusal) return refuse(grantRefusalError(refusal), requestId);

    calls++;
    const started = clock();
    let answer: SellerKitResponse | undefined;
    try {
      answer = await runCall(request, call, requestId, undefined, {
        grantId: grant.grant_id,
        buyerId: grant.buyer_id,
        sequence: voucher.sequence,
      });
      return answer;
    } finally {
      direct.settle(credentials, directOutcome(answer, call.signal?.aborted === true), clock() - started);
    }
  };

  return {
    serve,
    stats: () => (direct ? { calls, refused, grants: direct.grants } : undefined),
  };
}

/**
 * How a direct call ended, for the ledger and the usage reports: a success the caller never
 * received (`callerGone`) is not one, since it will not pay for it; a 400 is input the kit (or the
 * handler) refused as invalid, the buyer's fault.
 */
export function directOutcome(answer: SellerKitResponse | undefined, callerGone: boolean): UsageOutcomeValue {
  if (answer?.status === 200 && !callerGone) return "success";
  return answer?.status === 400 ? "client_error" : "failure";
}
