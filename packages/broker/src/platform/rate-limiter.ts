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

/** Options of {@link createMemoryRateLimiter}. */
export interface MemoryRateLimiterOptions {
  /**
   * Most ids whose allowance is not whole kept per class (default 100,000). An id's class is what
   * comes before its first `:` (`signup:…`, `register:…`, `redeem:…`), or none (access keys), so
   * that sign-ups from many addresses cannot crowd out the keys' limits.
   */
  maxKeysPerClass?: number;
}

/**
 * A rate limiter in this process's memory: right for one broker process. An id whose allowance is
 * whole again is forgotten (forgetting it then changes nothing: a new id starts whole), swept once
 * a window, so memory follows the ids active in their last window.
 *
 * **Bound.** At most `maxKeysPerClass` ids per class. An id whose allowance is not whole is never
 * forgotten early, since that would give it its allowance back: when a class is full of them, a new
 * id of that class is refused (as rate limited, with `retryAfterMs` until the first of them is
 * whole) rather than let through.
 */
export function createMemoryRateLimiter(
  options: MemoryRateLimiterOptions = {},
): RateLimiter & { size(): number } {
  const maxPerClass = options.maxKeysPerClass ?? 100_000;
  const classes = new Map<string, { tats: Map<string, number>; fullUntil: number }>();
  let nextSweep = 0;

  /** Forgets the class's ids whose allowance is whole; returns the earliest `tat` left (Infinity if none). */
  const sweepClass = (tats: Map<string, number>, now: number): number => {
    let earliest = Number.POSITIVE_INFINITY;
    for (const [id, tat] of tats) {
      if (tat <= now) tats.delete(id);
      else if (tat < earliest) earliest = tat;
    }
    return earliest;
  };
  const sweep = (now: number) => {
    for (const [name, group] of classes) {
      sweepClass(group.tats, now);
      if (group.tats.size === 0) classes.delete(name);
    }
    nextSweep = now + WINDOW_MS;
  };

  return {
    async consume(id, limit, nowMs, windowMs = WINDOW_MS) {
      if (nowMs >= nextSweep) sweep(nowMs);
      const colon = id.indexOf(":");
      const name = colon < 0 ? "" : id.slice(0, colon);
      let group = classes.get(name);
      if (group === undefined) {
        group = { tats: new Map(), fullUntil: 0 };
        classes.set(name, group);
      }
      const known = group.tats.get(id);
      if (known === undefined && group.tats.size >= maxPerClass) {
        // Full: look for whole allowances at most once until the earliest one left becomes whole.
        if (nowMs >= group.fullUntil) group.fullUntil = sweepClass(group.tats, nowMs);
        if (group.tats.size >= maxPerClass) {
          const wait = Math.max(1, Math.ceil(group.fullUntil - nowMs));
          return { allowed: false, limit, remaining: 0, resetMs: wait, retryAfterMs: wait };
        }
      }
      const { decision, tat } = gcra(known, limit, nowMs, windowMs);
      group.tats.set(id, tat);
      return decision;
    },
    size: () => {
      let total = 0;
      for (const group of classes.values()) total += group.tats.size;
      return total;
    },
  };
}
