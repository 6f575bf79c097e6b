import { formatUsd, type ReceiptPayloadValue } from "@mercato/protocol";
import type { ChargeRecord } from "../ledger/port.js";

/** The payload a captured charge's receipt signs. */
export function receiptPayload(charge: ChargeRecord & { resolvedAt: string }): ReceiptPayloadValue {
  return {
    transaction_id: charge.id,
    buyer_id: charge.buyerId,
    seller_id: charge.agentId,
    seller_account_id: charge.sellerAccountId,
    agent_id: charge.agentId,
    amount_usd: formatUsd(charge.captured),
    fee_usd: formatUsd(charge.fee),
    seller_share_usd: formatUsd(charge.captured - charge.fee),
    currency: "USD",
    captured_at: charge.resolvedAt,
    issuer: "mercato",
  };
}
