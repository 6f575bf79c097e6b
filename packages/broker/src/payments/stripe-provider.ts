import { MercatoError } from "@mercato/protocol";
import Stripe from "stripe";
import { BROKER_VERSION } from "../version.js";
import { isWholeCents, microsToCents } from "./cents.js";
import type { PaymentProvider, PayoutResult } from "./provider.js";
import { readStripeWebhook } from "./stripe-webhook.js";

/** Options of {@link createStripeProvider}. */
export interface StripeProviderOptions {
  /** A Stripe client (tests point one at a local fake with `host`, `port` and `protocol`). */
  stripe: Stripe;
  /** The endpoint's signing secret (`whsec_…`) that webhook deliveries are verified with. */
  webhookSecret: string;
  /** Base URL of the broker as buyers' browsers reach it, for Checkout's return pages. */
  publicUrl: () => string;
}

/**
 * Top-ups through Stripe Checkout, confirmed by the `checkout.session.completed` webhook, and
 * payouts as Stripe Connect transfers to each seller's connected account.
 *
 * A transfer is made once per settlement, however often it is retried: its idempotency key is
 * the settlement id, and because Stripe forgets idempotency keys after a day, each attempt first
 * looks for a transfer already made in the settlement's transfer group.
 *
 * @example
 * const payments = createStripeProvider({
 *   stripe: createStripeClient(process.env.STRIPE_SECRET_KEY),
 *   webhookSecret: process.env.STRIPE_WEBHOOK_SECRET,
 *   publicUrl: () => "https://broker.example.com",
 * });
 */
export function createStripeProvider(options: StripeProviderOptions): PaymentProvider {
  const { stripe, webhookSecret } = options;
  return {
    name: "stripe",
    payoutUnitMicros: 10_000,

    async createCheckout({ topupId, accountId, amountMicros }) {
      const base = options.publicUrl().replace(/\/+$/, "");
      const returnUrl = (outcome: string) =>
        `${base}/checkout/return?topup_id=${encodeURIComponent(topupId)}&outcome=${outcome}`;
      let session: Stripe.Checkout.Session;
      try {
        session = await stripe.checkout.sessions.create(
          {
            mode: "payment",
            client_reference_id: topupId,
            metadata: { topup_id: topupId, account_id: accountId },
            payment_intent_data: { metadata: { topup_id: topupId, account_id: accountId } },
            line_items: [
              {
                quantity: 1,
                price_data: {
                  currency: "usd",
                  unit_amount: microsToCents(amountMicros),
                  product_data: { name: "Mercato balance top-up" },
                },
              },
            ],
            success_url: returnUrl("success"),
            cancel_url: returnUrl("cancel"),
          },
          { idempotencyKey: `checkout:${topupId}` },
        );
      } catch (cause) {
        throw new MercatoError(
          "PAYMENT_PROVIDER_ERROR",
          "Stripe could not start the checkout; nothing was charged. Try again later.",
          { cause },
        );
      }
      if (!session.url) {
        throw new MercatoError("PAYMENT_PROVIDER_ERROR", "Stripe returned a checkout session without a URL");
      }
      return { providerRef: session.id, checkoutUrl: session.url, completed: false };
    },

    async payout({ settlementId, accountId, amountMicros, destination }): Promise<PayoutResult> {
      if (destination === null) {
        return {
          status: "failed",
          failure:
            "No Stripe connected account to pay: the seller sets one with PUT /accounts/me/payout {stripe_account_id}; the next settlement run retries",
        };
      }
      if (!isWholeCents(amountMicros)) {
        return {
          status: "failed",
          failure: `The amount (${amountMicros} micro-USD) is not a whole number of cents, which Stripe transfers need`,
        };
      }
      try {
        const earlier = await stripe.transfers.list({ transfer_group: settlementId, limit: 1 });
        const made = earlier.data[0];
        if (made) return { status: "paid", providerRef: made.id };
        const transfer = await stripe.transfers.create(
          {
            amount: microsToCents(amountMicros),
            currency: "usd",
            destination,
            transfer_group: settlementId,
            description: `Mercato settlement ${settlementId}`,
            metadata: { settlement_id: settlementId, account_id: accountId },
          },
          { idempotencyKey: settlementId },
        );
        return { status: "paid", providerRef: transfer.id };
      } catch (error) {
        return { status: "failed", failure: describeStripeError(error) };
      }
    },

    readWebhook(delivery) {
      return readStripeWebhook(stripe, webhookSecret, delivery);
    },
  };
}

/**
 * A Stripe client for the broker: a few network retries (safe: every write carries an
 * idempotency key) and a bounded timeout.
 */
export function createStripeClient(
  secretKey: string,
  overrides: Pick<Stripe.StripeConfig, "host" | "port" | "protocol" | "maxNetworkRetries"> = {},
): Stripe {
  return new Stripe(secretKey, {
    maxNetworkRetries: 2,
    timeout: 20_000,
    appInfo: { name: "mercato-broker", version: BROKER_VERSION },
    ...overrides,
  });
}

/** A payout failure a seller may read: Stripe's reason for a refused request, nothing secret. */
function describeStripeError(error: unknown): string {
  if (error instanceof Stripe.errors.StripeAuthenticationError) {
    return "Stripe refused the marketplace's API key; the next settlement run retries";
  }
  if (error instanceof Stripe.errors.StripeError) {
    return `Stripe refused the transfer (${error.type}): ${error.message}`;
  }
  return `The transfer failed: ${error instanceof Error ? error.message : String(error)}`;
}
