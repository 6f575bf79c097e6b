/** The answer of a rate limiter for one call. */
export interface RateDecision {
  allowed: boolean;
  /** Calls the key may make per window (a minute unless the limit says otherwise). */
  limit: number;
  /** Calls the key may still make at once. */
  remaining: number;
  /** Milliseconds until the key's allowance is whole again. */
  resetMs: number;
  /** When refused: milliseconds until one call is allowed again; 0 otherwise. */
  retryAfterMs: number;
}

/**
 * Per-key rate limits. Async so that a shared store (Redis, for several broker processes) can
 * implement it; the in-memory one answers at once.
 */
export interface RateLimiter {
  /**
   * Takes one call from `id`'s allowance of `limit` calls per `windowMs` (default a minute), if
   * there is one left.
   */
  consume(id: string, limit: number, nowMs: number, windowMs?: number): Promise<RateDecision>;
}

const WINDOW_MS = 60_000;

/**
 * One step of the generic cell rate algorithm (GCRA): a key may make `limit` calls at once, then one
 * every `windowMs / limit` (a minute's by default). All the state is one number per key, its theoretical arrival time (`tat`):
 * the time at which the key's allowance would be whole again. Returns the decision and the new
 * `tat` to keep (unchanged when refused).
 */
export function gcra(
  tat: number | undefined,
  limit: number,
  now: number,
  windowMs = WINDOW_MS,
): { decision: RateDecision; tat: number } {
  const interval = windowMs / limit;
  const start = Math.max(tat ?? now, now);
  const next = start + interval;
  const allowAt = next - windowMs;
  if (now < allowAt) {
    const waited = start - now;
    return {
      decision: {
        allowed: false,
        limit,
        remaining: 0,
        resetMs: Math.ceil(waited),
        retryAfterMs: Math.ceil(allowAt - now),
      },
      tat: start,
    };
  }
  return {
    decision: {
      allowed: true,
      limit,
      remaining: Math.max(0, Math.floor((now + windowMs - next) / interval)),
      resetMs: Math.ceil(next - now),
      retryAfterMs: 0,
    },
    tat: next,
  };
}

/**
 * A rate limiter in this process's memory: right for one broker process. Keys whose allowance is
 * whole again are forgotten, so memory follows the keys active in their last window.
 */
export function createMemoryRateLimiter(): RateLimiter & { size(): number } {
  const tats = new Map<string, number>();
  let nextSweep = 0;
  const sweep = (now: number) => {
    for (const [id, tat] of tats) if (tat <= now) tats.delete(id);
    nextSweep = now + WINDOW_MS;
  };
  return {
    async consume(id, limit, nowMs, windowMs = WINDOW_MS) {
      if (nowMs >= nextSweep) sweep(nowMs);
      const { decision, tat } = gcra(tats.get(id), limit, nowMs, windowMs);
      tats.set(id, tat);
      return decision;
    },
    size: () => tats.size,
  };
}
