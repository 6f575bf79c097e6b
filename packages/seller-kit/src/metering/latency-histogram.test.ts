import { describe, expect, it } from "vitest";
import { createLatencyHistogram } from "./latency-histogram.js";

describe("createLatencyHistogram", () => {
  it("reports zeros when empty", () => {
    expect(createLatencyHistogram().summary()).toEqual({
      count: 0,
      mean_ms: 0,
      p50_ms: 0,
      p95_ms: 0,
      p99_ms: 0,
      max_ms: 0,
    });
  });

  it("keeps quantiles within 4.4% of the exact ones across six orders of magnitude", () => {
    const histogram = createLatencyHistogram();
    const values: number[] = [];
    // A deterministic spread from 10 µs to 10 s, log-uniform.
    let seed = 42;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      const value = 0.01 * 10 ** ((seed / 2 ** 31) * 6);
      values.push(value);
      histogram.record(value);
    }
    values.sort((a, b) => a - b);
    for (const q of [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999]) {
      const exact = values[Math.ceil(q * values.length) - 1] as number;
      expect(Math.abs(histogram.quantile(q) - exact) / exact).toBeLessThanOrEqual(0.0443);
    }
    const summary = histogram.summary();
    expect(summary.count).toBe(20_000);
    expect(summary.max_ms).toBe(Math.round((values.at(-1) as number) * 1000) / 1000);
  });

  it("clamps quantiles to the values seen, and takes zero, negative and huge durations", () => {
    const histogram = createLatencyHistogram();
    histogram.record(7);
    expect(histogram.summary()).toMatchObject({ p50_ms: 7, p99_ms: 7, max_ms: 7, mean_ms: 7 });
    histogram.record(0);
    histogram.record(-5);
    histogram.record(10 * 3_600_000);
    expect(histogram.summary()).toMatchObject({ count: 4, max_ms: 36_000_000 });
    expect(histogram.quantile(1)).toBe(36_000_000);
    // Everything under about 1 µs shares the first bucket.
    expect(histogram.quantile(0.25)).toBeLessThan(0.0011);
  });
});
