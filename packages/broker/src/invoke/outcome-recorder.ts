import type { FastifyBaseLogger } from "fastify";
import type { CallOutcome, MetricsStore } from "../metrics/port.js";

/**
 * Collects call outcomes off the response path and writes them to the store in batches, summed per
 * agent, for the monitoring to aggregate. A call's input and output are never part of it.
 */
export interface OutcomeRecorder {
  record(outcome: CallOutcome): void;
  /** Writes what is buffered now. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
}

/** Options of {@link createOutcomeRecorder}. */
export interface OutcomeRecorderOptions {
  store: Pick<MetricsStore, "recordCallOutcomes">;
  log: FastifyBaseLogger;
  now: () => Date;
  /** Flush at least this often, ms (default 1 s). */
  intervalMs?: number;
  /** Flush when this many outcomes are buffered (default 5,000). */
  maxBuffered?: number;
  /**
   * Most outcomes handed to the store and not yet written (default 100,000). While the store is
   * this far behind, a flush drops its batch (logged): metrics are not money.
   */
  maxQueued?: number;
  /** Told of each outcome as it is recorded (the low-success-rate alert counts them); must not throw. */
  onRecord?: (outcome: CallOutcome) => void;
}

/** A buffered {@link OutcomeRecorder}. */
export function createOutcomeRecorder(options: OutcomeRecorderOptions): OutcomeRecorder {
  const maxBuffered = options.maxBuffered ?? 5_000;
  const maxQueued = options.maxQueued ?? 100_000;
  let buffer: CallOutcome[] = [];
  let queued = 0;
  let flushing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => void flush(), options.intervalMs ?? 1_000);
  timer.unref();

  const flush = (): Promise<void> => {
    if (buffer.length === 0) return flushing;
    const batch = buffer;
    buffer = [];
    if (queued + batch.length > maxQueued) {
      // The store cannot keep up: dropping figures keeps memory bounded and never touches a charge.
      options.log.error({ outcomes: batch.length, queued }, "call outcomes dropped: the store is behind");
      return flushing;
    }
    queued += batch.length;
    flushing = flushing
      .then(() => options.store.recordCallOutcomes(batch, options.now().toISOString()))
      .catch((error: unknown) => {
        // Metrics are not money: a failed write loses these figures, never a charge.
        options.log.error({ err: error, outcomes: batch.length }, "could not record call outcomes");
      })
      .then(() => {
        queued -= batch.length;
      });
    return flushing;
  };

  return {
    record(outcome) {
      buffer.push(outcome);
      options.onRecord?.(outcome);
      if (buffer.length >= maxBuffered) void flush();
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
