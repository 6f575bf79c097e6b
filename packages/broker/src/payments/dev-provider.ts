import type { PaymentProvider } from "./provider.js";

/** What the dev provider tells the buyer with every top-up. */
export const DEV_TOPUP_NOTE =
  "Dev mode: the dev payment provider credited the wallet at once; no real money moved.";

/**
 * The payment provider of a broker in dev mode without Stripe keys: a top-up is credited at once
 * and a payout is recorded as paid, and no money moves either way. Never in production.
 *
 * @example
 * const app = createBroker({ store, config: { dev: true }, payments: createDevProvider() });
 */
export function createDevProvider(): PaymentProvider {
  return {
    name: "dev",
    async createCheckout({ topupId }) {
      return { providerRef: `dev:${topupId}`, checkoutUrl: null, completed: true, note: DEV_TOPUP_NOTE };
    },
    async payout({ settlementId }) {
      return { status: "paid", providerRef: `dev:${settlementId}` };
    },
  };
}
