import type { IncomingHttpHeaders } from "node:http";

/** What a top-up asks of a payment provider. Amounts are integer micro-USD. */
export interface CheckoutRequest {
  topupId: string;
  accountId: string;
  amountMicros: number;
}

/**
 * A provider's answer to a top-up: where the buyer pays (`checkoutUrl`), the provider's reference
 * for it, and whether the money is already in (`completed`, e.g. the dev provider).
 */
export interface CheckoutResult {
  providerRef: string;
  checkoutUrl: string | null;
  completed: boolean;
  /** Told to the buyer with the top-up, e.g. that no real money moved. */
  note?: string;
}

/** A payout of one settlement to a seller. */
export interface PayoutRequest {
  settlementId: string;
  accountId: string;
  amountMicros: number;
  /** The seller's account at this provider (a Stripe connected account id); null when none is set. */
  destination: string | null;
}

/** How a payout went. A failed payout is retried by the next settlement run. */
export type PayoutResult =
  | { status: "paid"; providerRef: string | null }
  | { status: "failed"; failure: string };

/** A webhook delivery as it arrived: the raw bytes are what a provider's signature covers. */
export interface WebhookDelivery {
  rawBody: Buffer;
  headers: IncomingHttpHeaders;
  receivedAt: Date;
}

/**
 * What a verified webhook delivery means for Mercato. `providerRef` names the checkout the
 * provider returned from `createCheckout`; `amountMicros` is what the buyer actually paid.
 */
export type PaymentEvent =
  | {
      kind: "checkout_succeeded";
      eventId: string;
      providerRef: string;
      topupId: string | null;
      amountMicros: number;
    }
  | { kind: "checkout_failed"; eventId: string; providerRef: string; topupId: string | null; reason: string }
  | { kind: "ignored"; eventId: string; reason: string };

/**
 * Moves real money in (checkout) and out (payouts). Stripe is one; a dev provider credits at once;
 * another (an own coin, x402) implements the same calls. Providers that confirm payments later
 * read their webhooks (`POST /webhooks/{name}`) with `readWebhook`.
 */
export interface PaymentProvider {
  /** Short name stored with each top-up and settlement (`stripe`, `dev`, `manual`). */
  readonly name: string;
  /**
   * The smallest amount the provider pays out, in micros (Stripe: one cent, 10,000). Settlements
   * pay whole multiples of it and leave the remainder in earnings. Default 1.
   */
  readonly payoutUnitMicros?: number;
  /** @throws MercatoError `PAYMENT_PROVIDER_ERROR` when the provider cannot start a checkout. */
  createCheckout(request: CheckoutRequest): Promise<CheckoutResult>;
  /** Pays a settlement; safe to repeat with the same settlement id (it never pays twice). */
  payout(request: PayoutRequest): Promise<PayoutResult>;
  /**
   * Verifies a webhook delivery and says what it means.
   *
   * @throws MercatoError `VALIDATION_ERROR` when its signature does not verify.
   */
  readWebhook?(delivery: WebhookDelivery): Promise<PaymentEvent>;
}
