import { isMercatoError } from "@mercato/protocol";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createKeyCache } from "../../src/accounts/key-cache.js";
import type { AccountRecord, ApiKeyRecord } from "../../src/accounts/port.js";
import type { AlertEvent } from "../../src/alerts/types.js";
import type { Store } from "../../src/app/store.js";
import { createFraudDetector } from "../../src/fraud/detector.js";
import { DEFAULT_FRAUD_SETTINGS, type FraudSettings } from "../../src/platform/settings.js";
import { apiKeyRecord } from "../support/records.js";

const T0 = Date.parse("2026-03-01T12:00:00.000Z");
const MINUTE = 60_000;
const DAY = 86_400_000;

const key = (id = "key_burst0001"): ApiKeyRecord =>
  apiKeyRecord({
    id,
    accountId: "acct_buyer00001",
    kind: "access",
    prefix: "sk_live_abc",
    hash: id.padEnd(64, "0"),
    agentId: "agent_x",
    createdAt: new Date(T0).toISOString(),
  });

/** A detector on a fake store that records suspensions and account reads. */
function setUp(
  options: { settings?: Partial<FraudSettings>; suspend?: () => Promise<boolean>; created?: number } = {},
) {
  const suspensions: Array<{ id: string; at: string; reason: string }> = [];
  const events: AlertEvent[] = [];
  let accountReads = 0;
  const store = {
    async suspendApiKey(id: string, at: string, reason: string) {
      suspensions.push({ id, at, reason });
      return options.suspend ? options.suspend() : true;
    },
    async getAccount(id: string): Promise<AccountRecord | undefined> {
      accountReads++;
      return { id, name: id, email: null, createdAt: new Date(options.created ?? T0).toISOString() };
    },
  } as unknown as Store;
  const keyCache = createKeyCache();
  let suspended = 0;
  const detector = createFraudDetector({
    settings: { ...DEFAULT_FRAUD_SETTINGS, burstFloorPerMinute: 120, ...options.settings },
    store,
    alerts: { notify: (event) => void events.push(event), drain: async () => {} },
    keyCache,
    log: pino({ level: "silent" }),
    onSuspended: () => suspended++,
  });
  /**
   * Sends up to `count` calls spread over the minute starting at `startMs`; returns how many went
   * through before the first refusal (after which the store refuses the key, as authentication does).
   */
  const minute = async (startMs: number, count: number, k = key()) => {
    for (let i = 0; i < count; i++) {
      const refused = detector.observe(k, startMs + Math.floor((i * MINUTE) / count));
      if (refused !== undefined) {
        const error = await refused.catch((reason: unknown) => reason);
        expect(isMercatoError(error) && error.code).toBe("KEY_SUSPENDED");
        return i;
      }
    }
    return count;
  };
  return {
    detector,
    keyCache,
    suspensions,
    events,
    minute,
    suspended: () => suspended,
    accountReads: () => accountReads,
  };
}

