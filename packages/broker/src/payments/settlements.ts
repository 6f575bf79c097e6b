import type { FastifyBaseLogger } from "fastify";
import type { MoneyMovementStore, SettlementRecord } from "../ledger/port.js";
import type { Clock } from "../platform/clock.js";
import { newId } from "../platform/ids.js";
import { createManualProvider } from "./manual-provider.js";
import type { PayoutDestinationStore } from "./port.js";
import type { PaymentProvider, PayoutResult } from "./provider.js";

/** Options of {@link runSettlements}. */
export interface SettlementRunOptions {
  store: MoneyMovementStore & PayoutDestinationStore;
  clock: Clock;
  /** Pays the settlements; see {@link payoutProviderOf}. */
  provider: PaymentProvider;
  log: Pick<FastifyBaseLogger, "info" | "warn" | "error">;
  /** The settlement date, `YYYY-MM-DD`. */
  date: string;
}

/** What a settlement run did: settlements created, and how the payouts it attempted went. */
export interface SettlementRunResult {
  date: string;
  created: number;
  paid: number;
  failed: number;
  /** Every settlement the run created or retried, as it left them. */
  settlements: SettlementRecord[];
}

/**
 * One settlement run: moves each seller's earnings into a settlement for `date` (the store does
 * the ledger part, atomically and once per seller per date), then pays every unpaid settlement of
 * this provider, the new ones and those that failed or were left pending before. Safe to run
 * twice, even at once: the store creates nothing twice and providers never pay a settlement twice.
 * Settlements created under another provider are left for that provider.
 */
export async function runSettlements(options: SettlementRunOptions): Promise<SettlementRunResult> {
  const { store, clock, provider, log, date } = options;
  const created = await store.createSettlements(
    date,
    provider.name,
    clock.now().toISOString(),
    () => newId("stl"),
    provider.payoutUnitMicros ?? 1,
  );
  const unpaid = await store.listUnpaidSettlements();
  const due = unpaid.filter((settlement) => settlement.provider === provider.name);
  if (due.length < unpaid.length) {
    log.warn(
      { provider: provider.name, others: unpaid.length - due.length },
      "unpaid settlements of another payment provider are left for it",
    );
  }

  const settlements: SettlementRecord[] = [];
  for (const settlement of due) {
    const destination = await store.getPayoutDestination(settlement.accountId, provider.name);
    let result: PayoutResult;
    try {
      result = await provider.payout({
        settlementId: settlement.id,
        accountId: settlement.accountId,
        amountMicros: settlement.amount,
        destination: destination?.destination ?? null,
      });
    } catch (error) {
      log.error({ err: error, settlementId: settlement.id }, "payout threw");
      result = {
        status: "failed",
        failure: "The payout failed unexpectedly; the next settlement run retries",
      };
    }
    const update: Pick<SettlementRecord, "status" | "providerRef" | "failure" | "paidAt"> =
      result.status === "paid"
        ? {
            status: "paid",
            providerRef: result.providerRef,
            failure: null,
            paidAt: clock.now().toISOString(),
          }
        : { status: "failed", providerRef: settlement.providerRef, failure: result.failure, paidAt: null };
    await store.updateSettlement(settlement.id, update);
    if (update.status === "failed") {
      log.warn({ settlementId: settlement.id, failure: update.failure }, "payout failed; retried next run");
    }
    settlements.push({ ...settlement, ...update });
  }
  const paid = settlements.filter((settlement) => settlement.status === "paid").length;
  log.info(
    { date, provider: provider.name, created: created.length, paid, failed: settlements.length - paid },
    "settlement run",
  );
  return { date, created: created.length, paid, failed: settlements.length - paid, settlements };
}

/**
 * The provider that pays settlements: the broker's payment provider, or without one the manual
 * provider, which records payouts for the operator to make outside Mercato.
 */
export function payoutProviderOf(payments: PaymentProvider | undefined): PaymentProvider {
  return payments ?? createManualProvider();
}

/** The UTC calendar date of an instant, `YYYY-MM-DD`. */
export function utcDate(at: Date): string {
  return at.toISOString().slice(0, 10);
}
