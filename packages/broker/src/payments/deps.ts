import type { MoneyMovementStore } from "../ledger/port.js";
import type { Clock } from "../platform/clock.js";
import type { PayoutDestinationStore } from "./port.js";
import type { PaymentProvider } from "./provider.js";

/** What the payment routes (`paymentRoutes`) and the webhooks (`registerPaymentWebhooks`) use. */
export interface PaymentsDeps {
  /** Top-ups, settlements and sellers' payout destinations. */
  store: MoneyMovementStore & PayoutDestinationStore;
  clock: Clock;
  /** Moves money in and out; undefined when none is configured (top-ups then answer 503). */
  payments: PaymentProvider | undefined;
}
