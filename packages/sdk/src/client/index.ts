export { createClient, DEFAULT_TIMEOUT_MS, INVOKE_TIMEOUT_MARGIN_MS } from "./client.js";
export type { KeyStore } from "./key-store.js";
export { createMemoryKeyStore } from "./key-store.js";
export type { CreateClientOptions, InvokeOptions, MercatoClient, PurchaseOptions } from "./mercato-client.js";
export type { CursorPage, PageItem, PagePromise } from "./pages.js";
export { JWKS_REFETCH_INTERVAL_MS } from "./receipts.js";
export type { FetchFunction } from "./request.js";
export type {
  AccountsResource,
  AgentsResource,
  GrantsResource,
  KeysResource,
  ReceiptsResource,
  SettlementsResource,
  TopupsResource,
  TransactionsResource,
  UpdateKeyOptions,
} from "./resources.js";
export type {
  Account,
  AgentDetail,
  ApiKey,
  Balance,
  CategoryList,
  CloseGrantRequest,
  CreateAccountRequest,
  CreateAccountResponse,
  CreatedKey,
  CreateGrantRequest,
  CreateKeyRequest,
  CreateTopupRequest,
  DeactivateAgentResponse,
  ErrorEnvelope,
  Grant,
  InvokeRequest,
  InvokeResponse,
  Jwks,
  KeyList,
  ListTransactionsQuery,
  PriceHistory,
  PurchaseRequest,
  PurchaseResponse,
  Receipt,
  ReceiptPayload,
  RegisterAgentRequest,
  RegisterAgentResponse,
  SearchAgentsQuery,
  SearchAgentsResponse,
  SearchResult,
  Settlement,
  SettlementList,
  Topup,
  TransactionDetail,
  TransactionList,
  UpdateAgentRequest,
  UpdateKeyRequest,
  UsageReport,
  UsageReportResult,
  VerifyAgentResponse,
} from "./types.js";
export { SDK_VERSION } from "./version.js";
