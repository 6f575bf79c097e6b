import { MercatoError } from "@mercato/protocol";
import { describe, expect, it } from "vitest";
import { createIdempotencyCache } from "../../src/platform/idempotency.js";

/** A call that places its hold and answers `value`. */
const held =
  (value: string) =>
  async (began: () => void): Promise<string> => {
    began();
    return value;
  };

/** A call that places its hold, then runs until `finish()` is called. */
function running() {
  let finish: (value: string) => void = () => {};
  const done = new Promise<string>((resolve) => {
    finish = resolve;
  });
  return {
    run: async (began: () => void) => {
      began();
      return done;
    },
    finish: (value: string) => finish(value),
  };
}

const size = () => 100;

describe("idempotency cache bounds", () => {
  it("keeps at most maxEntries finished answers, forgetting the oldest first", async () => {
    const cache = createIdempotencyCache<string>({ maxEntries: 3, maxBytes: 1e9 });
    for (let i = 0; i < 10; i++) {
      await cache.run(`k${i}`, "f", i, held(`answer ${i}`), size).outcome;
    }
    expect(cache.size()).toBeLessThanOrEqual(3);
    // The latest answers are kept; the oldest ran anew (so the route finds the charge: CONFLICT).
    const latest = cache.run("k9", "f", 10, held("again"), size);
    expect(latest.first).toBe(false);
    expect(await latest.outcome).toEqual({ ok: true, value: "answer 9" });
    const oldest = cache.run("k0", "f", 11, held("again"), size);
    expect(oldest.first).toBe(true);
  });

  it("keeps at most maxBytes of answers", async () => {
    const cache = createIdempotencyCache<string>({ maxBytes: 1_000, maxEntries: 1e6 });
    for (let i = 0; i < 50; i++) await cache.run(`k${i}`, "f", i, held("x"), size).outcome;
    expect(cache.size()).toBeLessThanOrEqual(10);
  });

  it("never forgets a running call, however full, and refuses new keys past maxRunning with 503", async () => {
    const cache = createIdempotencyCache<string>({ maxEntries: 2, maxBytes: 1e9, maxRunning: 3 });
    const calls = [running(), running(), running()];
    const firsts = calls.map((call, i) => cache.run(`run${i}`, "f", i, call.run, size));
    expect(firsts.every((first) => first.first)).toBe(true);
    // A retry of a running call joins it, even at the cap.
    const joined = cache.run("run0", "f", 5, held("second run"), size);
    expect(joined.first).toBe(false);
    let refused: unknown;
    try {
      cache.run("run3", "f", 6, held("fourth"), size);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(MercatoError);
    expect((refused as MercatoError).code).toBe("SERVICE_UNAVAILABLE");
    expect((refused as MercatoError).status).toBe(503);
    // Once one finishes there is room again. Finished answers past maxEntries go; the running
    // calls stay, however old, and keep answering their retries.
    calls[2]?.finish("c");
    await firsts[2]?.outcome;
    for (let i = 0; i < 5; i++) await cache.run(`done${i}`, "f", 10 + i, held("d"), size).outcome;
    expect(cache.size()).toBe(2 + 2);
    expect(cache.run("run1", "f", 20, held("x"), size).first).toBe(false);
    calls[0]?.finish("first");
    expect(await joined.outcome).toEqual({ ok: true, value: "first" });
    calls[1]?.finish("b");
    await Promise.all(firsts.map((first) => first.outcome));
    expect(cache.run("run4", "f", 30, held("ok"), size).first).toBe(true);
  });
});
