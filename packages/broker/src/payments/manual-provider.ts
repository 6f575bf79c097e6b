import { MercatoError } from "@mercato/protocol";
import type { PaymentProvider } from "./provider.js";

/**
 * The payout provider of a broker without Stripe: a settlement is recorded as paid at once, and
 * the operator moves the money to the seller outside Mercato (the settlement list says how much
 * each seller is owed per date). It takes no top-ups.
 *
 * @example
 * await runSettlements({ store, clock, provider: createManualProvider(), log, date: "2026-03-01" });
 */
export function createManualProvider(): PaymentProvider {
  return {
    name: "manual",
    async createCheckout() {
      throw new MercatoError("SERVICE_UNAVAILABLE", "The manual payment provider takes no top-ups");
    },
    async payout() {
      return { status: "paid", providerRef: null };
    },
  };
}
