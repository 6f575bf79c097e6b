/**
 * Lets the process exit while `timer` is pending (Node's `unref`; runtimes without it keep the
 * timer as is). Returns the timer.
 */
export function unrefTimer<Timer>(timer: Timer): Timer {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

/** Timers past 2^31 − 1 ms fire at once: the longest delay a timer takes. */
export const MAX_TIMER_MS = 2_147_483_647;
