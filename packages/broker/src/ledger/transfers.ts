import { MercatoError } from "@mercato/protocol";
import type { ChargeRecord, HoldRequest, SettlementRecord, TopupRecord } from "./port.js";
import { type ChargeRow, type TopupRow, type TransferRow, toCharge } from "./rows.js";

// The transfers the ledger makes and the ids it gives its own, and when a retried request is the
// same one (a replay) or another one using a taken id (a conflict).

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
