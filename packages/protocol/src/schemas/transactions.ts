import * as z from "zod";
import { AccountId, AgentId, Currency, Timestamp } from "./common.js";

/**
 * A Transaction: one charge from a buyer to a seller agent. `amount` is a display number of USD;
 * the exact figure is the ledger's.
 */
export const Transaction = z.object({
  id: z.string(),
  buyer_id: AccountId,
  seller_id: AgentId,
  amount: z.number(),
  currency: Currency,
  status: z.enum(["pending", "completed", "voided", "refunded"]),
  created_at: Timestamp,
});
