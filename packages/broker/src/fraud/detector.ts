import { MercatoError } from "@mercato/protocol";
import type { FastifyBaseLogger } from "fastify";
import { keySuspended } from "../accounts/authenticate.js";
import type { KeyCache } from "../accounts/key-cache.js";
import type { AccountsStore, ApiKeyRecord } from "../accounts/port.js";
import type { AlertNotifier } from "../alerts/types.js";
import type { FraudSettings } from "../platform/settings.js";

const MINUTE_MS = 60_000;

/**
 * Fraud prevention on the invoke path: access keys whose call rate bursts far above their own
 * baseline are suspended, and new accounts' daily spending is limited.
 *
 * **The burst rule.** Calls are counted per key and calendar minute. A key's baseline is the
 * exponentially weighted mean of its per-minute counts over the minutes since it was first seen
 * (idle minutes count as 0), with a time constant of `baselineMinutes` (an hour): the mean of the
 * last hour or so, weighted towards recent minutes, and over a younger key's whole life (the mean
 * is corrected for its start, so a key seen for 5 minutes at 30 calls a minute has a baseline of
 * 30, not 2.5). The call that takes the current minute's count above **both**
 * `burstFloorPerMinute` (default 1,000) **and** `burstMultiplier` (default 10) × the baseline
 * suspends the key: equivalently, above `multiplier × max(baseline, floor / multiplier)`. A key
 * with no history has a baseline of 0, so it is judged by the floor alone: a new key's first
 * minutes under the floor never suspend it, and a key that ramps up gradually (each minute at most
 * ten times the mean so far) never does either; 2,000 calls in a minute after an hour at 30 a minute
 * (baseline 30: limit 300) does.
 *
 * The counts live in this process's memory (O(1) per call; keys idle for `forgetAfterMinutes` are
 * forgotten and start again with no history). Behind a load balancer each broker process judges
 * the calls it sees. At most `maxKeys` keys are counted: past it, the key idle longest is
 * forgotten, which only ever lowers its limit (a key with no history is judged by the floor
 * alone, and its current minute is never the one dropped); when every key counted has called
 * within the current minute, a new key's call is refused (`SERVICE_UNAVAILABLE`) rather than
 * left uncounted.
 *
 * **On suspension** the key is marked in the store (`suspendApiKey`, once: the process that
 * suspends it alerts), dropped from the key cache, its owner alerted (`key_suspended`) and the
 * event logged. The call that crossed the line and every later one answer `KEY_SUSPENDED` (403)
 * until the owner reinstates the key (`POST /keys/{id}/reinstate`, which calls {@link reset}).
 */
export interface FraudDetector {
  /**
   * Counts one authenticated call of an access key. Returns undefined when the call may go on, or
   * a promise that rejects with `KEY_SUSPENDED` when this call suspended the key (once the
   * suspension is stored) or the key was suspended moments ago in this process.
   */
  observe(key: ApiKeyRecord, nowMs: number): Promise<never> | undefined;
  /** Forgets a key's counts and its suspension in this process: after its owner reinstated it. */
  reset(keyId: string): void;
  /**
   * The daily spending limit of an account (micro-USD) for a hold at `nowMs`: the new-account
   * limit while the account is younger than `newAccountDays`, null afterwards or when the limit
   * is off. Account ages are cached: an account's creation time never changes.
   */
  dailyCap(accountId: string, nowMs: number): Promise<number | null>;
  /** Waits for suspensions being stored (tests, shutdown). */
  drain(): Promise<void>;
  /** Keys whose counts are kept. */
  size(): number;
}

/** Options of {@link createFraudDetector}. */
export interface FraudDetectorOptions {
  settings: FraudSettings;
  store: Pick<AccountsStore, "suspendApiKey" | "getAccount">;
  alerts: AlertNotifier;
  keyCache: KeyCache;
  log: FastifyBaseLogger;
  /** Told of each suspension (the Prometheus counter). */
  onSuspended?: () => void;
  /** Time constant of the baseline's exponential mean, minutes (default 60). */
  baselineMinutes?: number;
  /** A key idle this long is forgotten, minutes (default 180). */
  forgetAfterMinutes?: number;
  /**
   * How long this process refuses a key it suspended without asking the store, ms: long enough
   * for every key cache to have dropped it (default 10 s).
   */
  refuseForMs?: number;
  /** Most accounts whose age is cached (default 100,000; the oldest entries go first). */
  maxAccounts?: number;
  /** Most keys whose calls are counted (default 100,000; see {@link FraudDetector}). */
  maxKeys?: number;
}

/** One key's calls: the current minute's count and the exponential mean of the minutes before. */
interface KeyRate {
  minute: number;
  count: number;
  /** Exponentially weighted sum of past minutes' counts. */
  mean: number;
  /** What the weights of `mean` add up to (below 1 while the key is young): `mean / weight` is the baseline. */
  weight: number;
}

/**
 * Creates the fraud detector of one broker. It reads no clock: callers pass the time of each call
 * (the broker's injected clock).
 *
 * @example
 * const fraud = createFraudDetector({ settings: DEFAULT_FRAUD_SETTINGS, store, alerts, keyCache, log });
 * const refused = fraud.observe(key, clock.now().getTime());
 * if (refused) await refused; // throws KEY_SUSPENDED
 */
