import * as z from "zod";
import { GRANT_ID_PATTERN } from "../direct/grant-id.js";
import { isUsdAmount, parseUsd } from "../money/money.js";
import { AccountId, AgentId, Timestamp, UsdAmount, UsdAmountInput } from "./common.js";

/**
 * Grant id: `grt_…`. Lower-case letters and digits only, so that it can sit in a voucher's signing
 * input (one field a line) and in a direct call's `call_id` (`{grant_id}:{sequence}`) unambiguously.
 */
export const GrantId = z.string().regex(GRANT_ID_PATTERN, "must look like grt_…");

/** A buyer's Ed25519 public key: the 32 raw bytes, base64url without padding (43 characters). */
export const BuyerPublicKey = z
  .string()
  .regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, "must be 32 bytes, base64url without padding")
  .describe("The buyer's Ed25519 public key for this grant: the 32 raw bytes, base64url");

/** An Ed25519 signature: 64 bytes, base64url without padding (86 characters). */
export const Ed25519Signature = z
  .string()
  .regex(/^[A-Za-z0-9_-]{85}[AQgw]$/, "must be 64 bytes, base64url without padding")
  .describe("Ed25519 signature, 64 bytes, base64url");

/** A voucher's sequence number: 1 for the first call of a grant, one more for each later call. */
export const VoucherSequence = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

const positiveWireAmount = (what: string) =>
  UsdAmount.refine((value) => isUsdAmount(value) && parseUsd(value) > 0n, `${what} must be above 0`);

/**
 * What a grant token asserts, signed by the broker: the buyer may call `agent_id` at `endpoint`
 * for `price_per_call_usd` per successful call, paying with vouchers signed by `buyer_public_key`,
 * up to `budget_usd` in all, until `expires_at`. The broker holds `budget_usd` on the buyer's wallet.
 */
export const GrantPayload = z
  .object({
    grant_id: GrantId,
    agent_id: AgentId,
    buyer_id: AccountId,
    seller_account_id: AccountId,
    endpoint: z.url().max(2048).describe("The seller's api_endpoint: where the SDK sends direct calls"),
    price_per_call_usd: positiveWireAmount("the price").describe("Price of each successful call"),
    budget_usd: positiveWireAmount("the budget").describe("Most the vouchers of this grant may ever owe"),
    issued_at: Timestamp,
    expires_at: Timestamp,
    buyer_public_key: BuyerPublicKey,
    issuer: z.string().min(1).describe("The broker that signed it"),
  })
  .refine((grant) => Date.parse(grant.expires_at) > Date.parse(grant.issued_at), {
    message: "must expire after it is issued",
    path: ["expires_at"],
  });

/** Shortest and longest life of a grant, in seconds: 1 minute to 1 day. */
export const MIN_GRANT_TTL_S = 60;
export const MAX_GRANT_TTL_S = 86_400;
/** Life of a grant that names none, in seconds. */
export const DEFAULT_GRANT_TTL_S = 3600;

/**
 * `POST /grants` (direct mode): open a grant on an agent the caller may buy. The broker holds
 * `budget_usd` on the caller's wallet (refused like any hold: funds, caps) and answers a signed
 * {@link Grant}. The SDK generates `buyer_public_key` for this grant alone.
 */
export const CreateGrantRequest = z.strictObject({
  agent_id: AgentId,
  budget_usd: UsdAmountInput.refine(
    (value) => !isUsdAmount(value) || parseUsd(value) > 0n,
    "must be above 0",
  ).describe("Most the grant may spend, in USD; held on the wallet until the grant is closed"),
  ttl_s: z
    .number()
    .int()
    .min(MIN_GRANT_TTL_S)
    .max(MAX_GRANT_TTL_S)
    .default(DEFAULT_GRANT_TTL_S)
    .describe(
      `Seconds until the grant expires, ${MIN_GRANT_TTL_S}–${MAX_GRANT_TTL_S} (default ${DEFAULT_GRANT_TTL_S})`,
    ),
  buyer_public_key: BuyerPublicKey,
});

/** A grant as the broker shows it (`POST /grants`, `GET /grants/{id}`, redeem and close answers). */
export const Grant = z.object({
  grant_id: GrantId,
  token: z.string().describe("The grant token (compact JWS): send it as the Mercato-Grant header"),
  agent_id: AgentId,
  buyer_id: AccountId,
  endpoint: z.string().describe("The seller's api_endpoint: where direct calls go"),
  price_per_call_usd: UsdAmount,
  budget_usd: UsdAmount,
  issued_at: Timestamp,
  expires_at: Timestamp,
  status: z
    .enum(["open", "closed", "expired"])
    .describe(
      "open: usable; closed: the buyer closed it (it settles a grace period later); expired: past expires_at",
    ),
  redeemed_usd: UsdAmount.optional().describe(
    "Highest amount claimed so far, by the seller's redemptions (what it earned, at most its voucher's amount) or the buyer's final voucher: what settlement captures",
  ),
  captured_usd: UsdAmount.optional().describe(
    "What was charged when the grant was settled (closed or expired)",
  ),
  closed_at: Timestamp.optional().describe("When the buyer closed it"),
  settled_at: Timestamp.optional().describe("When the broker captured captured_usd and voided the rest"),
});

