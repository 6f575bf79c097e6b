import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RANKING, successLowerBound } from "./ranking.js";
import {
  type AgentCounters,
  BUYER_CAP,
  BUYER_WEIGHT,
  type BuyerWindow,
  cappedBuyerWeights,
  EMPTY_COUNTERS,
  roundTo,
  SCORE_WINDOWS,
  scoreAgent,
  scoreFromWindows,
  smoothedRate,
  TRUST_PRIOR,
  trustScore,
  withCategoryPrior,
} from "./trust.js";

const PRICE_MICROS = 20_000; // 0.02 USD

/** Counters of an agent whose every call took `msPerCall` and whose every health check passed. */
function counters(calls: number, successes: number, msPerCall = 200, healthChecks = 0): AgentCounters {
  return {
    calls,
    successes,
    totalResponseTimeMs: calls * msPerCall,
    healthChecks,
    healthyChecks: healthChecks,
  };
}

/** Valid counters: non-negative, successes ≤ calls, healthy ≤ checks, finite response times. */
const validCounters: fc.Arbitrary<AgentCounters> = fc
  .record({
    calls: fc.nat({ max: 1_000_000_000 }),
    successShare: fc.double({ min: 0, max: 1, noNaN: true }),
    msPerCall: fc.double({ min: 0, max: 120_000, noNaN: true }),
    healthChecks: fc.nat({ max: 1_000_000 }),
    healthyShare: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ calls, successShare, msPerCall, healthChecks, healthyShare }) => ({
    calls,
    successes: Math.floor(calls * successShare),
    totalResponseTimeMs: calls * msPerCall,
    healthChecks,
    healthyChecks: Math.floor(healthChecks * healthyShare),
  }));

describe("TRUST_PRIOR", () => {
  it("is the documented prior: 20 observations of 95% success, 500 ms and 95% uptime", () => {
    expect(TRUST_PRIOR).toEqual({ weight: 20, successRate: 0.95, responseTimeMs: 500, uptime: 0.95 });
  });

  it("EMPTY_COUNTERS are all zero and frozen", () => {
    expect(EMPTY_COUNTERS).toEqual({
      calls: 0,
      successes: 0,
      totalResponseTimeMs: 0,
      healthChecks: 0,
      healthyChecks: 0,
    });
    expect(Object.isFrozen(EMPTY_COUNTERS)).toBe(true);
  });
});

describe("smoothedRate", () => {
  it("is (hits + prior × 20) / (total + 20)", () => {
    expect(smoothedRate(0, 0, 0.95)).toBeCloseTo(0.95, 12);
    expect(smoothedRate(1, 1, 0.95)).toBeCloseTo(20 / 21, 12);
    expect(smoothedRate(0, 1, 0.95)).toBeCloseTo(19 / 21, 12);
    expect(smoothedRate(9_980, 10_000, 0.95)).toBeCloseTo(9_999 / 10_020, 12);
    expect(smoothedRate(50, 100, 0.5)).toBeCloseTo(0.5, 12);
  });

  it("matches the documented figures: 1 of 1 → 95.2%, 9,980 of 10,000 → 99.79%", () => {
    expect(roundTo(smoothedRate(1, 1, TRUST_PRIOR.successRate), 3)).toBe(0.952);
    expect(roundTo(smoothedRate(9_980, 10_000, TRUST_PRIOR.successRate), 4)).toBe(0.9979);
  });

  it("property: stays in [0, 1] and between the prior and the raw rate", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1_000_000_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (total, share, prior) => {
          const hits = Math.floor(total * share);
          const rate = smoothedRate(hits, total, prior);
          expect(rate).toBeGreaterThanOrEqual(0);
          expect(rate).toBeLessThanOrEqual(1);
          const raw = total === 0 ? prior : hits / total;
          const epsilon = 1e-12;
          expect(rate).toBeGreaterThanOrEqual(Math.min(prior, raw) - epsilon);
          expect(rate).toBeLessThanOrEqual(Math.max(prior, raw) + epsilon);
        },
      ),
    );
  });

  it("lets the prior's weight fade as a perfect record grows", () => {
    let previous = smoothedRate(0, 0, TRUST_PRIOR.successRate);
    for (const calls of [1, 10, 100, 1_000, 10_000, 1_000_000]) {
      const rate = smoothedRate(calls, calls, TRUST_PRIOR.successRate);
      expect(rate).toBeGreaterThan(previous);
      previous = rate;
    }
    expect(previous).toBeGreaterThan(0.99999);
    expect(previous).toBeLessThan(1);
  });
});

