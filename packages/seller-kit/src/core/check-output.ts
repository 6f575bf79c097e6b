import { exceedsJsonDepth, MAX_JSON_DEPTH, MercatoError } from "@mercato/protocol";
import { type StandardSchemaV1, type ValidationIssue, validateWith } from "../validation/index.js";

/** Issues of a refused output shown to the caller, at most (the broker shows as many). */
const MAX_OUTPUT_ISSUES = 10;

/** The outcome of {@link checkOutput}: the schema's parsed value, or the seller's broken promise. */
export type OutputCheck = { ok: true; value: unknown } | { ok: false; error: MercatoError };

/**
 * What the handler returned, as the output to check: `undefined` is sent as `null`.
 * @throws TypeError for a function or a symbol, which JSON cannot carry.
 */
export function handlerOutput(returned: unknown): unknown {
  if (typeof returned === "function" || typeof returned === "symbol") {
    throw new TypeError(`The handler returned a ${typeof returned}, which JSON cannot carry`);
  }
  return returned === undefined ? null : returned;
}

/**
 * The output checked against the seller's `output` schema, its promise: a broken one is the
 * seller's failure (500 `INTERNAL_ERROR`, `details.reason` `output_schema`, the first issues).
 */
export async function checkOutput(schema: StandardSchemaV1, output: unknown): Promise<OutputCheck> {
  const checked = await validateWith(schema, output);
  return checked.ok
    ? { ok: true, value: checked.value }
    : { ok: false, error: outputMismatch(checked.issues) };
}

/**
 * The answer's body, `{"output": …}`.
 * @throws what `JSON.stringify` throws (a bigint, a cycle), and RangeError for an output deeper than
 * the broker takes: either is the seller's failure.
 */
export function serializeOutput(output: unknown): string {
  const text = JSON.stringify({ output: output === undefined ? null : output });
  // The broker refuses a deeper output as a failed call: the kit fails it the same way, unpaid.
  if (exceedsJsonDepth(output, MAX_JSON_DEPTH)) {
    throw new RangeError(`The handler's output nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return text;
}

/** The seller's output broke its own `output` schema: its failure, shown with the first issues. */
function outputMismatch(issues: ValidationIssue[]): MercatoError {
  return new MercatoError("INTERNAL_ERROR", "The seller's output does not match its output schema", {
    details: { reason: "output_schema", issues: issues.slice(0, MAX_OUTPUT_ISSUES) },
  });
}
