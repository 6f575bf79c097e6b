import type * as z from "zod";
import {
  Account,
  ApiKey,
  CreateAccountRequest,
  CreateAccountResponse,
  CreatedKey,
  CreateKeyRequest,
  KeyList,
} from "./accounts.js";
import {
  Agent,
  AgentDetail,
  AgentMetrics,
  AgentPricing,
  AgentWindowMetrics,
  CategoryList,
  DeactivateAgentResponse,
  PriceChange,
  PriceHistory,
  PricingInput,
  RegisterAgentRequest,
  RegisterAgentResponse,
  SearchAgentsResponse,
  SearchResult,
  UpdateAgentRequest,
} from "./agents.js";
import { AlertChannels, SetAlertChannelsRequest } from "./alerts.js";
import { ErrorEnvelopeSchema, HealthzResponse } from "./common.js";
import {
  InvokeRequest,
  InvokeResponse,
  PurchaseRequest,
  PurchaseResponse,
  UpdateKeyRequest,
} from "./invoke.js";
import {
  AuditReport,
  Balance,
  CreateTopupRequest,
  Jwks,
  Limits,
  PayoutAccount,
  PublicJwk,
  Receipt,
  ReceiptPayload,
  SetLimitsRequest,
  SetPayoutAccountRequest,
  Settlement,
  SettlementList,
  SettlementRun,
  Topup,
  TransactionDetail,
  TransactionList,
} from "./ledger.js";
import { Transaction } from "./transactions.js";

export {
  Account,
  ApiKey,
  CreateAccountRequest,
  CreateAccountResponse,
  CreatedKey,
  CreateKeyRequest,
  KeyList,
} from "./accounts.js";
export {
  Agent,
  AgentDetail,
  AgentMetrics,
  AgentPricing,
  AgentStatus,
  AgentWindowMetrics,
  CategoryList,
  DeactivateAgentResponse,
  MAX_PRICE_PER_CALL_MICROS,
  MetricsWindow,
  PriceChange,
  PriceHistory,
  PricePerCallInput,
  PricingInput,
  PricingModel,
  RegisterAgentRequest,
  RegisterAgentResponse,
  SearchAgentsQuery,
  SearchAgentsResponse,
  SearchResult,
  SearchSort,
  UpdateAgentRequest,
} from "./agents.js";
export { AlertChannels, SetAlertChannelsRequest } from "./alerts.js";
export {
  AccountId,
  AgentId,
  Currency,
  ErrorEnvelopeSchema,
  HealthzResponse,
  KeyId,
  Slug,
  Timestamp,
  UsdAmount,
  UsdAmountInput,
} from "./common.js";
export {
  BuyerPublicKey,
  CloseGrantRequest,
  CreateGrantRequest,
  Ed25519Signature,
  Grant,
  GrantId,
  GrantPayload,
  MAX_GRANT_TTL_S,
  MAX_USAGE_REPORTS,
  MIN_GRANT_TTL_S,
  RedeemGrantRequest,
  UsageReport,
  VoucherSequence,
} from "./grants.js";
export {
  InvokeFailureDetails,
  InvokeMetrics,
  InvokeRequest,
  InvokeResponse,
  MAX_RATE_LIMIT_PER_MINUTE,
  PurchaseRequest,
  PurchaseResponse,
  UpdateKeyRequest,
} from "./invoke.js";
export {
  AuditReport,
  Balance,
  CreateTopupRequest,
  Jwks,
  Limits,
  ListTransactionsQuery,
  MAX_TOPUP_MICROS,
  MIN_TOPUP_MICROS,
  PayoutAccount,
  PublicJwk,
  Receipt,
  ReceiptPayload,
  SetLimitsRequest,
  SetPayoutAccountRequest,
  Settlement,
  SettlementList,
  SettlementRun,
  StripeAccountId,
  Topup,
  TransactionDetail,
  TransactionList,
} from "./ledger.js";
export { SellerCallRequest, SellerCallResponse } from "./seller.js";
export { Transaction } from "./transactions.js";

// Direct mode's schemas (grants.ts: CreateGrantRequest, Grant, RedeemGrantRequest,
// CloseGrantRequest, UsageReport) are exported but not registered below yet: both maps go into the
// broker's OpenAPI components whole, so registering them before their routes exist would publish
// schemas no route uses and make the SDK's generated types stale. Register them with the routes.

/**
 * Named request bodies, as they appear in the OpenAPI document's components (read as input:
 * defaults optional, amounts as string or number).
 */
export const REQUEST_SCHEMAS = {
  CreateAccountRequest,
  CreateKeyRequest,
  CreateTopupRequest,
  InvokeRequest,
  PricingInput,
  PurchaseRequest,
  RegisterAgentRequest,
  SetAlertChannelsRequest,
  SetLimitsRequest,
  SetPayoutAccountRequest,
  UpdateAgentRequest,
  UpdateKeyRequest,
} satisfies Record<string, z.ZodType>;

/** Named response bodies and the seed's objects, as they appear in the OpenAPI components. */
export const RESPONSE_SCHEMAS = {
  Account,
  Agent,
  AgentDetail,
  AgentMetrics,
  AgentPricing,
  AgentWindowMetrics,
  AlertChannels,
  ApiKey,
  AuditReport,
  Balance,
  CategoryList,
  CreateAccountResponse,
  CreatedKey,
  DeactivateAgentResponse,
  ErrorEnvelope: ErrorEnvelopeSchema,
  HealthzResponse,
  InvokeResponse,
  Jwks,
  KeyList,
  Limits,
  PayoutAccount,
  PriceChange,
  PriceHistory,
  PublicJwk,
  PurchaseResponse,
  Receipt,
  ReceiptPayload,
  RegisterAgentResponse,
  SearchAgentsResponse,
  SearchResult,
  Settlement,
  SettlementList,
  SettlementRun,
  Topup,
  Transaction,
  TransactionDetail,
  TransactionList,
} satisfies Record<string, z.ZodType>;