describe("trustScore", () => {
  it("is success_rate × 0.5 + clamp(1 − ms/1000, 0, 1) × 0.2 + uptime × 0.3", () => {
    expect(trustScore(0.95, 500, 0.95)).toBeCloseTo(0.86, 12);
    expect(trustScore(0.8, 250, 0.6)).toBeCloseTo(0.4 + 0.15 + 0.18, 12);
    expect(trustScore(0, 1000, 0)).toBe(0);
    expect(trustScore(1, 1000, 1)).toBeCloseTo(0.8, 12);
  });

  it.each<[string, number, number, number, number]>([
    ["perfect at 0 ms", 1, 0, 1, 1],
    ["the prior's rates at 0 ms", 0.95, 0, 0.95, 0.96],
    ["the prior's rates at 10,000 ms", 0.95, 10_000, 0.95, 0.76],
    ["worst at 10,000 ms", 0, 10_000, 0, 0],
    ["perfect at 10,000 ms", 1, 10_000, 1, 0.8],
    ["a negative time (clock skew)", 1, -500, 1, 1],
    ["an infinite time", 1, Number.POSITIVE_INFINITY, 1, 0.8],
    ["rates above 1", 5, 0, 5, 1],
    ["rates below 0", -5, 10_000, -5, 0],
  ])("clamps %s to [0, 1]", (_label, successRate, ms, uptime, expected) => {
    const score = trustScore(successRate, ms, uptime);
    expect(score).toBeCloseTo(expected, 12);
    expect(score).toBeGreaterThanOrEqual(0);
    expect(score).toBeLessThanOrEqual(1);
  });

  it("property: within [0, 1] for any rates in [0, 1] and any non-negative time", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (successRate, ms, uptime) => {
          const score = trustScore(successRate, ms, uptime);
          expect(score).toBeGreaterThanOrEqual(0);
          expect(score).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("property: within [0, 1] for any finite inputs at all", () => {
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(finite, finite, finite, (successRate, ms, uptime) => {
        const score = trustScore(successRate, ms, uptime);
        expect(score).toBeGreaterThanOrEqual(0);
        expect(score).toBeLessThanOrEqual(1);
      }),
    );
  });

  it("property: faster never scores lower, other things equal", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 5_000, noNaN: true }),
        fc.double({ min: 0, max: 5_000, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (successRate, a, b, uptime) => {
          const [fast, slow] = a <= b ? [a, b] : [b, a];
          expect(trustScore(successRate, fast, uptime)).toBeGreaterThanOrEqual(
            trustScore(successRate, slow, uptime),
          );
        },
      ),
    );
  });
});