export function createFraudDetector(options: FraudDetectorOptions): FraudDetector {
  const { settings, store, alerts, keyCache, log } = options;
  const keep = Math.exp(-1 / (options.baselineMinutes ?? 60));
  const forgetAfter = options.forgetAfterMinutes ?? 180;
  const refuseForMs = options.refuseForMs ?? 10_000;
  const maxAccounts = options.maxAccounts ?? 100_000;
  const maxKeys = options.maxKeys ?? 100_000;
  /** In order of each key's latest minute (a key moves to the end when its minute moves on). */
  const rates = new Map<string, KeyRate>();
  /** Keys this process suspended moments ago: refused from memory until `until`. */
  const refused = new Map<string, { error: Error; until: number }>();
  const inFlight = new Set<Promise<unknown>>();
  /** Account creation times, ms. */
  const createdAt = new Map<string, number>();
  let nextSweep = 0;

  const sweep = (minute: number, nowMs: number) => {
    for (const [keyId, rate] of rates) {
      if (minute - rate.minute <= forgetAfter) break;
      rates.delete(keyId);
    }
    for (const [keyId, held] of refused) if (nowMs >= held.until) refused.delete(keyId);
    nextSweep = minute + 1;
  };

  /** Room for one more key: forgets the key idle longest, unless every key called this minute. */
  const makeRoom = (minute: number): boolean => {
    if (rates.size < maxKeys) return true;
    const oldest = rates.entries().next();
    if (oldest.done || oldest.value[1].minute >= minute) return false;
    rates.delete(oldest.value[0]);
    return true;
  };

  /** Moves a key's counts on to `minute`: the finished minute and any idle ones join the mean. */
  const advance = (rate: KeyRate, minute: number) => {
    rate.mean = rate.mean * keep + (1 - keep) * rate.count;
    rate.weight = rate.weight * keep + (1 - keep);
    const idle = minute - rate.minute - 1;
    if (idle > 0) {
      const decay = keep ** idle;
      rate.mean *= decay;
      rate.weight = rate.weight * decay + (1 - decay);
    }
    rate.minute = minute;
    rate.count = 0;
  };

  const suspend = (key: ApiKeyRecord, nowMs: number, reason: string): Promise<never> => {
    const at = new Date(nowMs).toISOString();
    const error = keySuspended({ id: key.id, suspendedAt: at, suspendReason: reason });
    refused.set(key.id, { error, until: nowMs + refuseForMs });
    rates.delete(key.id);
    const stored = (async () => {
      try {
        const suspended = await store.suspendApiKey(key.id, at, reason);
        keyCache.invalidate(key.hash);
        // Another process (or a revocation) got there first: it told the owner, if anyone had to.
        if (!suspended) return;
        options.onSuspended?.();
        log.warn(
          { key_id: key.id, account_id: key.accountId, agent_id: key.agentId, reason },
          "access key suspended: call burst",
        );
        alerts.notify({
          kind: "key_suspended",
          accountId: key.accountId,
          keyId: key.id,
          agentId: key.agentId,
          at,
          reason,
        });
      } catch (cause) {
        // This process still refuses the key for a while; the next burst tries to store it again.
        log.error({ err: cause, key_id: key.id }, "could not store an access key's suspension");
      }
    })();
    inFlight.add(stored);
    void stored.finally(() => inFlight.delete(stored));
    return stored.then(() => {
      throw error;
    });
  };

  const ageCap = (created: number, nowMs: number): number | null =>
    nowMs - created < settings.newAccountDays * 86_400_000 ? settings.newAccountDailyLimitMicros : null;

  return {
    observe(key, nowMs) {
      if (refused.size > 0) {
        const held = refused.get(key.id);
        if (held !== undefined) {
          if (nowMs < held.until) return Promise.reject(held.error);
          refused.delete(key.id);
        }
      }
      const minute = Math.floor(nowMs / MINUTE_MS);
      if (minute >= nextSweep) sweep(minute, nowMs);
      let rate = rates.get(key.id);
      if (rate === undefined) {
        if (!makeRoom(minute)) {
          return Promise.reject(
            new MercatoError(
              "SERVICE_UNAVAILABLE",
              "This broker is counting the calls of too many keys at once: retry in a minute",
            ),
          );
        }
        rate = { minute, count: 0, mean: 0, weight: 0 };
        rates.set(key.id, rate);
      } else if (minute > rate.minute) {
        advance(rate, minute);
        rates.delete(key.id);
        rates.set(key.id, rate);
      }
      const count = ++rate.count;
      if (count <= settings.burstFloorPerMinute) return undefined;
      // Rounded to a thousandth of a call: a key at exactly 30 a minute has a baseline of 30, not 29.999….
      const baseline = rate.weight > 0 ? Math.round((rate.mean / rate.weight) * 1000) / 1000 : 0;
      if (count <= settings.burstMultiplier * baseline) return undefined;
      const reason = `${count} calls within a minute, above ${settings.burstFloorPerMinute} and ${settings.burstMultiplier}× the key's usual ${baseline.toFixed(1)} calls per minute`;
      return suspend(key, nowMs, reason);
    },

    reset(keyId) {
      rates.delete(keyId);
      refused.delete(keyId);
    },

    async dailyCap(accountId, nowMs) {
      if (settings.newAccountDailyLimitMicros === null) return null;
      const known = createdAt.get(accountId);
      if (known !== undefined) return ageCap(known, nowMs);
      const account = await store.getAccount(accountId);
      // A key's account always exists; without one the ledger refuses the hold anyway.
      if (!account) return null;
      const created = Date.parse(account.createdAt);
      if (createdAt.size >= maxAccounts) {
        const oldest = createdAt.keys().next();
        if (!oldest.done) createdAt.delete(oldest.value);
      }
      createdAt.set(accountId, created);
      return ageCap(created, nowMs);
    },

    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },

    size: () => rates.size,
  };
}