const VoucherFields = {
  sequence: VoucherSequence,
  owed_usd: UsdAmountInput.describe(
    "The voucher's cumulative amount owed, in USD: on a call's voucher, every earlier success and that call, paid up front",
  ),
  signature: Ed25519Signature,
};

/**
 * `POST /grants/{id}/redeem` (the seller): hand in the highest voucher seen for the grant, and
 * what the seller earned by its own count (`earned_usd`, at most the voucher's `owed_usd`).
 * Vouchers are prepaid and cumulative: the best one pays for every call the seller ran, and the
 * prepaid unit of a call that failed is not earned. The broker keeps the highest claim.
 */
export const RedeemGrantRequest = z.strictObject({
  ...VoucherFields,
  earned_usd: UsdAmountInput.describe(
    "What the seller earned by its own count, in USD: the price of its successful calls of the grant, at most owed_usd (a larger claim is a VALIDATION_ERROR)",
  ),
});

/**
 * `POST /grants/{id}/close` (the buyer): the buyer's final voucher (a sequence above its last
 * call's), owing for every successful call and nothing more, or none when nothing is owed. All
 * three fields, or none.
 */
export const CloseGrantRequest = z
  .strictObject({
    sequence: VoucherFields.sequence.optional(),
    owed_usd: VoucherFields.owed_usd.optional(),
    signature: VoucherFields.signature.optional(),
  })
  .refine(
    (body) =>
      (body.sequence === undefined) === (body.owed_usd === undefined) &&
      (body.sequence === undefined) === (body.signature === undefined),
    "give sequence, owed_usd and signature together, or none of them",
  );

/** Most outcomes one usage report may carry. */
export const MAX_USAGE_REPORTS = 1000;

/**
 * A direct call's outcome in a usage report: `success`; `failure` (the seller's fault: an error, a
 * timeout, an invalid answer); `client_error` (the seller kit refused the buyer's input as invalid:
 * counted apart, never as a seller failure).
 */
export const UsageOutcome = z.enum(["success", "failure", "client_error"]);
export type UsageOutcomeValue = z.infer<typeof UsageOutcome>;

/**
 * `POST /usage/reports` (the SDK, and the seller kit with its owner's account key): outcomes of
 * direct calls, which the broker never sees, for the agents' trust metrics. A call is named by its
 * grant and voucher sequence, and has one outcome: the seller's report decides, and a success
 * counts only when the grant's vouchers pay for it (docs/direct-mode.md, §5). Each report gives
 * `outcome`, or `success` (true: `success`, false: `failure`), or both when they agree.
 */
export const UsageReport = z.strictObject({
  reports: z
    .array(
      z
        .strictObject({
          agent_id: AgentId,
          grant_id: GrantId,
          sequence: VoucherSequence.describe("The call's voucher sequence: a call has one outcome"),
          success: z.boolean().optional().describe("true: `outcome` success; false: failure"),
          outcome: UsageOutcome.optional().describe(
            "The call's outcome; `client_error` (the seller kit refused the input as invalid) is counted apart, never as a failure",
          ),
          response_time_ms: z.number().int().min(0).max(3_600_000),
          at: Timestamp,
        })
        .refine(
          (report) =>
            report.outcome === undefined
              ? report.success !== undefined
              : report.success === undefined || report.success === (report.outcome === "success"),
          "give outcome or success (or both, agreeing)",
        ),
    )
    .min(1)
    .max(MAX_USAGE_REPORTS),
});

/** The outcome a usage report gives: its `outcome`, or what its `success` says. */
export function usageOutcomeOf(report: {
  success?: boolean | undefined;
  outcome?: UsageOutcomeValue | undefined;
}): UsageOutcomeValue {
  return report.outcome ?? (report.success ? "success" : "failure");
}

/** `POST /usage/reports` answer: how many outcomes were counted, kept for later, or not counted. */
export const UsageReportResult = z.object({
  accepted: z.number().int().min(0).describe("Outcomes counted toward the agents' metrics now"),
  pending: z
    .number()
    .int()
    .min(0)
    .describe(
      "Successes kept, not counted yet: each counts once the grant's vouchers (a redemption, the buyer's final voucher) pay for it, or, from the buyer, once the grant settles without the seller's report of that call",
    ),
  ignored: z
    .number()
    .int()
    .min(0)
    .describe(
      "Outcomes that will not count: a call whose outcome is already decided (the seller's report decides; a call has one outcome), a buyer's failure or client error (a buyer's word against the seller costs it nothing: direct failures count from the seller kit's own reports, and the broker measures sellers through proxied calls and health checks), a grant the caller is not a party to or that names another agent (an access key acts only on its own agent), a call between accounts of one owner, a report more than a day after the grant settled, or past the grant's caps",
    ),
});