describe("scoreAgent", () => {
  it("scores a new agent at the prior", () => {
    const scores = scoreAgent(PRICE_MICROS, EMPTY_COUNTERS);
    expect(scores.successRate).toBeCloseTo(0.95, 12);
    expect(scores.avgResponseTimeMs).toBeCloseTo(500, 9);
    expect(scores.uptime).toBeCloseTo(0.95, 12);
    expect(scores.trustScore).toBeCloseTo(0.86, 12);
    // Cost per success divides by the lower bound on the fallback prior, not by the prior itself.
    expect(scores.categoryPrior).toBe(RANKING.fallbackPrior);
    expect(scores.successLowerBound).toBe(successLowerBound(0, 0, RANKING.fallbackPrior));
    expect(scores.costPerSuccessMicros).toBe(PRICE_MICROS / scores.successLowerBound);
    // Nothing measured: the measured figures say so.
    expect(scores.measured).toEqual({ successRate: null, avgResponseTimeMs: null, uptime: null });
  });

  it("measures raw figures beside the smoothed ones", () => {
    const scores = scoreAgent(PRICE_MICROS, counters(80, 40, 250, 10));
    expect(scores.measured.successRate).toBe(0.5);
    expect(scores.measured.avgResponseTimeMs).toBe(250);
    expect(scores.measured.uptime).toBe(1);
    expect(scores.successRate).toBeCloseTo(0.59, 12);
  });

  it("smooths the mean response time towards 500 ms", () => {
    expect(scoreAgent(PRICE_MICROS, counters(20, 20, 100)).avgResponseTimeMs).toBeCloseTo(300, 9);
    expect(scoreAgent(PRICE_MICROS, counters(1, 1, 0)).avgResponseTimeMs).toBeCloseTo(10_000 / 21, 9);
  });

  it("smooths uptime from the health checks", () => {
    const scores = scoreAgent(PRICE_MICROS, {
      ...EMPTY_COUNTERS,
      healthChecks: 20,
      healthyChecks: 10,
    });
    expect(scores.uptime).toBeCloseTo((10 + 19) / 40, 12);
    expect(scores.successRate).toBeCloseTo(0.95, 12);
  });

  describe("one lucky call cannot outrank a long record (equal price, speed and health)", () => {
    const lucky = scoreAgent(PRICE_MICROS, counters(1, 1));
    const veteran = scoreAgent(PRICE_MICROS, counters(10_000, 9_980));

    it("ranks below on smoothed success rate", () => {
      expect(lucky.successRate).toBeCloseTo(20 / 21, 12);
      expect(veteran.successRate).toBeCloseTo(9_999 / 10_020, 12);
      expect(lucky.successRate).toBeLessThan(veteran.successRate);
    });

    it("ranks below on trust score", () => {
      expect(lucky.trustScore).toBeLessThan(veteran.trustScore);
    });

    it("ranks below on cost per success (a higher cost ranks lower)", () => {
      expect(lucky.costPerSuccessMicros).toBeGreaterThan(veteran.costPerSuccessMicros);
    });

    it("still ranks below with the same health record on both", () => {
      const luckyChecked = scoreAgent(PRICE_MICROS, counters(1, 1, 200, 1_000));
      const veteranChecked = scoreAgent(PRICE_MICROS, counters(10_000, 9_980, 200, 1_000));
      expect(luckyChecked.trustScore).toBeLessThan(veteranChecked.trustScore);
      expect(luckyChecked.costPerSuccessMicros).toBeGreaterThan(veteranChecked.costPerSuccessMicros);
    });

    it("and a new agent ranks below the long record too", () => {
      const fresh = scoreAgent(PRICE_MICROS, EMPTY_COUNTERS);
      expect(fresh.successRate).toBeLessThan(veteran.successRate);
      expect(fresh.costPerSuccessMicros).toBeGreaterThan(veteran.costPerSuccessMicros);
    });
  });

  it("one failed call lowers a new agent's rate below the prior, one success raises it", () => {
    const fresh = scoreAgent(PRICE_MICROS, EMPTY_COUNTERS).successRate;
    expect(scoreAgent(PRICE_MICROS, counters(1, 0)).successRate).toBeLessThan(fresh);
    expect(scoreAgent(PRICE_MICROS, counters(1, 1)).successRate).toBeGreaterThan(fresh);
  });

  it("costPerSuccessMicros is price / the lower bound on the category prior", () => {
    const scores = scoreAgent(1_000_000, counters(80, 40), 0.9);
    // (40 + 19) / 100 = 0.59: the smoothed rate stays the trust score's input.
    expect(scores.successRate).toBeCloseTo(0.59, 12);
    expect(scores.successLowerBound).toBe(successLowerBound(40, 80, 0.9));
    expect(scores.costPerSuccessMicros).toBe(1_000_000 / successLowerBound(40, 80, 0.9));
    expect(scores.categoryPrior).toBe(0.9);
    expect(scoreAgent(0, counters(80, 40)).costPerSuccessMicros).toBe(0);
  });

  it("property: for any valid counters the figures are in range and consistent", () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000_000 }), validCounters, (price, c) => {
        const scores = scoreAgent(price, c);
        expect(scores.trustScore).toBeGreaterThanOrEqual(0);
        expect(scores.trustScore).toBeLessThanOrEqual(1);
        expect(scores.successRate).toBeGreaterThanOrEqual(0);
        expect(scores.successRate).toBeLessThanOrEqual(1);
        expect(scores.uptime).toBeGreaterThanOrEqual(0);
        expect(scores.uptime).toBeLessThanOrEqual(1);
        expect(scores.avgResponseTimeMs).toBeGreaterThanOrEqual(0);
        expect(scores.trustScore).toBe(
          trustScore(scores.successRate, scores.avgResponseTimeMs, scores.uptime),
        );
        expect(scores.successRate).toBe(smoothedRate(c.successes, c.calls, TRUST_PRIOR.successRate));
        expect(scores.costPerSuccessMicros).toBe(price / scores.successLowerBound);
        expect(scores.successLowerBound).toBeLessThanOrEqual(1);
        expect(Number.isFinite(scores.costPerSuccessMicros)).toBe(true);
        expect(scores.costPerSuccessMicros).toBeGreaterThanOrEqual(price);
      }),
      { numRuns: 1000 },
    );
  });

  it("property: at equal price, more successes for the same calls never rank lower", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1_000_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (calls, a, b) => {
          const [low, high] = [Math.floor(calls * Math.min(a, b)), Math.floor(calls * Math.max(a, b))];
          const worse = scoreAgent(PRICE_MICROS, counters(calls, low));
          const better = scoreAgent(PRICE_MICROS, counters(calls, high));
          expect(better.successRate).toBeGreaterThanOrEqual(worse.successRate);
          expect(better.trustScore).toBeGreaterThanOrEqual(worse.trustScore);
          expect(better.costPerSuccessMicros).toBeLessThanOrEqual(worse.costPerSuccessMicros);
        },
      ),
    );
  });
});

