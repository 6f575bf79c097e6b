import { isMercatoError, MercatoError } from "@mercato/protocol";
import type { SellerMeter } from "../metering/index.js";
import {
  type StandardSchemaV1,
  summarizeIssues,
  type ValidationIssue,
  validateWith,
} from "../validation/index.js";
import { startCallSignal } from "./call-signal.js";
import { checkOutput, handlerOutput, serializeOutput } from "./check-output.js";
import type { CallRequest } from "./parse-call.js";
import type { ErrorReport } from "./report.js";
import { failure, respond } from "./respond.js";
import type {
  DirectCallInfo,
  SellerCallContext,
  SellerKitRequest,
  SellerKitResponse,
  VerifiedCallInfo,
} from "./types.js";

/**
 * Runs the handler on an accepted call: input schema, `timeout_ms` signal, output check and
 * serialisation. A direct call (`paidBy`) that ends after its `timeout_ms` is answered 504
 * `SELLER_TIMEOUT`: the buyer has given up on it and will not pay for it.
 */
export type RunCall = (
  request: CallRequest,
  call: SellerKitRequest,
  requestId: string,
  verified: VerifiedCallInfo | undefined,
  paidBy: DirectCallInfo | undefined,
) => Promise<SellerKitResponse>;

/** What {@link createCallRunner} needs. */
export interface CallRunnerDeps {
  handler: (input: unknown, context: SellerCallContext) => unknown;
  inputSchema: StandardSchemaV1 | undefined;
  outputSchema: StandardSchemaV1 | undefined;
  /** Counts each call's outcome and how long it took. */
  meter: SellerMeter;
  /** Times the call, in ms. */
  clock: () => number;
  report: ErrorReport;
}

/** The step every accepted call ends in, proxied or direct: see {@link RunCall}. */
export function createCallRunner(deps: CallRunnerDeps): RunCall {
  const { handler, inputSchema, outputSchema, meter, clock, report } = deps;
  return async (request, call, requestId, verified, paidBy) => {
    const { input, call_id: callId, timeout_ms: timeoutMs } = request;
    const started = clock();
    const callSignal = startCallSignal(timeoutMs, call.signal);
    const context: SellerCallContext = {
      callId,
      timeoutMs,
      signal: callSignal.signal,
      verified,
      direct: paidBy,
      requestId,
    };

    try {
      let value = input;
      if (inputSchema) {
        const checked = await validateWith(inputSchema, input);
        if (!checked.ok) {
          meter.call("failure", clock() - started);
          return failure(invalidInput(checked.issues), requestId);
        }
        value = checked.value;
      }
      let output = handlerOutput(await handler(value, context));
      if (outputSchema) {
        // The seller's promise, checked before anything is counted: a broken one is its failure, unpaid.
        const checked = await checkOutput(outputSchema, output);
        if (!checked.ok) {
          meter.call("failure", clock() - started);
          report(checked.error, { stage: "output", requestId, callId, timeoutMs });
          return failure(checked.error, requestId);
        }
        output = checked.value;
      }
      // Serialised here so that an output JSON cannot carry (a bigint, a cycle) counts as a failure.
      const text = serializeOutput(output);
      if (paidBy && (callSignal.timedOut || clock() - started > timeoutMs)) {
        meter.call("failure", clock() - started);
        return failure(sellerTimeout(timeoutMs), requestId);
      }
      meter.call("success", clock() - started);
      return respond(200, text, requestId);
    } catch (error) {
      meter.call("failure", clock() - started);
      if (paidBy && callSignal.timedOut) return failure(sellerTimeout(timeoutMs), requestId);
      if (isMercatoError(error) && error.status >= 400 && error.status < 500) {
        // The seller chose to show this error to the caller.
        return failure(error, requestId);
      }
      report(error, { stage: "handler", requestId, callId, timeoutMs });
      return failure(new MercatoError("INTERNAL_ERROR", "The seller's handler failed"), requestId);
    } finally {
      callSignal.dispose();
    }
  };
}

function invalidInput(issues: ValidationIssue[]): MercatoError {
  return new MercatoError("VALIDATION_ERROR", `Invalid input: ${summarizeIssues(issues, "input")}`, {
    details: { issues },
  });
}

function sellerTimeout(timeoutMs: number): MercatoError {
  return new MercatoError("SELLER_TIMEOUT", `The call did not end within its timeout_ms (${timeoutMs} ms)`);
}
