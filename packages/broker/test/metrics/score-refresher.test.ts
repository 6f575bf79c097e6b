import { EMPTY_COUNTERS, scoreAgent } from "@mercato/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createSqliteStore } from "../../src/app/sqlite-store.js";
import type { Store } from "../../src/app/store.js";
import { createScoreRefresher, type ScoreRefresher } from "../../src/metrics/score-refresher.js";
import { createManualClock } from "../../src/platform/clock.js";
import { establishedBuyers, spreadOverBuyers } from "../support/buyers.js";
import { apiKeyRecord } from "../support/records.js";

const DAY = 24 * 60 * 60 * 1000;
const T0 = "2026-03-01T12:00:00.000Z";

let store: Store;
let refresher: ScoreRefresher | undefined;
const clock = createManualClock(new Date(T0));
const log = { debug: vi.fn(), error: vi.fn() };

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  clock.set(new Date(T0));
  store = createSqliteStore({ path: ":memory:" });
  for (const fn of Object.values(log)) fn.mockClear();
});

afterEach(async () => {
  await refresher?.stop();
  refresher = undefined;
  vi.useRealTimers();
  await store.close();
});

/** An agent whose 100 calls, 28 days before T0, all failed. */
async function failingAgent(): Promise<string> {
  await store.createAccount(
    { id: "acct_refresher1", name: "Seller", email: null, createdAt: T0 },
    apiKeyRecord({ id: "key_refresher1", accountId: "acct_refresher1", hash: "c".repeat(64), createdAt: T0 }),
  );
  const agent = await store.insertAgent({
    id: "agent_refresher1",
    ownerId: "acct_refresher1",
    name: "Flaky",
    description: "",
    category: "crypto",
    tags: [],
    version: "1.0.0",
    apiEndpoint: "https://flaky.example.com",
    status: "active",
    pricing: { model: "per_call", priceMicros: 20_000, currency: "USD", tier: "basic", minCalls: 1 },
    createdAt: T0,
  });
  await store.recordCallOutcomes(
    spreadOverBuyers(
      await establishedBuyers(store, 60),
      Array.from({ length: 100 }, () => ({ agentId: agent.id, success: false, responseTimeMs: 100 })),
    ),
    new Date(Date.parse(T0) - 28 * DAY).toISOString(),
  );
  return agent.id;
}

/** Lets a refresh started by a fake timer finish. */
async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("score refresher", () => {
  it("refreshes every interval, so figures that left the 30-day window stop counting", async () => {
    const agentId = await failingAgent();
    const failing = (await store.getAgent(agentId))?.scores;
    expect(failing?.successRate).toBeCloseTo(19 / 120, 12);
    refresher = createScoreRefresher({ store, clock, log, intervalMs: 60_000 });
    refresher.start();
    clock.advance(DAY);
    await vi.advanceTimersByTimeAsync(60_000);
    await settle();
    // Still inside 30 days.
    expect((await store.getAgent(agentId))?.scores).toEqual(failing);
    clock.advance(2 * DAY);
    await vi.advanceTimersByTimeAsync(60_000);
    await settle();
    const fresh = await store.getAgent(agentId);
    expect(fresh?.scores).toEqual(scoreAgent(20_000, EMPTY_COUNTERS));
    expect(fresh?.metricsUpdatedAt).toBe(clock.now().toISOString());
    expect(log.debug).toHaveBeenCalledWith({ changed: 1 }, "refreshed agents' scores");
  });

  it("refreshes on demand and reports how many agents changed", async () => {
    await failingAgent();
    refresher = createScoreRefresher({ store, clock, log });
    expect(await refresher.refresh()).toBe(0);
    clock.advance(3 * DAY);
    expect(await refresher.refresh()).toBe(1);
    expect(await refresher.refresh()).toBe(0);
  });

  it("logs a failed refresh and goes on; never overlaps itself; stops for good", async () => {
    let calls = 0;
    let release: () => void = () => {};
    const slow = {
      refreshScores: vi.fn(async () => {
        calls++;
        if (calls === 1) throw new Error("database is locked");
        if (calls === 2) await new Promise<void>((resolve) => (release = resolve));
        return 0;
      }),
    } as unknown as Store;
    refresher = createScoreRefresher({ store: slow, clock, log, intervalMs: 1_000 });
    refresher.start();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(log.error).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBe(2);
    // The second refresh hangs: no third one starts meanwhile.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toBe(2);
    release();
    await settle();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBe(3);
    await refresher.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toBe(3);
  });
});