describe("scoreFromWindows", () => {
  const NO_CHECKS = { healthChecks: 0, healthyChecks: 0 };

  it("measures calls over 30 days and uptime over 24 hours", () => {
    expect(SCORE_WINDOWS).toEqual({ calls: "30d", uptime: "24h" });
  });

  it("is scoreAgent on the 30-day calls and the 24-hour health checks", () => {
    const calls = { calls: 80, successes: 40, totalResponseTimeMs: 80 * 250 };
    const checks = { healthChecks: 100, healthyChecks: 90 };
    const scores = scoreFromWindows(1_000_000, calls, checks);
    expect(scores).toEqual(scoreAgent(1_000_000, { ...calls, ...checks }));
    // (40 + 19) / 100, (20,000 + 10,000) / 100, (90 + 19) / 120
    expect(scores.successRate).toBeCloseTo(0.59, 12);
    expect(scores.avgResponseTimeMs).toBeCloseTo(300, 9);
    expect(scores.uptime).toBeCloseTo(109 / 120, 12);
    expect(scores.trustScore).toBeCloseTo(0.59 * 0.5 + 0.7 * 0.2 + (109 / 120) * 0.3, 12);
    expect(scores.costPerSuccessMicros).toBe(1_000_000 / successLowerBound(40, 80, RANKING.fallbackPrior));
  });

  it("ranks on the capped calls and the category prior when given them", () => {
    const calls = { calls: 80, successes: 40, totalResponseTimeMs: 80 * 250 };
    const ranked = { calls: 20, successes: 19.5 };
    const scores = scoreFromWindows(1_000_000, calls, NO_CHECKS, ranked, 0.8);
    expect(scores.successLowerBound).toBe(successLowerBound(19.5, 20, 0.8));
    expect(scores.costPerSuccessMicros).toBe(1_000_000 / scores.successLowerBound);
    expect([scores.rankedCalls, scores.rankedSuccesses, scores.categoryPrior]).toEqual([20, 19.5, 0.8]);
    // The measured figures stay the raw calls'.
    expect(scores.measured.successRate).toBe(0.5);
    expect(withCategoryPrior(1_000_000, scores, 0.95)).toEqual(
      scoreFromWindows(1_000_000, calls, NO_CHECKS, ranked, 0.95),
    );
  });

  it("scores empty windows at the prior", () => {
    expect(
      scoreFromWindows(PRICE_MICROS, { calls: 0, successes: 0, totalResponseTimeMs: 0 }, NO_CHECKS),
    ).toEqual(scoreAgent(PRICE_MICROS, EMPTY_COUNTERS));
  });

  it("ranks a 1-of-1 newcomer below a 9,980-of-10,000 veteran", () => {
    const lucky = scoreFromWindows(
      PRICE_MICROS,
      { calls: 1, successes: 1, totalResponseTimeMs: 200 },
      NO_CHECKS,
    );
    const veteran = scoreFromWindows(
      PRICE_MICROS,
      { calls: 10_000, successes: 9_980, totalResponseTimeMs: 2_000_000 },
      NO_CHECKS,
    );
    expect(lucky.trustScore).toBeLessThan(veteran.trustScore);
    expect(lucky.costPerSuccessMicros).toBeGreaterThan(veteran.costPerSuccessMicros);
  });
});

