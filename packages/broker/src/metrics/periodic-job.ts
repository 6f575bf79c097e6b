/**
 * A job the checker's loop runs every `every` ms: a run still going when its time comes again
 * skips that turn (it never overlaps itself).
 */
export class PeriodicJob {
  /** When the job is next due (ms since the epoch); +∞ while not started. */
  dueAt = Number.POSITIVE_INFINITY;
  private running = false;

  constructor(
    private readonly every: number,
    private readonly run: () => Promise<void>,
    private readonly keep: (promise: Promise<unknown>) => unknown,
  ) {}

  /** Schedules the first run, one period after `at`. */
  start(at: number): void {
    this.dueAt = at + this.every;
  }

  /** Starts a run if one is due at `at` and none is going (`run` handles its own errors). */
  runIfDue(at: number): void {
    const due = this.dueAt <= at;
    if (due) this.dueAt = at + this.every;
    if (!due || this.running) return;
    this.running = true;
    void this.keep(
      this.run().finally(() => {
        this.running = false;
      }),
    );
  }
}
