import { MercatoError } from "@mercato/protocol";
import type Stripe from "stripe";
import { MICROS_PER_CENT } from "./cents.js";
import type { PaymentEvent, WebhookDelivery } from "./provider.js";

/** Oldest a signed delivery may be, in seconds (Stripe's default): an older replay is refused. */
export const STRIPE_SIGNATURE_TOLERANCE_S = 300;

/**
 * Verifies a Stripe webhook delivery against the raw bytes it arrived as, and says what it means
 * for Mercato. Checkout events of a paid session are `checkout_succeeded`; an expired session or a
 * failed delayed payment is `checkout_failed`; any other event is `ignored`. A session completed
 * with its payment still pending (a delayed payment method) is ignored until Stripe reports
 * `checkout.session.async_payment_succeeded`.
 *
 * @throws MercatoError `VALIDATION_ERROR` when the `Stripe-Signature` header is missing, does not
 *   match the body and the webhook secret, or is older than {@link STRIPE_SIGNATURE_TOLERANCE_S}.
 */
export async function readStripeWebhook(
  stripe: Stripe,
  webhookSecret: string,
  delivery: WebhookDelivery,
): Promise<PaymentEvent> {
  const signature = delivery.headers["stripe-signature"];
  if (typeof signature !== "string" || signature === "") {
    throw new MercatoError("VALIDATION_ERROR", "A Stripe webhook needs its Stripe-Signature header");
  }
  let event: Stripe.Event;
  try {
    event = await stripe.webhooks.constructEventAsync(
      delivery.rawBody,
      signature,
      webhookSecret,
      STRIPE_SIGNATURE_TOLERANCE_S,
      undefined,
      delivery.receivedAt.getTime(),
    );
  } catch (cause) {
    throw new MercatoError("VALIDATION_ERROR", "The Stripe signature does not verify for this body", {
      cause,
    });
  }

  switch (event.type) {
    case "checkout.session.completed":
    case "checkout.session.async_payment_succeeded": {
      const session = event.data.object;
      if (session.payment_status !== "paid") {
        return { kind: "ignored", eventId: event.id, reason: `session ${session.id} is not paid yet` };
      }
      if (session.currency !== "usd" || typeof session.amount_total !== "number") {
        return {
          kind: "ignored",
          eventId: event.id,
          reason: `session ${session.id} is in ${session.currency ?? "no currency"}, not usd`,
        };
      }
      return {
        kind: "checkout_succeeded",
        eventId: event.id,
        providerRef: session.id,
        topupId: session.client_reference_id,
        amountMicros: session.amount_total * MICROS_PER_CENT,
      };
    }
    case "checkout.session.expired":
    case "checkout.session.async_payment_failed": {
      const session = event.data.object;
      return {
        kind: "checkout_failed",
        eventId: event.id,
        providerRef: session.id,
        topupId: session.client_reference_id,
        reason: event.type,
      };
    }
    default:
      return { kind: "ignored", eventId: event.id, reason: `event type ${event.type} is not used` };
  }
}
