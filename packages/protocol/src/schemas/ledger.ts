import * as z from "zod";
import { isUsdAmount, MICROS_PER_USD, PLATFORM_FEE_BPS, parseUsd } from "../money/money.js";
import { AccountId, AgentId, Currency, Timestamp, UsdAmount } from "./common.js";

/** The smallest top-up: 10 USD. */
export const MIN_TOPUP_MICROS = 10n * MICROS_PER_USD;
/** The largest single top-up: 10,000 USD. */
export const MAX_TOPUP_MICROS = 10_000n * MICROS_PER_USD;

/** `GET /balance`: what the account can spend, what is held for calls in flight, what it earned. */
export const Balance = z.object({
  account_id: AccountId,
  available_usd: UsdAmount.describe("Spendable now: credits − debits − holds"),
  held_usd: UsdAmount.describe("Held for calls in flight"),
  earnings_usd: UsdAmount.describe("Seller earnings not yet settled"),
  currency: Currency,
  monthly_cap_usd: UsdAmount.nullable(),
  spent_this_month_usd: UsdAmount,
});

/**
 * One charge: a Transaction (a display `amount` as number) plus the exact figures as
 * decimal strings, the fee and the seller's share. `status`: `pending` while the call runs,
 * `completed` once captured, `voided` when the call failed or the hold expired (nothing paid).
 */
export const TransactionDetail = z.object({
  id: z.string(),
  buyer_id: AccountId,
  seller_id: AgentId,
  seller_account_id: AccountId,
  amount: z.number(),
  currency: Currency,
  status: z.enum(["pending", "completed", "voided"]),
  created_at: Timestamp,
  held_usd: UsdAmount,
  amount_usd: UsdAmount.describe("Captured (charged); 0 unless completed"),
  fee_usd: UsdAmount.describe(`The marketplace's ${Number(PLATFORM_FEE_BPS) / 100}%`),
  seller_share_usd: UsdAmount.describe("amount − fee"),
  resolved_at: Timestamp.nullable(),
});

/** `GET /transactions`: the caller's charges as buyer or seller, newest first. */
export const TransactionList = z.object({
  data: z.array(TransactionDetail),
  next_cursor: z.string().nullable(),
});

/** `GET /transactions` query. */
export const ListTransactionsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).optional().describe("Results per page, 1–100 (default 20)"),
  cursor: z.string().max(200).optional().describe("next_cursor of the previous page"),
  role: z.enum(["buyer", "seller"]).optional().describe("Only charges the caller paid, or earned"),
});

/** What a receipt asserts: a captured charge, signed by the broker. */
export const ReceiptPayload = z.object({
  transaction_id: z.string(),
  buyer_id: AccountId,
  seller_id: AgentId,
  seller_account_id: AccountId,
  agent_id: AgentId,
  amount_usd: UsdAmount,
  fee_usd: UsdAmount,
  seller_share_usd: UsdAmount,
  currency: Currency,
  captured_at: Timestamp,
  issuer: z.string().describe("The broker that signed it"),
});

/** `GET /transactions/{id}/receipt`: the payload and its compact JWS (EdDSA over Ed25519). */
export const Receipt = z.object({
  payload: ReceiptPayload,
  jws: z.string().describe("Compact JWS of the payload; verify with the broker's /.well-known/jwks.json"),
});

/** An Ed25519 public key as a JWK. */
export const PublicJwk = z.object({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  x: z.string(),
  kid: z.string(),
  alg: z.literal("EdDSA"),
  use: z.literal("sig"),
});

/** `GET /.well-known/jwks.json`. */
export const Jwks = z.object({ keys: z.array(PublicJwk) });

/** `PUT /accounts/me/limits`: a monthly spend cap in USD, or null for none. */
export const SetLimitsRequest = z.strictObject({
  monthly_cap_usd: z
    .union([z.string().max(32), z.number()])
    .refine(isUsdAmount, "must be a USD amount with at most 6 decimal places")
    .nullable()
    .describe("Most the account may spend per calendar month (UTC); null removes the cap"),
});

/** The account's limits. */
export const Limits = z.object({
  account_id: AccountId,
  monthly_cap_usd: UsdAmount.nullable(),
});

/** `POST /topups`. */
export const CreateTopupRequest = z.strictObject({
  amount_usd: z
    .union([z.string().max(32), z.number()])
    .refine(isUsdAmount, "must be a USD amount with at most 6 decimal places")
    .refine(
      (value) => !isUsdAmount(value) || parseUsd(value) <= MAX_TOPUP_MICROS,
      `must be at most ${MAX_TOPUP_MICROS / MICROS_PER_USD} USD per top-up`,
    )
    .describe(`At least ${MIN_TOPUP_MICROS / MICROS_PER_USD} USD`),
});

/** A top-up: pending until the payment provider confirms it, then the wallet is credited once. */
export const Topup = z.object({
  topup_id: z.string(),
  account_id: AccountId,
  amount_usd: UsdAmount,
  currency: Currency,
  status: z.enum(["pending", "succeeded", "failed"]),
  provider: z.string(),
  checkout_url: z.string().nullable().describe("Where to pay (Stripe Checkout); null once credited"),
  note: z.string().optional().describe("What happened, e.g. that the dev provider credited at once"),
  created_at: Timestamp,
  completed_at: Timestamp.nullable(),
});

/** A payout of a seller's earnings for one settlement date. */
export const Settlement = z.object({
  settlement_id: z.string(),
  account_id: AccountId,
  settlement_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  amount_usd: UsdAmount,
  currency: Currency,
  status: z.enum(["pending", "paid", "failed"]),
  provider: z.string(),
  provider_ref: z.string().nullable(),
  failure: z.string().nullable(),
  created_at: Timestamp,
  paid_at: Timestamp.nullable(),
});

/** `GET /settlements`. */
export const SettlementList = z.object({ data: z.array(Settlement) });

/** A Stripe Connect account id (`acct_…`): where a seller's settlements are transferred. */
export const StripeAccountId = z
  .string()
  .regex(/^acct_[A-Za-z0-9]{6,64}$/, "must be a Stripe connected account id (acct_…)");

/** `PUT /accounts/me/payout`: where the account's settlements are paid. */
export const SetPayoutAccountRequest = z.strictObject({
  stripe_account_id: StripeAccountId.nullable().describe(
    "The seller's Stripe account connected to this marketplace (acct_…); null removes it",
  ),
});

/** Where the account's settlements are paid; without an account, Stripe payouts wait (failed, retried). */
export const PayoutAccount = z.object({
  account_id: AccountId,
  stripe_account_id: z.string().nullable(),
  updated_at: Timestamp.nullable(),
});

/** `POST /admin/settlements/run` answer. */
export const SettlementRun = z.object({
  settlement_date: z.string(),
  created: z.number().int(),
  paid: z.number().int(),
  failed: z.number().int(),
  settlements: z.array(Settlement),
});

/** `GET /admin/audit`: the ledger's invariants, and every violation found. */
export const AuditReport = z.object({
  ok: z.boolean(),
  checked_at: Timestamp,
  accounts: z.number().int(),
  transfers: z.number().int(),
  totals: z.object({
    topped_up_usd: UsdAmount,
    paid_out_usd: UsdAmount,
    wallets_usd: UsdAmount,
    held_usd: UsdAmount,
    earnings_usd: UsdAmount,
    revenue_usd: UsdAmount,
  }),
  violations: z.array(z.object({ rule: z.string(), detail: z.string() })),
});
