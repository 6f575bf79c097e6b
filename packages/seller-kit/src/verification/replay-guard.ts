/** Remembers verified call ids for as long as their signature could still be accepted. */
export interface ReplayGuard {
  /**
   * Records `callId`, signed at `timestamp` (unix seconds), and returns true; returns false when
   * the id is already remembered (a replay). `nowMs` drives pruning.
   */
  remember(callId: string, timestamp: number, nowMs: number): boolean;
  /** How many call ids are remembered right now. */
  readonly size: number;
}

/**
 * A {@link ReplayGuard} for a replay window of `windowSeconds`. A call signed at `t` is accepted
 * until `t + window` (after that its signature is stale), so its id is kept exactly that long.
 *
 * Memory stays bounded by the calls signed within one window: ids are also filed in one bucket per
 * expiry second, and at most once a second the buckets whose second has passed are dropped with
 * their ids. Timestamps are within ±window of the clock, so there are at most `2 × window + 1`
 * buckets and pruning is O(buckets + expired ids), amortised O(1) per call.
 */
export function createReplayGuard(windowSeconds: number): ReplayGuard {
  const expiries = new Map<string, number>();
  const buckets = new Map<number, string[]>();
  let prunedAtSecond = Number.NEGATIVE_INFINITY;

  const prune = (nowMs: number) => {
    for (const [second, ids] of buckets) {
      if (second * 1000 >= nowMs) continue;
      for (const id of ids) {
        // An id may have been remembered again later with a later expiry (after it had expired).
        if (expiries.get(id) === second) expiries.delete(id);
      }
      buckets.delete(second);
    }
  };

  return {
    remember(callId, timestamp, nowMs) {
      const nowSecond = Math.floor(nowMs / 1000);
      if (nowSecond !== prunedAtSecond) {
        prunedAtSecond = nowSecond;
        prune(nowMs);
      }
      const known = expiries.get(callId);
      if (known !== undefined && known * 1000 >= nowMs) return false;
      const expiry = timestamp + windowSeconds;
      expiries.set(callId, expiry);
      const bucket = buckets.get(expiry);
      if (bucket) bucket.push(callId);
      else buckets.set(expiry, [callId]);
      return true;
    },
    get size() {
      return expiries.size;
    },
  };
}
