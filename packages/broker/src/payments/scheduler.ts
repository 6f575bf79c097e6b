import type { FastifyBaseLogger } from "fastify";
import { countSettledGrantReports } from "../grants/reports.js";
import { type GrantSettlementStore, pruneGrantReports, settleDueGrants } from "../grants/settle.js";
import type { LedgerStore, MoneyMovementStore } from "../ledger/port.js";
import type { MetricsStore } from "../metrics/port.js";
import type { Clock } from "../platform/clock.js";
import { DEFAULT_GRANT_GRACE_MS } from "../platform/settings.js";
import type { PayoutDestinationStore } from "./port.js";
import type { PaymentProvider } from "./provider.js";
import { payoutProviderOf, runSettlements, utcDate } from "./settlements.js";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Options of {@link createScheduler}. */
export interface SchedulerOptions {
  store: GrantSettlementStore &
    Pick<LedgerStore, "expireHolds"> &
    Pick<MetricsStore, "recordCallOutcomes"> &
    MoneyMovementStore &
    PayoutDestinationStore;
  clock: Clock;
  /** The broker's payment provider; settlements go through the manual provider without one. */
  payments: PaymentProvider | undefined;
  log: Pick<FastifyBaseLogger, "info" | "warn" | "error">;
  /** How often expired holds are voided and due grants settled, in ms (default 5,000). */
  sweepIntervalMs?: number;
  /** How long after its close or expiry a direct-mode grant is settled, in ms (default 120,000). */
  grantGraceMs?: number;
  /** Minutes after midnight UTC at which the daily settlement runs (default 5). */
  settlementMinuteUtc?: number;
}

/** The broker's background jobs. */
export interface Scheduler {
  /** Starts the hold-expiry sweeper and the daily settlement timer. */
  start(): void;
  /** Stops both and waits for a job in flight, so the store can be closed after it. */
  stop(): Promise<void>;
}

/**
 * The broker's background jobs: a sweeper that settles the direct-mode grants that are due
 * (`settleDueGrants`) and voids expired holds every few seconds (`store.expireHolds`), and the
 * daily settlement run. A job never overlaps itself: the next one
 * is scheduled when the last has finished. Failures are logged and the job goes on. `startBroker`
 * runs it; tests drive it with fake timers and a manual clock.
 *
 * @example
 * const scheduler = createScheduler({ store, clock, payments, log: app.log });
 * scheduler.start();
 * app.addHook("onClose", () => scheduler.stop());
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  const { store, clock, log } = options;
  const sweepInterval = options.sweepIntervalMs ?? 5_000;
  const settlementMinute = options.settlementMinuteUtc ?? 5;
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  let running = false;

  const later = (ms: number, job: () => Promise<void>) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!running) return;
      const work = job().finally(() => inFlight.delete(work));
      inFlight.add(work);
    }, ms);
    timer.unref();
    timers.add(timer);
  };

  const grantGraceMs = options.grantGraceMs ?? DEFAULT_GRANT_GRACE_MS;

  const sweep = async (): Promise<void> => {
    try {
      // Grants first: a grant's hold outlives its settlement time by a day, so the hold sweep
      // never voids what a grant's vouchers owe (unless grants went unsettled for that long).
      const settled = await settleDueGrants(store, clock.now().toISOString(), grantGraceMs);
      if (settled > 0) log.info({ settled }, "settled direct-mode grants");
      // A settled grant's paid amount is final: its pending usage reports count as far as it pays.
      await countSettledGrantReports(store, clock.now().toISOString());
      await pruneGrantReports(store, clock.now().toISOString());
    } catch (error) {
      log.error({ err: error }, "grant settlement sweep failed");
    }
    try {
      const expired = await store.expireHolds(clock.now().toISOString());
      if (expired > 0) log.info({ expired }, "voided expired holds");
    } catch (error) {
      log.error({ err: error }, "hold expiry sweep failed");
    }
    if (running) later(sweepInterval, sweep);
  };

  const untilSettlement = (): number => {
    const now = clock.now();
    const next = new Date(now);
    next.setUTCHours(0, settlementMinute, 0, 0);
    if (next.getTime() <= now.getTime()) next.setTime(next.getTime() + DAY_MS);
    return next.getTime() - now.getTime();
  };

  const settle = async (): Promise<void> => {
    try {
      await runSettlements({
        store,
        clock,
        provider: payoutProviderOf(options.payments),
        log,
        date: utcDate(clock.now()),
      });
    } catch (error) {
      log.error({ err: error }, "daily settlement run failed; the next run retries");
    }
    if (running) later(untilSettlement(), settle);
  };

  return {
    start() {
      if (running) return;
      running = true;
      later(sweepInterval, sweep);
      later(untilSettlement(), settle);
    },
    async stop() {
      running = false;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all(inFlight);
    },
  };
}
