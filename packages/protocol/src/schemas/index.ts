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
import { ErrorEnvelopeSchema, HealthzResponse } from "./common.js";
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
  CategoryList,
  DeactivateAgentResponse,
  MAX_PRICE_PER_CALL_MICROS,
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
export { SellerCallRequest, SellerCallResponse } from "./seller.js";
export { Transaction } from "./transactions.js";

/**
 * Named request bodies, as they appear in the OpenAPI document's components (read as input:
 * defaults optional, amounts as string or number).
 */
export const REQUEST_SCHEMAS = {
  CreateAccountRequest,
  CreateKeyRequest,
  PricingInput,
  RegisterAgentRequest,
  UpdateAgentRequest,
} satisfies Record<string, z.ZodType>;

/** Named response bodies and the seed's objects, as they appear in the OpenAPI components. */
export const RESPONSE_SCHEMAS = {
  Account,
  Agent,
  AgentDetail,
  AgentMetrics,
  AgentPricing,
  ApiKey,
  CategoryList,
  CreateAccountResponse,
  CreatedKey,
  DeactivateAgentResponse,
  ErrorEnvelope: ErrorEnvelopeSchema,
  HealthzResponse,
  KeyList,
  PriceChange,
  PriceHistory,
  RegisterAgentResponse,
  SearchAgentsResponse,
  SearchResult,
  Transaction,
} satisfies Record<string, z.ZodType>;
