// The records the ledger module owns; its port (the store interface) is in port.ts.

/** Ledger account kinds: one wallet and one earnings account per marketplace account, two system accounts. */
export type LedgerAccountKind = "wallet" | "earnings" | "platform_revenue" | "external";

/** Transfer kinds: what moved the money. */
export type TransferKind = "topup" | "hold" | "capture" | "void" | "fee" | "payout" | "refund";

/** A charge: one hold on a buyer's wallet and how it resolved. Amounts are integer micro-USD. */
export interface ChargeRecord {
  /** The hold's transfer id, chosen by the caller; the transaction id users see. */
  id: string;
  buyerId: string;
  sellerAccountId: string;
  agentId: string;
  keyId: string | null;
  held: number;
  captured: number;
  fee: number;
  status: "pending" | "completed" | "voided";
  expiresAt: string;
  createdAt: string;
  resolvedAt: string | null;
  /**
   * Set on the answer to a hold whose id was already placed, by this process or another: the
   * charge as it stands, which this request did not place and must not resolve.
   */
  replayed?: true;
}

/** Places a pending hold of `amount` on the buyer's wallet toward a seller's earnings. */
export interface HoldRequest {
  /** Transfer id chosen by the caller: the same id with the same fields returns the first result. */
  id: string;
  buyerId: string;
  sellerAccountId: string;
  agentId: string;
  keyId?: string | null;
  /**
   * The key's own spend cap, in micros: the hold is refused with `SPEND_CAP_EXCEEDED` when the key's
   * spending (captured plus held, see `getKeySpend`) plus `amount` would pass it. Needs `keyId`.
   */
  keySpendCap?: number | null;
  /**
   * A cap on what the buyer may spend per UTC day (captured plus held), in micros: the new-account
   * limit. The hold is refused with `SPEND_CAP_EXCEEDED` (details name the daily limit) past it.
   */
  dailyCap?: number | null;
  amount: number;
  expiresAt: string;
  at: string;
}

/** Posts a hold: charges `amount` (≤ held), releases the rest, pays the fee, all at once. */
export interface CaptureRequest {
  id: string;
  holdId: string;
  amount: number;
  at: string;
}

/** Voids a hold: the buyer pays nothing. */
export interface VoidRequest {
  id: string;
  holdId: string;
  at: string;
}

/** A wallet's and earnings account's figures, in micros. */
export interface BalanceRecord {
  accountId: string;
  available: number;
  held: number;
  earnings: number;
  monthlyCap: number | null;
  spentThisMonth: number;
}

/** The ledger audit's findings; `ok` when there are no violations. */
export interface AuditRecord {
  ok: boolean;
  accounts: number;
  transfers: number;
  totals: {
    toppedUp: number;
    paidOut: number;
    wallets: number;
    held: number;
    earnings: number;
    revenue: number;
  };
  violations: Array<{ rule: string; detail: string }>;
}

/** A top-up through a payment provider. */
export interface TopupRecord {
  id: string;
  accountId: string;
  amount: number;
  provider: string;
  providerRef: string | null;
  checkoutUrl: string | null;
  status: "pending" | "succeeded" | "failed";
  createdAt: string;
  completedAt: string | null;
}

/** What `completeTopup` did: the top-up as it stands, and whether this call credited the wallet. */
export interface TopupCompletion {
  topup: TopupRecord;
  /** True for exactly one of any number of completions of a top-up, however concurrent. */
  credited: boolean;
}

/** One seller's payout for one settlement date. */
export interface SettlementRecord {
  id: string;
  accountId: string;
  settlementDate: string;
  amount: number;
  provider: string;
  providerRef: string | null;
  status: "pending" | "paid" | "failed";
  failure: string | null;
  createdAt: string;
  paidAt: string | null;
}
