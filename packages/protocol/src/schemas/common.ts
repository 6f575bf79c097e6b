import * as z from "zod";
import { ERROR_CODE_LIST } from "../errors/codes.js";
import { isUsdAmount } from "../money/money.js";

/** An ISO 8601 UTC timestamp, as every `*_at` field on the wire. */
export const Timestamp = z.iso.datetime({ offset: false }).describe("ISO 8601 timestamp in UTC");

/** Marketplace account id: `acct_…`. */
export const AccountId = z.string().regex(/^acct_[a-z0-9]{8,40}$/, "must look like acct_…");
/** Agent id: `agent_…`. */
export const AgentId = z.string().regex(/^agent_[a-z0-9]{6,40}$/, "must look like agent_…");
/** API key id: `key_…` (the id, never the secret). */
export const KeyId = z.string().regex(/^key_[a-z0-9]{8,40}$/, "must look like key_…");

/** Currency of every amount: Mercato settles in US dollars only. */
export const Currency = z.literal("USD");

/**
 * A USD amount as a request field: a decimal string (`"0.02"`) or a number (`0.02`), exact, at most
 * six decimals, not negative. Convert with `parseUsd`.
 */
export const UsdAmountInput = z
  .union([z.string().max(32), z.number()])
  .refine(isUsdAmount, "must be a non-negative USD amount with at most 6 decimal places")
  .describe("USD amount: a decimal string or number, at most 6 decimal places");

/** A USD amount the ledger moves, on the wire: a decimal string with six decimals (`"0.020000"`). */
export const UsdAmount = z
  .string()
  .regex(/^-?\d+\.\d{6}$/)
  .describe('USD amount as a decimal string with 6 decimals, e.g. "0.020000"');

/** Lower-case slug used for categories and tags. */
export const Slug = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[a-z0-9][a-z0-9-]*$/, "must be lower-case letters, digits and dashes");

/** The error envelope every failed request answers with. */
export const ErrorEnvelopeSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODE_LIST),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
      request_id: z.string(),
    }),
  })
  .describe("Every error: a code from the closed set, a message, optional details and the request id");

/** `GET /healthz`. */
export const HealthzResponse = z.object({
  status: z.literal("ok"),
  version: z.string(),
  time: Timestamp,
});
