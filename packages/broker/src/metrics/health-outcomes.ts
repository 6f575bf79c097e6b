import type { FastifyBaseLogger } from "fastify";
import type { Clock } from "../platform/clock.js";
import type { HealthCheckOutcome, MetricsStore } from "./port.js";

const FLUSH_BATCH = 1_000;

/** Options of {@link HealthOutcomeWriter}. */
export interface HealthOutcomeWriterOptions {
  store: Pick<MetricsStore, "recordHealthChecks">;
  clock: Clock;
  log: Pick<FastifyBaseLogger, "error">;
  /** Outcomes are written at least this often, ms, or per 1,000. */
  flushInterval: number;
  /** Tracks a write, so that the checker's `stop` and `idle` wait for it. */
  keep<T>(promise: Promise<T>): Promise<T>;
}

/**
 * Gathers health-check outcomes and writes them in batches for the uptime figures: per 1,000, or
 * once `flushAt` has come (the checker's loop calls {@link flush} then). Writes go one after
 * another; a failed write loses its outcomes, nothing else.
 */
export class HealthOutcomeWriter {
  /** When the gathered outcomes are due to be written (ms since the epoch); +∞ when none wait. */
  flushAt = Number.POSITIVE_INFINITY;
  private buffer: HealthCheckOutcome[] = [];
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly options: HealthOutcomeWriterOptions) {}

  add(outcomes: HealthCheckOutcome[]): void {
    this.buffer.push(...outcomes);
    if (this.buffer.length >= FLUSH_BATCH) void this.flush();
    else if (this.flushAt === Number.POSITIVE_INFINITY)
      this.flushAt = this.options.clock.now().getTime() + this.options.flushInterval;
  }

  flush(): Promise<void> {
    const { store, clock, log, keep } = this.options;
    this.flushAt = Number.POSITIVE_INFINITY;
    if (this.buffer.length === 0) return this.flushing;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing
      .then(() => store.recordHealthChecks(batch, clock.now().toISOString()))
      .catch((error: unknown) => {
        // Uptime figures are not money: a failed write loses these checks, nothing else.
        log.error({ err: error, outcomes: batch.length }, "could not record health checks");
      });
    return keep(this.flushing);
  }
}
