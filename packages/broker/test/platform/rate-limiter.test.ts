import { describe, expect, it } from "vitest";
import { createMemoryRateLimiter } from "../../src/platform/rate-limiter.js";

describe("memory rate limiter bounds", () => {
  it("never forgets a key whose allowance is spent: a full class refuses new ids instead", async () => {
    const limiter = createMemoryRateLimiter({ maxKeysPerClass: 100 });
    const t0 = 1_000_000;
    // The attacker's key spends its allowance of 2 calls a minute.
    expect((await limiter.consume("key_victim", 2, t0)).allowed).toBe(true);
    expect((await limiter.consume("key_victim", 2, t0)).allowed).toBe(true);
    expect((await limiter.consume("key_victim", 2, t0)).allowed).toBe(false);
    // Then floods the limiter with ids of its own, far past the cap, within the window.
    let refused = 0;
    for (let i = 0; i < 1_000; i++) {
      const decision = await limiter.consume(`key_flood${i}`, 2, t0 + i);
      if (!decision.allowed) {
        refused++;
        expect(decision.retryAfterMs).toBeGreaterThan(0);
      }
    }
    expect(limiter.size()).toBeLessThanOrEqual(100);
    expect(refused).toBe(1_000 - 99);
    // The spent key is still limited: flooding did not give its allowance back.
    expect((await limiter.consume("key_victim", 2, t0 + 1_000)).allowed).toBe(false);
    // Once allowances are whole again (a minute on), ids are forgotten and new ones pass.
    const later = t0 + 61_000;
    expect((await limiter.consume("key_new", 2, later)).allowed).toBe(true);
    expect(limiter.size()).toBe(1);
  });

  it("keeps each class apart: sign-ups from many addresses do not crowd out access keys", async () => {
    const limiter = createMemoryRateLimiter({ maxKeysPerClass: 10 });
    const t0 = 5_000_000;
    for (let i = 0; i < 50; i++) await limiter.consume(`signup:10.0.0.${i}`, 5, t0, 3_600_000);
    expect((await limiter.consume("signup:10.0.1.1", 5, t0, 3_600_000)).allowed).toBe(false);
    expect((await limiter.consume("key_a", 600, t0)).allowed).toBe(true);
    expect(limiter.size()).toBe(11);
  });

  it("refuses at most until the first allowance is whole, and sweeps a full class only then", async () => {
    const limiter = createMemoryRateLimiter({ maxKeysPerClass: 3 });
    const t0 = 9_000_000;
    // Limits of 60 a minute: each id's allowance is whole 1 s after its call.
    for (let i = 0; i < 3; i++) await limiter.consume(`key_${i}`, 60, t0 + i * 100);
    const full = await limiter.consume("key_3", 60, t0 + 300);
    expect(full.allowed).toBe(false);
    expect(full.retryAfterMs).toBe(700);
    expect((await limiter.consume("key_3", 60, t0 + 1_000)).allowed).toBe(true);
  });
});
