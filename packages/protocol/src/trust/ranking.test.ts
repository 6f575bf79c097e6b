import { describe, expect, it } from "vitest";
import { categoryPrior, RANKING, rankingCostPerSuccess, successLowerBound } from "./ranking.js";

describe("the conservative ranking", () => {
  it("a listing with no calls at $0.015 does not outrank 500 calls at 98% and $0.020; 500 at 99% and $0.015 does", () => {
    const unproven = rankingCostPerSuccess(15_000, 0, 0, 0.95);
    const proven = rankingCostPerSuccess(20_000, 490, 500, 0.95);
    const provenCheaper = rankingCostPerSuccess(15_000, 495, 500, 0.95);
    expect(proven).toBeLessThan(unproven);
    expect(provenCheaper).toBeLessThan(proven);
  });

  it("holds whatever the category's prior", () => {
    for (const prior of [0, 0.5, 0.9, 0.99, 1]) {
      expect(rankingCostPerSuccess(20_000, 490, 500, prior)).toBeLessThan(
        rankingCostPerSuccess(15_000, 0, 0, prior),
      );
    }
  });

  it("is below the observed rate, rises with evidence, and stays in (0, 1]", () => {
    expect(successLowerBound(0, 0, 0.95)).toBeCloseTo(0.497, 3);
    expect(successLowerBound(490, 500, 0.95)).toBeCloseTo(0.9701, 3);
    let previous = 0;
    for (const calls of [1, 10, 100, 1_000, 10_000]) {
      const bound = successLowerBound(calls, calls, 0.95);
      expect(bound).toBeGreaterThan(previous);
      expect(bound).toBeLessThanOrEqual(1);
      previous = bound;
    }
    expect(successLowerBound(0, 1_000, 0)).toBeGreaterThan(0);
    expect(successLowerBound(960, 1_000, 0.95)).toBeLessThan(0.96);
  });

  it("a failing record sinks below an empty one, and the prior only places the empty", () => {
    expect(successLowerBound(5, 50, 0.95)).toBeLessThan(successLowerBound(0, 0, 0.95));
    expect(successLowerBound(0, 0, 0.5)).toBeLessThan(successLowerBound(0, 0, 0.95));
    const gap = successLowerBound(500, 500, 0.95) - successLowerBound(500, 500, 0.5);
    expect(gap).toBeLessThan(0.005); // under half a point once there are 500 calls
  });
});

describe("categoryPrior", () => {
  const established = (rate: number) => ({ calls: 100, successes: 100 * rate });

  it("is the median of the established listings' rates", () => {
    expect(categoryPrior([established(0.9), established(0.7), established(0.99)])).toBe(0.9);
    expect(
      categoryPrior([established(0.9), established(0.7), established(0.99), established(0.8)]),
    ).toBeCloseTo(0.85);
  });

  it("falls back to 95% with too few established listings; listings with little evidence do not count", () => {
    expect(categoryPrior([])).toBe(RANKING.fallbackPrior);
    expect(categoryPrior([established(0.5), established(0.5)])).toBe(RANKING.fallbackPrior);
    expect(
      categoryPrior([established(0.9), established(0.8), established(0.7), { calls: 49, successes: 0 }]),
    ).toBe(0.8);
  });

  it("a minority of junk listings cannot drag the prior down", () => {
    const honest = [
      established(0.97),
      established(0.96),
      established(0.98),
      established(0.95),
      established(0.99),
    ];
    const junk = [established(0), established(0), established(0), established(0)];
    expect(categoryPrior([...honest, ...junk])).toBe(0.95);
  });
});
