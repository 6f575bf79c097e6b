export type {
  AccountsResource,
  AgentsResource,
  CreateClientOptions,
  InvokeOptions,
  KeysResource,
  MercatoClient,
  PurchaseOptions,
  ReceiptsResource,
  SettlementsResource,
  TopupsResource,
  TransactionsResource,
  UpdateKeyOptions,
} from "./client.js";
export { createClient, DEFAULT_TIMEOUT_MS, INVOKE_TIMEOUT_MARGIN_MS } from "./client.js";
export type { KeyStore } from "./key-store.js";
export { createMemoryKeyStore } from "./key-store.js";
export type { CursorPage, PageItem, PagePromise } from "./pages.js";
export { JWKS_REFETCH_INTERVAL_MS } from "./receipts.js";
export type { FetchFunction } from "./request.js";
export type {
  Account,
  AgentDetail,
  ApiKey,
  Balance,
  CategoryList,
  CreateAccountRequest,
  CreateAccountResponse,
  CreatedKey,
  CreateKeyRequest,
  CreateTopupRequest,
  DeactivateAgentResponse,
  ErrorEnvelope,
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
} from "./types.js";
export { SDK_VERSION } from "./version.js";
