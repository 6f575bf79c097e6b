export type {
  AccountsResource,
  AgentsResource,
  CreateClientOptions,
  KeysResource,
  MercatoClient,
} from "./client.js";
export { createClient, DEFAULT_TIMEOUT_MS } from "./client.js";
export type { FetchFunction } from "./request.js";
export type {
  Account,
  AgentDetail,
  ApiKey,
  CategoryList,
  CreateAccountRequest,
  CreateAccountResponse,
  CreatedKey,
  CreateKeyRequest,
  DeactivateAgentResponse,
  ErrorEnvelope,
  KeyList,
  PriceHistory,
  RegisterAgentRequest,
  RegisterAgentResponse,
  SearchAgentsQuery,
  SearchAgentsResponse,
  SearchResult,
  UpdateAgentRequest,
} from "./types.js";
export { SDK_VERSION } from "./version.js";
