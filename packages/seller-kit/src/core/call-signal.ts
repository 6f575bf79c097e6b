import { MAX_TIMER_MS } from "../direct/index.js";

/** The handler's `signal`: aborted at the call's `timeout_ms` or when the caller goes away. */
export interface CallSignal {
  readonly signal: AbortSignal;
  /** True once `timeout_ms` has passed (the signal aborted with a `TimeoutError`). */
  readonly timedOut: boolean;
  /** Stops the timer and stops listening to the caller: once the call has ended. */
  dispose(): void;
}

/**
 * Starts a call's signal: it aborts with a `TimeoutError` after `timeoutMs` (capped at what a timer
 * can wait) or with an `AbortError` when `external` (the caller's request) aborts.
 */
export function startCallSignal(timeoutMs: number, external: AbortSignal | undefined): CallSignal {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(
    () => {
      timedOut = true;
      controller.abort(
        new DOMException(`The call's timeout_ms (${timeoutMs} ms) has passed`, "TimeoutError"),
      );
    },
    Math.min(timeoutMs, MAX_TIMER_MS),
  );
  const onGone = () => controller.abort(new DOMException("The caller went away", "AbortError"));
  if (external) {
    if (external.aborted) onGone();
    else external.addEventListener("abort", onGone, { once: true });
  }
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    dispose() {
      clearTimeout(timer);
      external?.removeEventListener("abort", onGone);
    },
  };
}
