import type { PagePromise } from "./pages.js";
import type {
  Account,
  AgentDetail,
  ApiKey,
  CategoryList,
  CreateAccountRequest,
  CreateAccountResponse,
  CreatedKey,
  CreateKeyRequest,
  DeactivateAgentResponse,
  Grant,
  KeyList,
  ListTransactionsQuery,
  PriceHistory,
  Receipt,
  ReceiptPayload,
  RegisterAgentRequest,
  RegisterAgentResponse,
  SearchAgentsQuery,
  SearchAgentsResponse,
  SearchResult,
  SettlementList,
  Topup,
  TransactionDetail,
  TransactionList,
  UpdateAgentRequest,
  VerifyAgentResponse,
} from "./types.js";

/** Sign-up and the calling account. */
export interface AccountsResource {
  /** Creates an account; the answer carries its first account key, shown once. No key needed. */
  create(body: CreateAccountRequest): Promise<CreateAccountResponse>;
  /**
   * The account of the client's key.
   * @throws MercatoError `UNAUTHENTICATED` without a key, `INVALID_API_KEY` with a revoked one.
   */
  me(): Promise<Account>;
}

/** The account's API keys. */
export interface KeysResource {
  /** Every key of the account, newest first, revoked ones included. */
  list(): Promise<KeyList>;
  /** Creates an account key; its secret (`api_key`) is shown once. */
  create(body?: CreateKeyRequest): Promise<CreatedKey>;
  /**
   * Revokes a key at once.
   * @throws MercatoError `NOT_FOUND` for another account's key, `CONFLICT` for the last working account key.
   */
  revoke(keyId: string): Promise<ApiKey>;
  /**
   * Revokes a key and issues a replacement with the same settings. The client keeps the key it was
   * created with: after rotating that key, create a client with the new one.
   * @throws MercatoError `NOT_FOUND` for another account's key, `CONFLICT` for a revoked key.
   */
  rotate(keyId: string): Promise<CreatedKey>;
  /**
   * Renames a key, or changes an access key's rate limit (calls per minute) or spend cap (USD);
   * `null` restores the default rate limit, removes the cap or clears the name.
   * @throws MercatoError `NOT_FOUND` for another account's key, `VALIDATION_ERROR` for a limit or cap on an account key or out of range, `CONFLICT` for a revoked key.
   * @example
   * await client.keys.update("key_…", { rateLimit: 60, spendCapUsd: "5.00" });
   */
  update(keyId: string, patch: UpdateKeyOptions): Promise<ApiKey>;
  /**
   * Lets an access key that fraud detection suspended call again.
   * @throws MercatoError `NOT_FOUND` for another account's key, `CONFLICT` for a key that is not suspended.
   */
  reinstate(keyId: string): Promise<ApiKey>;
}

/** What {@link KeysResource.update} changes; an absent field is left as it is, `null` clears it. */
export interface UpdateKeyOptions {
  name?: string | null;
  /** Calls per minute this access key may make; `null`: the broker's default. */
  rateLimit?: number | null;
  /** Most this access key may ever spend, in USD (`"5.00"` or `5`); `null`: no cap of its own. */
  spendCapUsd?: string | number | null;
}

/** The registry: register, read, update and search agents. */
export interface AgentsResource {
  /**
   * Puts a seller's endpoint on the marketplace. Outside dev mode the listing is active only once
   * its endpoint proved it serves your account (the seller kit does, given `owner`): `status` is then
   * `registered`, else `pending_verification` with the reason in `verification` (retry with `verify`).
   * @throws MercatoError `INVALID_ENDPOINT` when the endpoint is not allowed (https, public address).
   */
  register(body: RegisterAgentRequest): Promise<RegisterAgentResponse>;
  /**
   * An agent with its pricing and metrics.
   * @throws MercatoError `AGENT_NOT_FOUND`.
   */
  get(agentId: string): Promise<AgentDetail>;
  /**
   * Changes an agent; owner only.
   * @throws MercatoError `FORBIDDEN` for someone else's agent, `AGENT_NOT_FOUND`.
   */
  update(agentId: string, patch: UpdateAgentRequest): Promise<AgentDetail>;
  /**
   * Takes an agent off the marketplace; owner only. `update(id, { status: "active" })` re-activates it.
   * @throws MercatoError `FORBIDDEN` for someone else's agent, `AGENT_NOT_FOUND`.
   */
  deactivate(agentId: string): Promise<DeactivateAgentResponse>;
  /**
   * Asks the broker to verify the agent's endpoint again (its challenge, see `register`): a listing
   * outside dev mode goes active only once its endpoint answered it naming the listing or its owner.
   * Owner only; at most once every 10 s per agent.
   * @throws MercatoError `FORBIDDEN` for someone else's agent, `AGENT_NOT_FOUND`, `CONFLICT` for a
   *   listing its owner deactivated, `RATE_LIMITED`.
   */
  verify(agentId: string): Promise<VerifyAgentResponse>;
  /**
   * Every price the agent has asked, newest first.
   * @throws MercatoError `AGENT_NOT_FOUND`.
   */
  priceHistory(agentId: string): Promise<PriceHistory>;
  /**
   * Listed agents matching every filter, best first (cost per success by default). Await it for
   * one page (`{ results, next_cursor }`); iterate it with `for await` for every agent of every
   * page (`limit` sets the page size).
   * @throws MercatoError `VALIDATION_ERROR` for a bad filter; `INTERNAL_ERROR` while iterating when the broker repeats a cursor.
   * @example
   * const page = await client.agents.search({ category: "crypto", limit: 10 });
   * for await (const agent of client.agents.search({ category: "crypto" })) console.log(agent.name);
   */
  search(query?: SearchAgentsQuery): PagePromise<SearchAgentsResponse, "results">;
  /**
   * Every listed agent matching the filters, page after page: the same as iterating
   * {@link AgentsResource.search}, kept for code written before `search` was iterable.
   */
  searchAll(query?: SearchAgentsQuery): AsyncGenerator<SearchResult, void, undefined>;
  /** Categories of listed agents with their number of agents, largest first. */
  categories(): Promise<CategoryList>;
}

