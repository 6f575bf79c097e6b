/** What {@link ReplayGuard.admit} decided of a call id. */
export type ReplayDecision = "accepted" | "replayed" | "full";

/** Remembers verified call ids for as long as their signature could still be accepted. */
export interface ReplayGuard {
  /**
   * Records `callId`, signed at `timestamp` (unix seconds): `"accepted"`; `"replayed"` when the id
   * is already remembered; `"full"` when `maxEntries` ids are remembered, none of them expired,
   * and this one is new (it is not recorded: the call must be refused, since it could not be told
   * from its replay). `nowMs` drives pruning.
   */
  admit(callId: string, timestamp: number, nowMs: number): ReplayDecision;
  /** `admit(…) === "accepted"`. */
  remember(callId: string, timestamp: number, nowMs: number): boolean;
  /** How many call ids are remembered right now. */
  readonly size: number;
}

/** Most call ids a {@link ReplayGuard} remembers when not told otherwise. */
export const DEFAULT_MAX_REMEMBERED_CALLS = 500_000;

/**
 * A {@link ReplayGuard} for a replay window of `windowSeconds`. A call signed at `t` is accepted
 * until `t + window` (after that its signature is stale), so its id is kept exactly that long.
 *
 * Memory stays bounded by the calls signed within one window: ids are also filed in one bucket per
 * expiry second, and at most once a second the buckets whose second has passed are dropped with
 * their ids. Timestamps are within ±window of the clock, so there are at most `2 × window + 1`
 * buckets and pruning is O(buckets + expired ids), amortised O(1) per call.
 *
 * At most `maxEntries` ids are remembered (default 500,000: 1,666 calls a second over the default
 * 300 s window). An id is never forgotten before its signature is stale, since forgetting it would
 * let its replay through: past the bound a new call is refused instead (`"full"`) until ids expire.
 */
export function createReplayGuard(
  windowSeconds: number,
  maxEntries: number = DEFAULT_MAX_REMEMBERED_CALLS,
): ReplayGuard {
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

  const admit = (callId: string, timestamp: number, nowMs: number): ReplayDecision => {
    const nowSecond = Math.floor(nowMs / 1000);
    if (nowSecond !== prunedAtSecond) {
      prunedAtSecond = nowSecond;
      prune(nowMs);
    }
    const known = expiries.get(callId);
    if (known !== undefined && known * 1000 >= nowMs) return "replayed";
    if (known === undefined && expiries.size >= maxEntries) return "full";
    const expiry = timestamp + windowSeconds;
    expiries.set(callId, expiry);
    const bucket = buckets.get(expiry);
    if (bucket) bucket.push(callId);
    else buckets.set(expiry, [callId]);
    return "accepted";
  };

  return {
    admit,
    remember: (callId, timestamp, nowMs) => admit(callId, timestamp, nowMs) === "accepted",
    get size() {
      return expiries.size;
    },
  };
}