describe("roundTo", () => {
  it.each<[number, number, number]>([
    [20 / 21, 4, 0.9524],
    [9_999 / 10_020, 4, 0.9979],
    [476.190476, 1, 476.2],
    [21_052.631_578, 6, 21_052.631_578],
    [0.1234565, 0, 0],
    [2.5, 0, 3],
  ])("rounds %d to %i digits as %d", (value, digits, expected) => {
    expect(roundTo(value, digits)).toBe(expected);
  });
});

describe("cappedBuyerWeights: no single buyer moves the ranked success rate much", () => {
  const C = BUYER_CAP.minUnits;
  /** A buyer's window: `calls` calls, each a whole call or a quarter one, `rate` of them successful. */
  const buyer = fc
    .record({
      calls: fc.integer({ min: 1, max: 400 }),
      established: fc.boolean(),
      rate: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ calls, established, rate }): BuyerWindow => {
      const per = established ? BUYER_WEIGHT.establishedUnits : BUYER_WEIGHT.provisionalUnits;
      return { calls, units: calls * per, successUnits: Math.round(calls * rate) * per };
    });
  const ranked = (buyers: readonly BuyerWindow[]) =>
    cappedBuyerWeights(
      buyers.reduce((sum, b) => sum + b.units, 0),
      buyers.reduce((sum, b) => sum + b.successUnits, 0),
      buyers,
    );
  const rate = (r: { calls: number; successes: number }) =>
    smoothedRate(r.successes, r.calls, TRUST_PRIOR.successRate);
  /** Units of everyone's weight but the last buyer's, capped as ranking caps them: a lower bound. */
  const othersFloor = (others: readonly BuyerWindow[]) =>
    others.reduce((sum, b) => sum + Math.min(b.units, (C * b.units) / (4 * b.calls)), 0);

  it("weighs every buyer in full while none is past the level", () => {
    const honest = Array.from({ length: 60 }, () => ({ calls: 10, units: 40, successUnits: 36 }));
    expect(ranked(honest)).toEqual({ calls: 600, successes: 540 });
    expect(ranked([{ calls: 10, units: 40, successUnits: 40 }])).toEqual({ calls: 10, successes: 10 });
    expect(ranked([])).toEqual({ calls: 0, successes: 0 });
  });

  it("reads only the top buyers: the rest are never capped", () => {
    fc.assert(
      fc.property(fc.array(buyer, { minLength: 0, maxLength: 320 }), (buyers) => {
        const all = ranked(buyers);
        const top = [...buyers].sort((a, b) => b.calls - a.calls).slice(0, BUYER_CAP.topBuyers);
        const fromTop = cappedBuyerWeights(
          buyers.reduce((sum, b) => sum + b.units, 0),
          buyers.reduce((sum, b) => sum + b.successUnits, 0),
          top,
        );
        expect(fromTop.calls).toBeCloseTo(all.calls, 6);
        expect(fromTop.successes).toBeCloseTo(all.successes, 6);
      }),
      { numRuns: 200 },
    );
  });

  it("keeps the capped total between the level's floor and the raw total, successes within it", () => {
    fc.assert(
      fc.property(fc.array(buyer, { minLength: 1, maxLength: 120 }), (buyers) => {
        const r = ranked(buyers);
        const raw = buyers.reduce((sum, b) => sum + b.units, 0) / 4;
        expect(r.calls).toBeLessThanOrEqual(raw + 1e-9);
        expect(r.calls * 4).toBeGreaterThanOrEqual(othersFloor(buyers) - 1e-6);
        expect(r.successes).toBeGreaterThanOrEqual(0);
        expect(r.successes).toBeLessThanOrEqual(r.calls + 1e-9);
      }),
      { numRuns: 300 },
    );
  });

  it("lets one buyer's outcomes move the rate by at most 2 points once the others weigh 49 levels", () => {
    fc.assert(
      fc.property(
        fc.array(buyer, { minLength: 80, maxLength: 200 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.boolean(),
        (others, calls, established) => {
          fc.pre(othersFloor(others) >= 49 * C);
          const per = established ? BUYER_WEIGHT.establishedUnits : BUYER_WEIGHT.provisionalUnits;
          const succeeding = ranked([...others, { calls, units: calls * per, successUnits: calls * per }]);
          const failing = ranked([...others, { calls, units: calls * per, successUnits: 0 }]);
          // The weights depend on volumes only: both windows weigh the same.
          expect(failing.calls).toBeCloseTo(succeeding.calls, 6);
          expect(rate(succeeding) - rate(failing)).toBeLessThanOrEqual(0.02 + 1e-12);
          expect(
            succeeding.successes / succeeding.calls - failing.successes / failing.calls,
          ).toBeLessThanOrEqual(0.02 + 1e-12);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("moves the rate by at most 2 points with or without a buyer, when no other buyer is past the level", () => {
    // 60 to 120 other buyers of 10 to 12 calls: the level is at least 48 units (2% of 2,400), so none is capped.
    const other = fc
      .record({ calls: fc.integer({ min: 10, max: 12 }), rate: fc.double({ min: 0, max: 1, noNaN: true }) })
      .map(
        ({ calls, rate }): BuyerWindow => ({
          calls,
          units: calls * 4,
          successUnits: Math.round(calls * rate) * 4,
        }),
      );
    fc.assert(
      fc.property(
        fc.array(other, { minLength: 60, maxLength: 120 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (others, calls, attackerRate) => {
          const without = ranked(others);
          expect(without.calls * 4).toBe(others.reduce((sum, b) => sum + b.units, 0));
          const withIt = ranked([
            ...others,
            { calls, units: calls * 4, successUnits: Math.round(calls * attackerRate) * 4 },
          ]);
          expect(Math.abs(rate(withIt) - rate(without))).toBeLessThanOrEqual(0.02 + 1e-12);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("gives an attacker 1/50 of the weight among 60 honest buyers, and a provisional one a quarter of that", () => {
    const honest = Array.from({ length: 60 }, () => ({ calls: 10, units: 40, successUnits: 40 }));
    const attacked = ranked([...honest, { calls: 1_000, units: 4_000, successUnits: 0 }]);
    expect(attacked.calls).toBeCloseTo(600 * (50 / 49), 9);
    expect(rate({ calls: 600, successes: 600 }) - rate(attacked)).toBeLessThanOrEqual(0.02);
    // A provisional account is capped at a quarter of the level: about a quarter of that weight.
    const provisional = ranked([...honest, { calls: 1_000, units: 1_000, successUnits: 0 }]);
    expect((provisional.calls - 600) / (attacked.calls - 600)).toBeCloseTo(0.25, 1);
    // Ten fresh accounts of 100 failed calls each weigh what 2.5 established ones would.
    const burst = Array.from({ length: 10 }, () => ({ calls: 100, units: 100, successUnits: 0 }));
    const established = Array.from({ length: 10 }, () => ({ calls: 100, units: 400, successUnits: 0 }));
    expect(ranked([...honest, ...burst]).calls - 600).toBeLessThan(
      (ranked([...honest, ...established]).calls - 600) / 3,
    );
  });
});
