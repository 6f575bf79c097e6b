import { describe, expect, it } from "vitest";
import { createReplayGuard } from "./replay-guard.js";

const T = 1_800_000_000; // unix seconds

describe("createReplayGuard", () => {
  it("refuses an id it remembers and accepts others", () => {
    const guard = createReplayGuard(300);
    expect(guard.remember("a", T, T * 1000)).toBe(true);
    expect(guard.remember("a", T, T * 1000 + 1)).toBe(false);
    expect(guard.remember("b", T, T * 1000)).toBe(true);
    expect(guard.size).toBe(2);
  });

  it("keeps an id until its timestamp + window has passed, then forgets it", () => {
    const guard = createReplayGuard(300);
    guard.remember("a", T, T * 1000);
    // Still inside the window: a replay must be refused.
    expect(guard.remember("a", T, (T + 300) * 1000)).toBe(false);
    // Past it the signature is stale anyway, so the id may go.
    expect(guard.remember("x", T + 301, (T + 301) * 1000)).toBe(true);
    expect(guard.size).toBe(1);
    expect(guard.remember("a", T + 301, (T + 301) * 1000)).toBe(true);
  });

  it("keeps a call signed ahead of the clock until its own expiry", () => {
    const guard = createReplayGuard(300);
    guard.remember("future", T + 200, T * 1000);
    guard.remember("now", T, T * 1000);
    expect(guard.remember("tick", T + 301, (T + 301) * 1000)).toBe(true);
    expect(guard.remember("future", T + 200, (T + 301) * 1000)).toBe(false);
    expect(guard.size).toBe(2);
  });

  it("stays bounded by the calls of one window under a steady stream", () => {
    const guard = createReplayGuard(10);
    let max = 0;
    // 100 calls a second for 100 s, window 10 s: about 1,100 ids live at once, never all 10,000.
    for (let i = 0; i < 10_000; i++) {
      const nowMs = T * 1000 + i * 10;
      expect(guard.remember(`call_${i}`, Math.floor(nowMs / 1000), nowMs)).toBe(true);
      max = Math.max(max, guard.size);
    }
    expect(max).toBeLessThanOrEqual(1_200);
  });

  it("refuses new calls past maxEntries within the window, never forgetting a live id", () => {
    const guard = createReplayGuard(300, 100);
    const nowMs = T * 1000;
    for (let i = 0; i < 100; i++) expect(guard.admit(`call_${i}`, T, nowMs + i)).toBe("accepted");
    // An attacker floods past the bound within the same window: every new id is refused.
    for (let i = 100; i < 1_000; i++) expect(guard.admit(`call_${i}`, T, nowMs + i)).toBe("full");
    expect(guard.size).toBe(100);
    // Replays of every id remembered are still refused as replays: none was pushed out.
    for (let i = 0; i < 100; i++) expect(guard.admit(`call_${i}`, T, (T + 299) * 1000)).toBe("replayed");
    expect(guard.remember("call_500", T, (T + 299) * 1000)).toBe(false);
    // Once their signatures are stale the ids go, and new calls are accepted again.
    expect(guard.admit("fresh", T + 301, (T + 301) * 1000)).toBe("accepted");
    expect(guard.size).toBe(1);
  });
});
