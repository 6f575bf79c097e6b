/** How long to wait between attempts on one seller. */
export interface BackoffOptions {
  /** First delay's ceiling, ms (default 100). */
  baseMs?: number;
  /** Largest delay, ms (default 5,000). */
  maxMs?: number;
}

/**
 * Exponential backoff with full jitter (AWS's "full jitter"): before retry `n` (1-based) wait a
 * uniformly random time in [0, min(max, base × 2^(n−1))). A `Retry-After` the broker sent is a floor.
 */
export function backoffDelay(
  retry: number,
  options: BackoffOptions = {},
  retryAfterMs = 0,
  random = Math.random,
): number {
  const base = options.baseMs ?? 100;
  const max = options.maxMs ?? 5_000;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, retry - 1));
  return Math.max(retryAfterMs, Math.floor(random() * ceiling));
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
