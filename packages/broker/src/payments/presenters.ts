import { formatUsd } from "@mercato/protocol";
import type { SettlementRecord, TopupRecord } from "../ledger/port.js";
import type { PayoutDestinationRecord } from "./port.js";

/** A top-up on the wire; `note` says what happened when the provider has something to tell. */
export function presentTopup(topup: TopupRecord, note?: string) {
  return {
    topup_id: topup.id,
    account_id: topup.accountId,
    amount_usd: formatUsd(topup.amount),
    currency: "USD" as const,
    status: topup.status,
    provider: topup.provider,
    checkout_url: topup.checkoutUrl,
    ...(note !== undefined && { note }),
    created_at: topup.createdAt,
    completed_at: topup.completedAt,
  };
}

/** A settlement on the wire. */
export function presentSettlement(settlement: SettlementRecord) {
  return {
    settlement_id: settlement.id,
    account_id: settlement.accountId,
    settlement_date: settlement.settlementDate,
    amount_usd: formatUsd(settlement.amount),
    currency: "USD" as const,
    status: settlement.status,
    provider: settlement.provider,
    provider_ref: settlement.providerRef,
    failure: settlement.failure,
    created_at: settlement.createdAt,
    paid_at: settlement.paidAt,
  };
}

/** Where an account's settlements are paid through Stripe. */
export function presentPayoutAccount(accountId: string, stripe: PayoutDestinationRecord | undefined) {
  return {
    account_id: accountId,
    stripe_account_id: stripe?.destination ?? null,
    updated_at: stripe?.updatedAt ?? null,
  };
}
