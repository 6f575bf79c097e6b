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
  note?: string;
}

/** A payout of one settlement to a seller. */
export interface PayoutRequest {
  settlementId: string;
  accountId: string;
  amountMicros: number;
}

/** How a payout went. */
export type PayoutResult =
  | { status: "paid"; providerRef: string | null }
  | { status: "failed"; failure: string };

/**
 * Moves real money in (checkout) and out (payouts). Stripe is one; a dev provider credits at once;
 * another (an own coin, x402) implements the same two calls.
 */
export interface PaymentProvider {
  /** Short name stored with each top-up and settlement (`stripe`, `dev`, `manual`). */
  readonly name: string;
  createCheckout(request: CheckoutRequest): Promise<CheckoutResult>;
  payout(request: PayoutRequest): Promise<PayoutResult>;
}