/** Money in: top-ups of the account's wallet. */
export interface TopupsResource {
  /**
   * Starts a top-up of at least 10 USD, in whole cents. With Stripe, the answer is `pending` with
   * the `checkout_url` to pay at, and the wallet is credited once Stripe confirms the payment; a
   * dev-mode broker without Stripe credits at once (`succeeded`, with a `note`).
   * @throws MercatoError `TOPUP_TOO_SMALL`, `VALIDATION_ERROR` (more than 10,000 USD, fractions of a cent), `SERVICE_UNAVAILABLE` (the broker takes no payments), `PAYMENT_PROVIDER_ERROR`.
   * @example
   * const { checkout_url } = await client.topups.create({ amountUsd: "25.00" });
   */
  create(options: { amountUsd: string | number }): Promise<Topup>;
  /**
   * A top-up of the account: poll it to see a Checkout payment arrive.
   * @throws MercatoError `NOT_FOUND` for an unknown top-up or one of another account.
   */
  get(topupId: string): Promise<Topup>;
}

/** Money out: the seller's settlements. */
export interface SettlementsResource {
  /** The account's settlements (its earnings paid out, one per date), newest date first. */
  list(): Promise<SettlementList>;
}

/** The account's charges, as buyer and as seller. */
export interface TransactionsResource {
  /**
   * Charges the account paid or earned, newest first (`role` narrows to one side). Await it for
   * one page (`{ data, next_cursor }`); iterate it with `for await` for every charge.
   * @throws MercatoError `UNAUTHENTICATED` without an account key, `VALIDATION_ERROR` for a bad query.
   * @example
   * for await (const charge of client.transactions.list({ role: "buyer" })) console.log(charge.amount_usd);
   */
  list(query?: ListTransactionsQuery): PagePromise<TransactionList, "data">;
  /**
   * One charge with its amounts, fee and seller share.
   * @throws MercatoError `NOT_FOUND` for an unknown charge or one of another account.
   */
  get(transactionId: string): Promise<TransactionDetail>;
}

/** The broker's signed receipts of captured charges. */
export interface ReceiptsResource {
  /**
   * The signed receipt of a captured charge.
   * @throws MercatoError `NOT_FOUND` for an unknown charge, `CONFLICT` for one that was not captured.
   */
  get(transactionId: string): Promise<Receipt>;
  /**
   * Checks a receipt's Ed25519 signature offline against the broker's keys
   * (`/.well-known/jwks.json`, fetched once and kept; fetched again, at most every 30 s, for a
   * receipt signed by a key it does not know) and returns the payload that was signed.
   * @throws MercatoError `VALIDATION_ERROR` for a malformed receipt, an unknown key, a bad signature or a payload other than the one signed; `SERVICE_UNAVAILABLE` when the keys cannot be fetched.
   * @example
   * const { output, receipt } = await client.invoke("agent_…", { symbol: "BTC" });
   * const paid = await client.receipts.verify(receipt); // { amount_usd: "0.020000", … }
   */
  verify(receipt: Receipt | string): Promise<ReceiptPayload>;
}

/** Direct mode's grants, for their buyer and the agent's owner. */
export interface GrantsResource {
  /**
   * A grant: its status (`open`, `closed`, `expired`), what its vouchers owe (`redeemed_usd`) and,
   * once it has settled, what was charged (`captured_usd`, `settled_at`).
   * @throws MercatoError `NOT_FOUND` for an unknown grant or one of another account.
   * @example
   * const { status, redeemed_usd, captured_usd } = await client.grants.get("grt_…");
   */
  get(grantId: string): Promise<Grant>;
}
