// The deterministic failure schedule of FAIL_RATE: which calls fail, in integer arithmetic.
import { MercatoError } from "@mercato/protocol";

/** Parts per million in a whole: failure rates are exact integers of ppm, never floats. */
export const PPM = 1_000_000;

/**
 * Whether call number `n` (0 for the first) fails under a failure rate of `ratePpm` parts per
 * million: it does when `floor((n + 1) · rate) > floor(n · rate)`. Failures are spread evenly
 * (at rate 0.5 every second call fails, at 0.25 every fourth), and any `k` calls in a row hold
 * `floor(k · rate)` or `ceil(k · rate)` failures. Integer arithmetic only.
 */
export function failsAt(n: number, ratePpm: number): boolean {
  return Math.floor(((n + 1) * ratePpm) / PPM) > Math.floor((n * ratePpm) / PPM);
}

/** Counts calls and says whether each fails under a fixed rate (see {@link failsAt}). */
export interface FailureSchedule {
  /** Takes the next call number and tells whether that call fails. */
  next(): boolean;
  /** Calls counted so far. */
  readonly calls: number;
  /** Of those, failed ones. */
  readonly failures: number;
}

/** A deterministic failure schedule for a rate in parts per million. */
export function createFailureSchedule(ratePpm: number): FailureSchedule {
  if (!Number.isInteger(ratePpm) || ratePpm < 0 || ratePpm > PPM) {
    throw new MercatoError("VALIDATION_ERROR", `ratePpm must be an integer from 0 to ${PPM}, got ${ratePpm}`);
  }
  let calls = 0;
  let failures = 0;
  return {
    next() {
      const fails = failsAt(calls, ratePpm);
      calls++;
      if (fails) failures++;
      return fails;
    },
    get calls() {
      return calls;
    },
    get failures() {
      return failures;
    },
  };
}

/** The error of a call the failure schedule made fail; the kit answers it as a 500. */
export class ScheduledFailure extends Error {
  override readonly name = "ScheduledFailure";
}
