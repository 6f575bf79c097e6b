import { formatUsd, MercatoError } from "@mercato/protocol";
import type { SigningKeyRecord } from "../signing/port.js";
import type {
  ChargeRecord,
  HoldRequest,
  LedgerAccountKind,
  SettlementRecord,
  TopupRecord,
  TransferKind,
} from "./port.js";

// The ledger's rules, shared by the SQLite and PostgreSQL ledgers: row shapes (both schemas use the
// same column names) and their records, the transfers the ledger makes and the ids it gives its
// own, why a request is refused, when a retried request is the same one, and how charges are paged.
// The audit is in ledger-audit.ts.

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

/** A `signing_keys` row. */
export interface SigningKeyRow {
  kid: string;
  private_jwk: string;
  public_jwk: string;
  created_at: string;
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

/** The platform's revenue account: fees are paid into it. */
export const REVENUE = "platform_revenue";
/** The world outside: top-ups come from it, payouts go to it. */
export const EXTERNAL = "external";
/** The ledger's own transfers (fees, expiries, top-ups, payouts) have ids with this prefix. */
export const SYSTEM_ID = "ledger:";

// One wallet and one earnings account per marketplace account, opened with it (see ledger-schema.ts).
/** The ledger account a marketplace account pays from. */
export const walletOf = (accountId: string): string => `wallet:${accountId}`;
/** The ledger account a marketplace account's sales are paid into. */
export const earningsOf = (accountId: string): string => `earnings:${accountId}`;
/** The id of the fee transfer of a captured hold. */
export const feeIdOf = (holdId: string): string => `${SYSTEM_ID}fee:${holdId}`;
/** The id of the void with which the sweeper expires a hold. */
export const expiryIdOf = (holdId: string): string => `${SYSTEM_ID}expiry:${holdId}`;

/** The transfer that credits a wallet from outside: a caller's credit. */
export function creditTransfer(request: {
  id: string;
  accountId: string;
  amount: number;
  reference: string;
}): TransferRow {
  return {
    id: request.id,
    debit_account_id: EXTERNAL,
    credit_account_id: walletOf(request.accountId),
    amount: request.amount,
    kind: "topup",
    pending_id: null,
    reference: request.reference,
  };
}

/** The transfer that credits a succeeded top-up, once: its id is the ledger's own. */
export function topupTransfer(topup: Pick<TopupRow, "id" | "account_id" | "amount">): TransferRow {
  return creditTransfer({
    id: `${SYSTEM_ID}topup:${topup.id}`,
    accountId: topup.account_id,
    amount: topup.amount,
    reference: topup.id,
  });
}

/** The transfer that pays a settlement out of the seller's earnings account. */
export function payoutTransfer(settlement: { id: string; amount: number }, earnings: string): TransferRow {
  return {
    id: `${SYSTEM_ID}payout:${settlement.id}`,
    debit_account_id: earnings,
    credit_account_id: EXTERNAL,
    amount: settlement.amount,
    kind: "payout",
    pending_id: null,
    reference: settlement.id,
  };
}

/**
 * The settlements a run for `date` creates from the earnings accounts not yet settled for it (in
 * the order given), with each one's payout: whole multiples of `unitMicros` of what each earned,
 * for each that earned at least one. Ids come from `newId`, one per settlement.
 */
export function dueSettlements(
  earnings: Array<{ id: string; owner_id: string; amount: number }>,
  run: { date: string; provider: string; at: string; newId: () => string; unitMicros: number },
): Array<{ settlement: SettlementRecord; payout: TransferRow }> {
  return earnings.flatMap((account) => {
    const amount = account.amount > 0 ? account.amount - (account.amount % run.unitMicros) : 0;
    if (amount === 0) return [];
    const settlement: SettlementRecord = {
      id: run.newId(),
      accountId: account.owner_id,
      settlementDate: run.date,
      amount,
      provider: run.provider,
      providerRef: null,
      status: "pending",
      failure: null,
      createdAt: run.at,
      paidAt: null,
    };
    return [{ settlement, payout: payoutTransfer(settlement, account.id) }];
  });
}

/** The columns of a `topups` row, in the order of {@link topupValues}. */
export const TOPUP_COLUMNS =
  "id, account_id, amount, provider, provider_ref, checkout_url, status, created_at, completed_at";

/** A top-up's values, in the order of {@link TOPUP_COLUMNS}. */
export function topupValues(topup: TopupRecord): unknown[] {
  return [
    topup.id,
    topup.accountId,
    topup.amount,
    topup.provider,
    topup.providerRef,
    topup.checkoutUrl,
    topup.status,
    topup.createdAt,
    topup.completedAt,
  ];
}

/** The columns a transfer is inserted with, in the order of {@link transferValues}. */
export const TRANSFER_COLUMNS =
  "id, debit_account_id, credit_account_id, amount, kind, pending_id, reference, created_at";

/** A transfer's values at `at`, in the order of {@link TRANSFER_COLUMNS}. */
export function transferValues(t: TransferRow, at: string): unknown[] {
  return [t.id, t.debit_account_id, t.credit_account_id, t.amount, t.kind, t.pending_id, t.reference, at];
}

/** The answer to completing a top-up that failed. */
export function topupFailed(id: string): MercatoError {
  return new MercatoError("CONFLICT", `Top-up ${id} failed; it cannot be credited`, {
    details: { topup_id: id, status: "failed" },
  });
}

/** @throws MercatoError `INVALID_AMOUNT` unless `amount` is a safe integer of micros ≥ `min`. */
export function assertAmount(amount: number, min: number): void {
  if (!Number.isSafeInteger(amount) || amount < min) {
    throw new MercatoError(
      "INVALID_AMOUNT",
      `Amount must be an integer number of micros ≥ ${min}, got ${amount}`,
    );
  }
}

/**
 * A caller-chosen transfer id: not empty, and not one of the ledger's own.
 * @throws MercatoError `VALIDATION_ERROR`.
 */
export function assertCallerId(id: string): void {
  if (typeof id !== "string" || id.length === 0 || id.startsWith(SYSTEM_ID)) {
    throw new MercatoError(
      "VALIDATION_ERROR",
      `A transfer id must be non-empty and not start with "${SYSTEM_ID}"`,
      {
        details: { issues: [{ path: "id", message: "invalid transfer id" }] },
      },
    );
  }
}

/**
 * Checks a hold request's id, amount and caps, and returns the caps that apply: a key's own cap only
 * with a key.
 * @throws MercatoError `VALIDATION_ERROR`, `INVALID_AMOUNT`.
 */
export function checkHold(request: HoldRequest): {
  keyId: string | null;
  keyCap: number | null;
  dailyCap: number | null;
} {
  assertCallerId(request.id);
  assertAmount(request.amount, 1);
  if (request.keySpendCap != null) assertAmount(request.keySpendCap, 0);
  if (request.dailyCap != null) assertAmount(request.dailyCap, 0);
  const keyId = request.keyId ?? null;
  return {
    keyId,
    keyCap: keyId === null ? null : (request.keySpendCap ?? null),
    dailyCap: request.dailyCap ?? null,
  };
}

/** The UTC calendar month of a timestamp, `YYYY-MM`. */
export function monthOf(timestamp: string): string {
  return timestamp.slice(0, 7);
}

/** The UTC day of a timestamp, `YYYY-MM-DD`. */
export function dayOf(timestamp: string): string {
  return timestamp.slice(0, 10);
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

/** The record of a `signing_keys` row. */
export function toSigningKey(row: SigningKeyRow): SigningKeyRecord {
  return { kid: row.kid, privateJwk: row.private_jwk, publicJwk: row.public_jwk, createdAt: row.created_at };
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

/** Whether a retried posted transfer (a credit, a top-up, a payout) is the one that holds its id. */
export function sameTransfer(a: TransferRow, b: TransferRow): boolean {
  return (
    a.kind === b.kind &&
    a.debit_account_id === b.debit_account_id &&
    a.credit_account_id === b.credit_account_id &&
    a.amount === b.amount &&
    a.pending_id === b.pending_id &&
    a.reference === b.reference
  );
}

/**
 * Whether a retried hold is the one that holds its id: the transfer is a hold and its charge has
 * the same parties, agent, key and amount (its time and expiry may differ: a retry comes later).
 */
export function sameHold(
  existing: TransferRow,
  charge: ChargeRow | undefined,
  request: HoldRequest,
): boolean {
  return (
    existing.kind === "hold" &&
    charge !== undefined &&
    charge.buyer_id === request.buyerId &&
    charge.seller_account_id === request.sellerAccountId &&
    charge.agent_id === request.agentId &&
    charge.key_id === (request.keyId ?? null) &&
    charge.held === request.amount
  );
}

/**
 * Whether a retried capture or void is the one that holds its id: the same kind, of the same hold,
 * and for a capture the same amount (`requested`; a void leaves it out).
 */
export function sameResolution(
  existing: TransferRow,
  kind: "capture" | "void",
  holdId: string,
  requested?: number,
): boolean {
  return (
    existing.kind === kind &&
    existing.pending_id === holdId &&
    (requested === undefined || existing.amount === requested)
  );
}

/** The answer to a transfer id used already with other fields. */
export function idReused(id: string): MercatoError {
  return new MercatoError("CONFLICT", `Transfer id ${id} was already used with other fields`, {
    details: { transfer_id: id },
  });
}

/** The answer to money moved to, or a cap set on, an account that does not exist. */
export function noAccount(accountId: string, cause: unknown): MercatoError {
  return new MercatoError("NOT_FOUND", `No account ${accountId}`, {
    details: { account_id: accountId },
    cause,
  });
}

/**
 * The answer to a retried request whose id is taken: the charge as it stands when it is the same
 * request (`charge` is then read), `CONFLICT` otherwise.
 */
export function replayedCharge(existing: TransferRow, charge: ChargeRow | undefined): ChargeRecord {
  if (!charge) throw idReused(existing.id);
  return toCharge(charge);
}

/**
 * Why a hold cannot be placed: the balance first (pending holds count), then the account's monthly
 * cap, then its daily cap (today's captured charges and every hold in flight count), then the key's
 * own cap (its captured charges and holds in flight count). `funds` is undefined for a wallet that
 * does not exist.
 */
export function refuseHold(
  funds: FundsRow | undefined,
  amount: number,
  key: { id: string; cap: number } | undefined,
  dailyCap: number | null,
): MercatoError | undefined {
  const available = funds?.available ?? 0;
  if (available < amount) {
    return new MercatoError("INSUFFICIENT_FUNDS", "The wallet's available balance does not cover this call", {
      details: { available_usd: formatUsd(Math.max(available, 0)), required_usd: formatUsd(amount) },
    });
  }
  const { cap, held } = funds as FundsRow;
  const spent = funds?.spent ?? 0;
  if (cap !== null && spent + held + amount > cap) {
    return new MercatoError("SPEND_CAP_EXCEEDED", "This call would pass the account's monthly spend cap", {
      details: {
        monthly_cap_usd: formatUsd(cap),
        spent_usd: formatUsd(spent),
        held_usd: formatUsd(held),
        required_usd: formatUsd(amount),
      },
    });
  }
  const spentToday = (funds?.spent_today ?? 0) + held;
  if (dailyCap !== null && spentToday + amount > dailyCap) {
    return new MercatoError(
      "SPEND_CAP_EXCEEDED",
      "This call would pass the daily spending limit of new accounts; it lifts as the account ages",
      {
        details: {
          daily_limit_usd: formatUsd(dailyCap),
          spent_today_usd: formatUsd(spentToday),
          held_usd: formatUsd(held),
          required_usd: formatUsd(amount),
        },
      },
    );
  }
  const keySpent = funds?.key_spent ?? 0;
  if (key && keySpent + amount > key.cap) {
    return new MercatoError("SPEND_CAP_EXCEEDED", "This call would pass the access key's spend cap", {
      details: {
        key_id: key.id,
        key_spend_cap_usd: formatUsd(key.cap),
        key_spent_usd: formatUsd(keySpent),
        required_usd: formatUsd(amount),
      },
    });
  }
  return undefined;
}

/** Why a hold cannot be resolved now: it does not exist, or it already was. */
export function refuseResolution(
  charge: ChargeRow | undefined,
  holdId: string,
  transferId: string,
): MercatoError | undefined {
  if (!charge) return new MercatoError("NOT_FOUND", `No hold ${holdId}`, { details: { hold_id: holdId } });
  if (charge.status !== "pending") {
    return new MercatoError("CONFLICT", `Hold ${holdId} is already ${charge.status}`, {
      details: { hold_id: holdId, status: charge.status, transfer_id: transferId },
    });
  }
  return undefined;
}

/** Why a pending hold cannot be captured: it expired (at or before `at`), or it is smaller. */
export function refuseCapture(charge: ChargeRow, amount: number, at: string): MercatoError | undefined {
  if (charge.expires_at <= at) {
    return new MercatoError("CONFLICT", `Hold ${charge.id} expired at ${charge.expires_at}`, {
      details: { hold_id: charge.id, status: "expired" },
    });
  }
  if (amount > charge.held) {
    return new MercatoError(
      "VALIDATION_ERROR",
      `Cannot capture more than the ${formatUsd(charge.held)} USD held`,
      {
        details: { held_usd: formatUsd(charge.held), amount_usd: formatUsd(amount) },
      },
    );
  }
  return undefined;
}

/**
 * The statement of one page of an account's charges, newest first: as buyer, as seller, or either.
 * `param(n)` writes the n-th parameter (`?` or `$n`); the parameters are the account id, with a
 * cursor its position (created_at, id), then the page size plus one, once per side, and for either
 * side the page size plus one again. Each side walks its index from the cursor down and stops after
 * a page; "either" merges the two pages (UNION drops a charge an account paid itself) instead of
 * sorting all the account's charges.
 */
export function chargePageQuery(
  role: "buyer" | "seller" | undefined,
  withCursor: boolean,
  param: (n: number) => string,
): string {
  let n = 0;
  const side = (column: string) =>
    `SELECT * FROM charges WHERE ${column} = ${param(++n)}${withCursor ? ` AND (created_at, id) < (${param(++n)}, ${param(++n)})` : ""}
     ORDER BY created_at DESC, id DESC LIMIT ${param(++n)}`;
  if (role !== undefined) return side(role === "buyer" ? "buyer_id" : "seller_account_id");
  const buyer = side("buyer_id");
  const seller = side("seller_account_id");
  return `SELECT * FROM (${buyer}) AS b UNION SELECT * FROM (${seller}) AS s
          ORDER BY created_at DESC, id DESC LIMIT ${param(++n)}`;
}

/** A page of charges from the rows {@link chargePageQuery} read (one more than the page: is there more?). */
export function toChargePage(
  rows: ChargeRow[],
  limit: number,
): { charges: ChargeRecord[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    charges: page.map(toCharge),
    nextCursor: rows.length > limit && last ? encodeChargeCursor(last.created_at, last.id) : null,
  };
}

/** Encodes the position of a charge in an account's list (newest first) as an opaque cursor. */
export function encodeChargeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString("base64url");
}

/**
 * Decodes a cursor made by {@link encodeChargeCursor}.
 *
 * @throws MercatoError `VALIDATION_ERROR` for a cursor that is not a `next_cursor` of this list.
 */
export function decodeChargeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(parsed) && typeof parsed[0] === "string" && typeof parsed[1] === "string") {
      return { createdAt: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new MercatoError("VALIDATION_ERROR", "cursor is not a next_cursor of this list", {
    details: { issues: [{ path: "cursor", message: "invalid cursor" }] },
  });
}

/** The parameters of {@link chargePageQuery}, in its order. */
export function chargePageParams(
  accountId: string,
  role: "buyer" | "seller" | undefined,
  position: { createdAt: string; id: string } | undefined,
  limit: number,
): unknown[] {
  const side = [accountId, ...(position ? [position.createdAt, position.id] : []), limit + 1];
  return role === undefined ? [...side, ...side, limit + 1] : side;
}
