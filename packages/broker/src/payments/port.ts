/**
 * Where a seller is paid at a payment provider: a Stripe connected account id (`acct_…`) for
 * Stripe; another provider (an own coin, x402) would keep its wallet address here.
 */
export interface PayoutDestinationRecord {
  accountId: string;
  provider: string;
  destination: string;
  updatedAt: string;
}

/** Sellers' payout destinations, one per account and provider. */
export interface PayoutDestinationStore {
  /** Sets (or with `destination: null` removes) the account's destination at a provider. */
  setPayoutDestination(
    record: Omit<PayoutDestinationRecord, "destination"> & { destination: string | null },
  ): Promise<void>;
  getPayoutDestination(accountId: string, provider: string): Promise<PayoutDestinationRecord | undefined>;
}
