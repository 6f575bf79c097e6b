import type { components, operations } from "../generated/openapi.js";

type Schemas = components["schemas"];

/** `POST /accounts` body: sign up. */
export type CreateAccountRequest = Schemas["CreateAccountRequest"];
/** `POST /accounts` answer: the account and its first account key (`api_key`), shown once. */
export type CreateAccountResponse = Schemas["CreateAccountResponse"];
/** A marketplace account. */
export type Account = Schemas["Account"];

/** An API key's metadata (never its secret). */
export type ApiKey = Schemas["ApiKey"];
/** `GET /keys` answer. */
export type KeyList = Schemas["KeyList"];
/** `POST /keys` body. */
export type CreateKeyRequest = Schemas["CreateKeyRequest"];
/** A key with its secret (`api_key`), shown once. */
export type CreatedKey = Schemas["CreatedKey"];

/** `POST /agents/register` body. */
export type RegisterAgentRequest = Schemas["RegisterAgentRequest"];
/** `POST /agents/register` answer. */
export type RegisterAgentResponse = Schemas["RegisterAgentResponse"];
/** `PATCH /agents/{id}` body: any subset of the registration's fields. */
export type UpdateAgentRequest = Schemas["UpdateAgentRequest"];
/** An agent with its pricing and metrics. */
export type AgentDetail = Schemas["AgentDetail"];
/** `DELETE /agents/{id}` answer. */
export type DeactivateAgentResponse = Schemas["DeactivateAgentResponse"];
export type VerifyAgentResponse = Schemas["VerifyAgentResponse"];
/** An agent's prices, newest first. */
export type PriceHistory = Schemas["PriceHistory"];
/** `GET /agents/search` filters, sort order and paging. */
export type SearchAgentsQuery = NonNullable<operations["searchAgents"]["parameters"]["query"]>;
/** A page of search results with the cursor of the next page (`null` at the end). */
export type SearchAgentsResponse = Schemas["SearchAgentsResponse"];
/** One search result. */
export type SearchResult = Schemas["SearchResult"];
/** `GET /categories` answer. */
export type CategoryList = Schemas["CategoryList"];
/** The error envelope the broker answers every failure with. */
export type ErrorEnvelope = Schemas["ErrorEnvelope"];

/** `POST /purchase` body. */
export type PurchaseRequest = Schemas["PurchaseRequest"];
/** `POST /purchase` answer: the access key (`api_key`, shown once), where to invoke, the price. */
export type PurchaseResponse = Schemas["PurchaseResponse"];
/** `POST /agents/{id}/invoke` body: the seller's input and an optional seller timeout. */
export type InvokeRequest = Schemas["InvokeRequest"];
/** `POST /agents/{id}/invoke` answer: the seller's output, the charge, metrics and the signed receipt. */
export type InvokeResponse = Schemas["InvokeResponse"];

/** `GET /balance` answer: what the account can spend, has on hold and has earned. */
export type Balance = Schemas["Balance"];
/** A charge as the broker keeps it: amounts, fee, seller share and status. */
export type TransactionDetail = Schemas["TransactionDetail"];
/** `GET /transactions` answer: a page of charges with the cursor of the next page (`null` at the end). */
export type TransactionList = Schemas["TransactionList"];
/** `GET /transactions` filters and paging. */
export type ListTransactionsQuery = NonNullable<operations["listTransactions"]["parameters"]["query"]>;
/** A charge's receipt: its payload and the broker's compact JWS of it. */
export type Receipt = Schemas["Receipt"];
/** What a receipt states: who paid whom, how much, the fee and when. */
export type ReceiptPayload = Schemas["ReceiptPayload"];
/** The broker's public keys (`GET /.well-known/jwks.json`). */
export type Jwks = Schemas["Jwks"];

/** `PATCH /keys/{id}` body, as sent on the wire. */
export type UpdateKeyRequest = Schemas["UpdateKeyRequest"];

/** `POST /topups` body: the amount in USD, whole cents, at least 10. */
export type CreateTopupRequest = Schemas["CreateTopupRequest"];
/** A top-up: pending until the payment provider confirms it (`checkout_url` is where to pay), then succeeded. */
export type Topup = Schemas["Topup"];
/** A payout of a seller's earnings for one settlement date. */
export type Settlement = Schemas["Settlement"];
/** `GET /settlements` answer: the account's settlements, newest date first. */
export type SettlementList = Schemas["SettlementList"];

/** `POST /grants` body (direct mode): the agent, the budget held for the grant, its life and the buyer key. */
export type CreateGrantRequest = Schemas["CreateGrantRequest"];
/** A direct-mode grant: its token, the seller's endpoint, price, budget, life, status and what was redeemed. */
export type Grant = Schemas["Grant"];
/** `POST /grants/{id}/close` body: the buyer's final voucher, or nothing when nothing is owed. */
export type CloseGrantRequest = Schemas["CloseGrantRequest"];
/** `POST /usage/reports` body: outcomes of direct calls for the agents' metrics. */
export type UsageReport = Schemas["UsageReport"];
/** `POST /usage/reports` answer: how many outcomes were counted. */
export type UsageReportResult = Schemas["UsageReportResult"];
