import { formatUsd, microsToUsdNumber } from "@mercato/protocol";
import type { BalanceRecord, ChargeRecord } from "./port.js";

/** `GET /balance`. */
export function presentBalance(balance: BalanceRecord) {
  return {
    account_id: balance.accountId,
    available_usd: formatUsd(balance.available),
    held_usd: formatUsd(balance.held),
    earnings_usd: formatUsd(balance.earnings),
    currency: "USD" as const,
    monthly_cap_usd: balance.monthlyCap === null ? null : formatUsd(balance.monthlyCap),
    spent_this_month_usd: formatUsd(balance.spentThisMonth),
  };
}

/** A charge in the Transaction shape, plus the exact figures. */
export function presentCharge(charge: ChargeRecord) {
  const shown = charge.status === "pending" ? charge.held : charge.captured;
  return {
    id: charge.id,
    buyer_id: charge.buyerId,
    seller_id: charge.agentId,
    seller_account_id: charge.sellerAccountId,
    amount: microsToUsdNumber(shown),
    currency: "USD" as const,
    status: charge.status,
    created_at: charge.createdAt,
    held_usd: formatUsd(charge.held),
    amount_usd: formatUsd(charge.captured),
    fee_usd: formatUsd(charge.fee),
    seller_share_usd: formatUsd(charge.captured - charge.fee),
    resolved_at: charge.resolvedAt,
  };
}
