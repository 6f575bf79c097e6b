export type { ErrorCode } from "@mercato/protocol";
export { isMercatoError, MercatoError } from "@mercato/protocol";
export type {
  Account,
  AccountsResource,
  AgentDetail,
  AgentsResource,
  ApiKey,
  CategoryList,
  CreateAccountRequest,
  CreateAccountResponse,
  CreateClientOptions,
  CreatedKey,
  CreateKeyRequest,
  DeactivateAgentResponse,
  ErrorEnvelope,
  FetchFunction,
  KeyList,
  KeysResource,
  MercatoClient,
  PriceHistory,
  RegisterAgentRequest,
  RegisterAgentResponse,
  SearchAgentsQuery,
  SearchAgentsResponse,
  SearchResult,
  UpdateAgentRequest,
} from "./client/index.js";
export { createClient, DEFAULT_TIMEOUT_MS, SDK_VERSION } from "./client/index.js";
