import type { SigningKeyStore } from "../signing/port.js";

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

/** The double-entry ledger: accounts with pending and posted debits and
 * credits, immutable transfers with caller-chosen ids, two-phase holds. */
export interface LedgerStore {
  /** Credits a wallet from outside (a top-up), once per transfer id. */
  credit(request: {
    id: string;
    accountId: string;
    amount: number;
    reference: string;
    at: string;
  }): Promise<void>;
  /**
   * @throws MercatoError `INSUFFICIENT_FUNDS`, `SPEND_CAP_EXCEEDED`, `CONFLICT` (id reused with other fields).
   */
  hold(request: HoldRequest): Promise<ChargeRecord>;
  /** @throws MercatoError `NOT_FOUND`, `CONFLICT` (resolved, expired or id reused), `VALIDATION_ERROR` (over the hold). */
  capture(request: CaptureRequest): Promise<ChargeRecord>;
  /** @throws MercatoError `NOT_FOUND`, `CONFLICT` (already resolved otherwise, or id reused). */
  voidHold(request: VoidRequest): Promise<ChargeRecord>;
  /** Voids pending holds that expired at or before `now`; returns how many. */
  expireHolds(now: string, limit?: number): Promise<number>;
  getCharge(id: string): Promise<ChargeRecord | undefined>;
  /** The account's charges as buyer, seller or either, newest first, keyset-paged. */
  listCharges(
    accountId: string,
    options: { role?: "buyer" | "seller"; limit: number; cursor?: string },
  ): Promise<{ charges: ChargeRecord[]; nextCursor: string | null }>;
  getBalance(accountId: string, at: string): Promise<BalanceRecord>;
  /**
   * What each key has spent: captured charges plus holds in flight, in micros (a rotated key's
   * replacement includes the old key's spending). Keys that never spent are 0.
   */
  getKeySpend(keyIds: string[]): Promise<Map<string, number>>;
  setMonthlyCap(accountId: string, cap: number | null): Promise<void>;

  /** Proves the ledger's invariants and lists every violation. */
  audit(): Promise<AuditRecord>;
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

/**
 * Money in and out of the ledger: top-ups (a wallet is credited when one completes) and sellers'
 * settlements (earnings paid out). Implemented by the ledger's adapters, used by the payments module.
 */
export interface MoneyMovementStore {
  insertTopup(topup: TopupRecord): Promise<void>;
  getTopup(id: string): Promise<TopupRecord | undefined>;
  findTopupByProviderRef(provider: string, providerRef: string): Promise<TopupRecord | undefined>;
  /**
   * Marks a pending top-up succeeded and credits its wallet, exactly once; returns the top-up and
   * whether this call was the one that credited it (undefined for an unknown top-up).
   *
   * @throws MercatoError `CONFLICT` when the top-up failed.
   */
  completeTopup(id: string, at: string): Promise<TopupCompletion | undefined>;
  failTopup(id: string, at: string): Promise<TopupRecord | undefined>;

  /**
   * Moves each seller's settled earnings into a settlement for `date` with a payout transfer;
   * once per seller per date. Only whole multiples of `unitMicros` are settled (Stripe pays whole
   * cents: 10,000 micros); the remainder stays in earnings for a later run. Returns the
   * settlements it created.
   */
  createSettlements(
    date: string,
    provider: string,
    at: string,
    newId: () => string,
    unitMicros?: number,
  ): Promise<SettlementRecord[]>;
  /** Settlements not yet paid (pending or failed), oldest first. */
  listUnpaidSettlements(): Promise<SettlementRecord[]>;
  updateSettlement(
    id: string,
    update: Pick<SettlementRecord, "status" | "providerRef" | "failure" | "paidAt">,
  ): Promise<void>;
  listSettlements(accountId: string): Promise<SettlementRecord[]>;
}

/** What one ledger adapter implements over its database (the signing keys share the ledger's store). */
export type LedgerAdapter = LedgerStore & MoneyMovementStore & SigningKeyStore;
