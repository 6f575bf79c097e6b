import { createLatencyHistogram, type LatencySummary } from "./latency-histogram.js";

/** What {@link SellerMeter.stats} reports. */
export interface SellerKitStats {
  /** Calls that reached the seller's side: input validation and the handler. */
  calls: number;
  /** Calls answered 200 with the handler's output. */
  successes: number;
  /** Calls whose input was invalid, whose handler threw, or whose output JSON cannot carry. */
  failures: number;
  /** Requests refused before the handler: too large, unsigned, forged, stale, replayed, malformed. Not calls. */
  rejected: number;
  /** Time spent validating the input, running the handler and serialising its output. */
  latency: LatencySummary;
  /** When counting started (the kit's creation), ISO 8601. */
  since: string;
  /** Direct mode only: the direct calls among the figures above. */
  direct?: DirectCallStats;
}

/** Direct calls (with a grant and a voucher), counted in {@link SellerKitStats} too. */
export interface DirectCallStats {
  /** Direct calls admitted by the ledger: they reached the handler and were settled. */
  calls: number;
  /** Direct calls refused before the handler (bad grant or voucher, replayed, unpaid, spent, …). */
  refused: number;
  /** Grants the kit keeps in memory until their best voucher is redeemed and they expire. */
  grants: number;
}

/** The outcome of a call that reached the handler. */
export type CallOutcome = "success" | "failure";

/** Counts calls and times them; read with `stats()` or as Prometheus text. */
export interface SellerMeter {
  /** A request refused before the handler. */
  rejected(): void;
  /** A call that reached the handler, and how long the seller's side took. */
  call(outcome: CallOutcome, durationMs: number): void;
  stats(): SellerKitStats;
  /** Prometheus text exposition format 0.0.4. */
  prometheus(): string;
}

/** Upper bounds (seconds) of the Prometheus duration histogram's buckets. */
export const DURATION_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;

/** The content type of {@link SellerMeter.prometheus}'s text. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A {@link SellerMeter} whose counting starts at `startedAtMs`. */
export function createMeter(startedAtMs: number): SellerMeter {
  const latency = createLatencyHistogram();
  const bucketCounts = new Float64Array(DURATION_BUCKETS_SECONDS.length);
  const since = new Date(startedAtMs).toISOString();
  let successes = 0;
  let failures = 0;
  let rejected = 0;
  let durationSumSeconds = 0;

  return {
    rejected() {
      rejected++;
    },
    call(outcome, durationMs) {
      if (outcome === "success") successes++;
      else failures++;
      latency.record(durationMs);
      const seconds = Math.max(0, durationMs) / 1000;
      durationSumSeconds += seconds;
      for (let i = 0; i < DURATION_BUCKETS_SECONDS.length; i++) {
        if (seconds <= (DURATION_BUCKETS_SECONDS[i] as number)) {
          bucketCounts[i] = (bucketCounts[i] ?? 0) + 1;
          break;
        }
      }
    },
    stats() {
      return {
        calls: successes + failures,
        successes,
        failures,
        rejected,
        latency: latency.summary(),
        since,
      };
    },
    prometheus() {
      const calls = successes + failures;
      const lines = [
        "# HELP mercato_seller_calls_total Calls to the seller by outcome: success and failure reached the handler; rejected were refused before it (signature, replay, malformed).",
        "# TYPE mercato_seller_calls_total counter",
        `mercato_seller_calls_total{outcome="success"} ${successes}`,
        `mercato_seller_calls_total{outcome="failure"} ${failures}`,
        `mercato_seller_calls_total{outcome="rejected"} ${rejected}`,
        "# HELP mercato_seller_call_duration_seconds Time spent validating the input, running the handler and serialising its output.",
        "# TYPE mercato_seller_call_duration_seconds histogram",
      ];
      let cumulative = 0;
      for (let i = 0; i < DURATION_BUCKETS_SECONDS.length; i++) {
        cumulative += bucketCounts[i] ?? 0;
        lines.push(
          `mercato_seller_call_duration_seconds_bucket{le="${DURATION_BUCKETS_SECONDS[i]}"} ${cumulative}`,
        );
      }
      lines.push(
        `mercato_seller_call_duration_seconds_bucket{le="+Inf"} ${calls}`,
        `mercato_seller_call_duration_seconds_sum ${durationSumSeconds}`,
        `mercato_seller_call_duration_seconds_count ${calls}`,
      );
      return `${lines.join("\n")}\n`;
    },
  };
}
