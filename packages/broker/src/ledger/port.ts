import type { SigningKeyStore } from "../signing/port.js";
import type {
  AuditRecord,
  BalanceRecord,
  CaptureRequest,
  ChargeRecord,
  HoldRequest,
  SettlementRecord,
  TopupCompletion,
  TopupRecord,
  VoidRequest,
} from "./records.js";

export type {
  AuditRecord,
  BalanceRecord,
  CaptureRequest,
  ChargeRecord,
  HoldRequest,
  LedgerAccountKind,
  SettlementRecord,
  TopupCompletion,
  TopupRecord,
  TransferKind,
  VoidRequest,
} from "./records.js";

/**
 * The double-entry ledger: accounts with pending and posted debits and credits, immutable transfers
 * with caller-chosen ids, two-phase holds.
 */
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
