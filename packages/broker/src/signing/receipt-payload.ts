import { formatUsd, type ReceiptPayloadValue } from "@mercato/protocol";

/** What a receipt signs of a captured charge (the ledger's `ChargeRecord` has these fields). */
export interface CapturedCharge {
  /** The transaction id. */
  id: string;
  buyerId: string;
  sellerAccountId: string;
  agentId: string;
  /** Micros. */
  captured: number;
  /** The marketplace's fee, micros. */
  fee: number;
  resolvedAt: string;
}

/** The payload a captured charge's receipt signs. */
export function receiptPayload(charge: CapturedCharge): ReceiptPayloadValue {
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
