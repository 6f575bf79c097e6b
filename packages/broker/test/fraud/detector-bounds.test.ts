import { isMercatoError } from "@mercato/protocol";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createKeyCache } from "../../src/accounts/key-cache.js";
import type { ApiKeyRecord } from "../../src/accounts/port.js";
import type { Store } from "../../src/app/store.js";
import { createFraudDetector } from "../../src/fraud/detector.js";
import { DEFAULT_FRAUD_SETTINGS } from "../../src/platform/settings.js";
import { apiKeyRecord } from "../support/records.js";

const T0 = Date.parse("2026-03-01T12:00:00.000Z");
const MINUTE = 60_000;

const key = (id: string): ApiKeyRecord =>
  apiKeyRecord({
    id,
    accountId: "acct_buyer00001",
    kind: "access",
    prefix: "sk_live_abc",
    hash: id.padEnd(64, "0"),
    agentId: "agent_x",
    createdAt: new Date(T0).toISOString(),
  });

/** A detector counting at most `maxKeys` keys, with a floor of 120 calls a minute. */
function detectorOf(maxKeys: number) {
  const store = {
    suspendApiKey: async () => true,
    getAccount: async () => undefined,
  } as unknown as Store;
  return createFraudDetector({
    settings: { ...DEFAULT_FRAUD_SETTINGS, burstFloorPerMinute: 120 },
    store,
    alerts: { notify: () => {}, drain: async () => {} },
    keyCache: createKeyCache(),
    log: pino({ level: "silent" }),
    maxKeys,
  });
}

/** The code a refused observation rejects with, or undefined when the call may go on. */
async function refusal(observed: Promise<never> | undefined): Promise<string | undefined> {
  if (observed === undefined) return undefined;
  try {
    await observed;
  } catch (error) {
    if (isMercatoError(error)) return error.code;
    throw error;
  }
  return undefined;
}

describe("fraud detector bounds", () => {
  it("does not let a flood of new keys reset a bursting key's count: new keys are refused instead", async () => {
    const fraud = detectorOf(10);
    const victim = key("key_burster01");
    for (let i = 0; i < 100; i++) expect(await refusal(fraud.observe(victim, T0 + i))).toBeUndefined();
    const codes = new Map<string | undefined, number>();
    for (let i = 0; i < 1_000; i++) {
      const code = await refusal(fraud.observe(key(`key_flood${i}`), T0 + 200 + i));
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect(codes.get(undefined)).toBe(9);
    expect(codes.get("SERVICE_UNAVAILABLE")).toBe(991);
    expect(fraud.size()).toBe(10);
    // The burster's 100 calls are still counted: the 121st of the minute suspends it.
    for (let i = 0; i < 20; i++) expect(await refusal(fraud.observe(victim, T0 + 2_000 + i))).toBeUndefined();
    expect(await refusal(fraud.observe(victim, T0 + 3_000))).toBe("KEY_SUSPENDED");
    await fraud.drain();
  });

  it("forgets the key idle longest when full, which only lowers that key's limit", async () => {
    const fraud = detectorOf(3);
    const busy = key("key_busy0001");
    // 100 calls a minute for an hour: a baseline of 100, so a limit of 1,000 a minute.
    for (let m = 0; m < 60; m++) {
      for (let i = 0; i < 100; i++)
        expect(await refusal(fraud.observe(busy, T0 + m * MINUTE + i))).toBeUndefined();
    }
    // A minute later three other keys call: the busy key, idle longest, is forgotten.
    const later = T0 + 61 * MINUTE;
    for (const id of ["key_a", "key_b", "key_c"])
      expect(await refusal(fraud.observe(key(id), later))).toBeUndefined();
    expect(fraud.size()).toBe(3);
    // It comes back with no history: judged by the floor alone (120), not its old 1,000.
    const back = later + MINUTE;
    let code: string | undefined;
    let calls = 0;
    while (code === undefined && calls < 1_000) code = await refusal(fraud.observe(busy, back + calls++));
    // Room was made by forgetting another idle key (all three are from the minute before).
    expect(code).toBe("KEY_SUSPENDED");
    expect(calls).toBe(121);
    await fraud.drain();
  });

  it("keeps a key that called this minute however many others come after", async () => {
    const fraud = detectorOf(2);
    expect(await refusal(fraud.observe(key("key_a"), T0))).toBeUndefined();
    expect(await refusal(fraud.observe(key("key_b"), T0))).toBeUndefined();
    expect(await refusal(fraud.observe(key("key_c"), T0 + 1))).toBe("SERVICE_UNAVAILABLE");
    // Next minute key_a calls again (moving to the end); key_b, idle longest, makes room for key_c.
    expect(await refusal(fraud.observe(key("key_a"), T0 + MINUTE))).toBeUndefined();
    expect(await refusal(fraud.observe(key("key_c"), T0 + MINUTE + 1))).toBeUndefined();
    expect(await refusal(fraud.observe(key("key_d"), T0 + MINUTE + 2))).toBe("SERVICE_UNAVAILABLE");
    expect(fraud.size()).toBe(2);
  });
});
