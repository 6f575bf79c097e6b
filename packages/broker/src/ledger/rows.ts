import type {
  ChargeRecord,
  HoldRequest,
  LedgerAccountKind,
  SettlementRecord,
  TopupRecord,
  TransferKind,
} from "./port.js";

// The rows both ledgers read (both schemas use the same column names) and the records made of them.

/** A `ledger_accounts` row (on PostgreSQL, its counters with its slots added: `ledger_balances`). */
export interface AccountRow {
  id: string;
  kind: LedgerAccountKind;
  owner_id: string | null;
  debits_pending: number;
  debits_posted: number;
  credits_pending: number;
  credits_posted: number;
}

/** A `transfers` row, less its sequence number and time. */
export interface TransferRow {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: number;
  kind: TransferKind;
  pending_id: string | null;
  reference: string | null;
}

/** A `charges` row. */
export interface ChargeRow {
  id: string;
  buyer_id: string;
  seller_account_id: string;
  agent_id: string;
  key_id: string | null;
  held: number;
  captured: number;
  fee: number;
  status: ChargeRecord["status"];
  expires_at: string;
  created_at: string;
  resolved_at: string | null;
}

/** A `topups` row. */
export interface TopupRow {
  id: string;
  account_id: string;
  amount: number;
  provider: string;
  provider_ref: string | null;
  checkout_url: string | null;
  status: TopupRecord["status"];
  created_at: string;
  completed_at: string | null;
}

/** A `settlements` row. */
export interface SettlementRow {
  id: string;
  account_id: string;
  settlement_date: string;
  amount: number;
  provider: string;
  provider_ref: string | null;
  status: SettlementRecord["status"];
  failure: string | null;
  created_at: string;
  paid_at: string | null;
}

/** A key's row in `key_spend` (see the SQLite key-spend-schema.ts). */
export interface KeySpendRow {
  key_id: string;
  pending: number;
  captured: number;
  carried: number;
  carried_from: string | null;
}

/**
 * What a hold is checked against, read with the wallet: its spendable figures, its owner's monthly
 * cap and spending this month, and where the hold needs them, what its key has spent and what the
 * owner's captured charges add up to today.
 */
export interface FundsRow {
  available: number;
  held: number;
  cap: number | null;
  spent: number | null;
  key_spent?: number | null;
  spent_today?: number | null;
}

/** The record of a `charges` row. */
export function toCharge(row: ChargeRow): ChargeRecord {
  return {
    id: row.id,
    buyerId: row.buyer_id,
    sellerAccountId: row.seller_account_id,
    agentId: row.agent_id,
    keyId: row.key_id,
    held: row.held,
    captured: row.captured,
    fee: row.fee,
    status: row.status,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    resolvedAt: row.resolved_at,
  };
}

/** The charge a hold just placed: pending, nothing captured. */
export function placedCharge(request: HoldRequest): ChargeRecord {
  return {
    id: request.id,
    buyerId: request.buyerId,
    sellerAccountId: request.sellerAccountId,
    agentId: request.agentId,
    keyId: request.keyId ?? null,
    held: request.amount,
    captured: 0,
    fee: 0,
    status: "pending",
    expiresAt: request.expiresAt,
    createdAt: request.at,
    resolvedAt: null,
  };
}

/** The record of a `topups` row. */
export function toTopup(row: TopupRow): TopupRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    amount: row.amount,
    provider: row.provider,
    providerRef: row.provider_ref,
    checkoutUrl: row.checkout_url,
    status: row.status,
    createdAt: row.created_at,
    completedAt: row.completed_at,
  };
}

/** The record of a `settlements` row. */
export function toSettlement(row: SettlementRow): SettlementRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    settlementDate: row.settlement_date,
    amount: row.amount,
    provider: row.provider,
    providerRef: row.provider_ref,
    status: row.status,
    failure: row.failure,
    createdAt: row.created_at,
    paidAt: row.paid_at,
  };
}