describe("burst detector", () => {
  it("judges a key with no history by the floor alone", async () => {
    const { minute, suspensions } = setUp();
    expect(await minute(T0, 120)).toBe(120);
    expect(suspensions).toEqual([]);
    expect(await minute(T0 + MINUTE, 1000, key("key_other"))).toBe(120);
    expect(suspensions).toHaveLength(1);
  });

  it("suspends past 10× a baseline of an hour at 30 calls a minute, at the 301st call", async () => {
    const { minute, suspensions, events, suspended } = setUp();
    for (let m = 0; m < 60; m++) expect(await minute(T0 + m * MINUTE, 30)).toBe(30);
    expect(await minute(T0 + 60 * MINUTE, 2000)).toBe(300);
    expect(suspensions).toEqual([
      {
        id: "key_burst0001",
        at: new Date(T0 + 60 * MINUTE + Math.floor((300 * MINUTE) / 2000)).toISOString(),
        reason: "301 calls within a minute, above 120 and 10× the key's usual 30.0 calls per minute",
      },
    ]);
    expect(events).toMatchObject([{ kind: "key_suspended", keyId: "key_burst0001", agentId: "agent_x" }]);
    expect(suspended()).toBe(1);
  });

  it("uses the mean over a young key's life, not an hour's: a key seen for 5 minutes at 30 a minute may make 300", async () => {
    const { minute, suspensions } = setUp();
    for (let m = 0; m < 5; m++) await minute(T0 + m * MINUTE, 30);
    expect(await minute(T0 + 5 * MINUTE, 300)).toBe(300);
    expect(suspensions).toEqual([]);
  });

  it("lets a key ramp up gradually", async () => {
    const { minute, suspensions } = setUp();
    let rate = 20;
    for (let m = 0; m < 120; m++) {
      expect(await minute(T0 + m * MINUTE, Math.round(rate))).toBe(Math.round(rate));
      rate = Math.min(rate * 1.5, 5000);
    }
    expect(suspensions).toEqual([]);
  });

  it("lets the baseline decay through idle minutes, and forgets a key idle for three hours", async () => {
    const { detector, minute } = setUp();
    const busy = key("key_busy00001");
    const rested = key("key_rested001");
    for (let m = 0; m < 60; m++) {
      await minute(T0 + m * MINUTE, 100, busy);
      await minute(T0 + m * MINUTE, 100, rested);
    }
    // Straight after an hour at 100 a minute, 900 calls in a minute are within 10×.
    expect(await minute(T0 + 60 * MINUTE, 900, busy)).toBe(900);
    // After an idle hour as well, the mean over the key's two hours is about 27 a minute.
    const passed = await minute(T0 + 120 * MINUTE, 900, rested);
    expect(passed).toBeGreaterThan(260);
    expect(passed).toBeLessThan(280);

    const idle = key("key_idle00001");
    for (let m = 0; m < 60; m++) await minute(T0 + m * MINUTE, 100, idle);
    // Another key's call four hours later sweeps the idle ones away: they start again with no history.
    detector.observe(key("key_sweeper01"), T0 + 300 * MINUTE);
    expect(detector.size()).toBe(1);
    expect(await minute(T0 + 301 * MINUTE, 200, idle)).toBe(120);
  });

  it("refuses the calls racing the suspension's write, drops the key from the cache, and forgets it on reset", async () => {
    let release: (value: boolean) => void = () => {};
    const { detector, keyCache, minute, suspensions } = setUp({
      suspend: () => new Promise<boolean>((resolve) => (release = resolve)),
    });
    const k = key();
    expect(await minute(T0, 120)).toBe(120);
    keyCache.set(k, T0 + 59_000);
    const crossing = detector.observe(k, T0 + 59_000);
    const racing = detector.observe(k, T0 + 59_001);
    expect(crossing).toBeInstanceOf(Promise);
    expect(racing).toBeInstanceOf(Promise);
    expect(keyCache.get(k.hash, T0 + 59_001)).toBe(k);
    release(true);
    await expect(crossing).rejects.toMatchObject({ code: "KEY_SUSPENDED" });
    await expect(racing).rejects.toMatchObject({ code: "KEY_SUSPENDED" });
    expect(keyCache.get(k.hash, T0 + 59_002)).toBeUndefined();
    expect(suspensions).toHaveLength(1);

    detector.reset(k.id);
    expect(detector.observe(k, T0 + 59_003)).toBeUndefined();
  });

  it("neither alerts nor counts a key that another process suspended first, and refuses it all the same", async () => {
    const { detector, minute, events, suspended } = setUp({ suspend: async () => false });
    expect(await minute(T0, 121)).toBe(120);
    await expect(detector.observe(key(), T0 + 59_999)).rejects.toMatchObject({ code: "KEY_SUSPENDED" });
    await detector.drain();
    expect(events).toEqual([]);
    expect(suspended()).toBe(0);
  });

  it("keeps refusing a key whose suspension could not be stored, for a while", async () => {
    const { detector, minute } = setUp({
      suspend: async () => {
        throw new Error("disk full");
      },
    });
    expect(await minute(T0, 121)).toBe(120);
    await expect(detector.observe(key(), T0 + 59_999)).rejects.toMatchObject({ code: "KEY_SUSPENDED" });
    expect(detector.observe(key(), T0 + 70_001)).toBeUndefined();
  });
});

describe("new-account daily limit", () => {
  it("gives accounts younger than the new-account period the daily limit, reading each account once", async () => {
    const { detector, accountReads } = setUp({ created: T0 });
    expect(await detector.dailyCap("acct_new", T0)).toBe(100_000_000);
    expect(await detector.dailyCap("acct_new", T0 + 7 * DAY - 1)).toBe(100_000_000);
    expect(await detector.dailyCap("acct_new", T0 + 7 * DAY)).toBeNull();
    expect(accountReads()).toBe(1);
  });

  it("gives none when the limit is off", async () => {
    const { detector, accountReads } = setUp({ settings: { newAccountDailyLimitMicros: null } });
    expect(await detector.dailyCap("acct_new", T0)).toBeNull();
    expect(accountReads()).toBe(0);
  });
});
