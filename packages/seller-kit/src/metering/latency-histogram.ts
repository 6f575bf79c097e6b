/** Latency figures in milliseconds; the quantiles are estimates (see {@link createLatencyHistogram}). */
export interface LatencySummary {
  count: number;
  mean_ms: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
}

/** Durations kept in fixed memory. */
export interface LatencyHistogram {
  record(ms: number): void;
  /** The estimated `q`-quantile (0 < q ≤ 1) in ms; 0 when nothing was recorded. */
  quantile(q: number): number;
  summary(): LatencySummary;
}

/** Buckets per doubling: each bucket is 2^(1/8) ≈ 1.09 times as wide as the one before. */
const PER_DOUBLING = 8;
/** The lower edge of the first bucket: 1 µs. Shorter durations fall in the first bucket. */
const SMALLEST_MS = 0.001;
/** 32 doublings above 1 µs: up to about 71 minutes. Longer durations fall in the last bucket. */
const BUCKETS = 32 * PER_DOUBLING;

/**
 * A log-scale histogram of durations: 256 fixed buckets from 1 µs to about 71 minutes, each
 * 2^(1/8) ≈ 9% wider than the one before, so memory is constant however many calls are recorded.
 * A quantile is reported as the geometric middle of the bucket it falls in, clamped to the smallest
 * and largest durations seen, so it is within about ±4.4% (2^(1/16) − 1) of the true value. The
 * count, mean and maximum are exact.
 */
export function createLatencyHistogram(): LatencyHistogram {
  const counts = new Float64Array(BUCKETS);
  let count = 0;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;

  const quantile = (q: number) => {
    if (count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += counts[i] ?? 0;
      if (seen >= rank) {
        // The last bucket also holds everything longer than it: its middle means nothing.
        if (i === BUCKETS - 1) return max;
        const middle = SMALLEST_MS * 2 ** ((i + 0.5) / PER_DOUBLING);
        return Math.min(max, Math.max(min, middle));
      }
    }
    return max;
  };

  return {
    record(ms) {
      const value = Number.isFinite(ms) && ms > 0 ? ms : 0;
      count++;
      sum += value;
      if (value < min) min = value;
      if (value > max) max = value;
      const index =
        value <= SMALLEST_MS
          ? 0
          : Math.min(BUCKETS - 1, Math.floor(Math.log2(value / SMALLEST_MS) * PER_DOUBLING));
      counts[index] = (counts[index] ?? 0) + 1;
    },
    quantile,
    summary() {
      return {
        count,
        mean_ms: count === 0 ? 0 : round(sum / count),
        p50_ms: round(quantile(0.5)),
        p95_ms: round(quantile(0.95)),
        p99_ms: round(quantile(0.99)),
        max_ms: round(max),
      };
    },
  };
}

/** Milliseconds to the microsecond. */
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
