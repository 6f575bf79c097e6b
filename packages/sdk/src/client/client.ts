import { isMercatoError, MercatoError } from "@mercato/protocol/errors";
import type { Budget } from "../call/budget.js";
import type { CallMode } from "../call/call.js";
import { type CallOptions, createCall, type DirectCallResult, type ProxyCallResult } from "../call/call.js";
import { decideNext } from "../call/retry-policy.js";
import { createDirect } from "../direct/direct.js";
import type { DirectSession, OpenSessionOptions } from "../direct/session.js";
import { createMemoryKeyStore, type KeyStore } from "./key-store.js";
import { PagePromise } from "./pages.js";
import { createReceiptVerifier } from "./receipts.js";
import { createRequester, type FetchFunction, isValidTimeout, MAX_TIMEOUT_MS } from "./request.js";
import type {
  Account,
  AgentDetail,
  ApiKey,
  Balance,
  CategoryList,
  CreateAccountRequest,
  CreateAccountResponse,
  CreatedKey,
  CreateKeyRequest,
  DeactivateAgentResponse,
  Grant,
  InvokeResponse,
  KeyList,
  ListTransactionsQuery,
  PriceHistory,
  PurchaseResponse,
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
  UpdateKeyRequest,
  VerifyAgentResponse,
} from "./types.js";
import { SDK_VERSION } from "./version.js";

/** How long a request may take before it fails, unless `timeoutMs` says otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * How much longer than the seller's timeout an invoke waits for the broker's answer: the broker
 * needs time to void the hold and answer `SELLER_TIMEOUT` after the seller's time is up.
 */
export const INVOKE_TIMEOUT_MARGIN_MS = 5_000;

/** Options of {@link createClient}. */
export interface CreateClientOptions {
  /** The broker's base URL, e.g. `http://127.0.0.1:4020`. */
  baseUrl: string;
  /** An account key (`mk_…`), sent as `Authorization: Bearer`. Needed by every route but sign-up, search and reads. */
  apiKey?: string;
  /** A standard `fetch`; the global one by default. */
  fetch?: FetchFunction;
  /** How long each request may take, in ms (default 30,000). */
  timeoutMs?: number;
  /** The `User-Agent` header (default `mercato-sdk/<version>`). Browsers may ignore it. */
  userAgent?: string;
  /**
   * Where the client keeps the access keys it buys, one per agent (default: in memory). Give your
   * own to keep them across restarts.
   */
  keyStore?: KeyStore;
  /**
   * Access keys you already hold, `{ [agentId]: "sk_live_…" }`, written into the key store when the
   * client is created (a custom store's `set` is awaited before the client first uses the store).
   */
  accessKeys?: Record<string, string>;
  /**
   * A budget every {@link MercatoClient.call} of this client must stay within (`createBudget`),
   * besides any budget a call brings of its own.
   */
  budget?: Budget;
  /**
   * The share of {@link MercatoClient.call}s, 0–1, that explore listings with little evidence
   * (default 0.05; 0 never explores). A call's own `explore` overrides it.
   */
  explore?: number;
  /**
   * A uniform draw in [0, 1) for `call()`'s exploration (default `Math.random`): pass a seeded one
   * (e.g. `seededRandom(42)`) to make the choices reproducible.
   */
  random?: () => number;
}

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

/** Options of {@link MercatoClient.purchase}. */
export interface PurchaseOptions {
  /** A name for the access key. */
  name?: string;
  /** When the access key stops working; must be in the future. */
  expiresAt?: string | Date;
  /** Calls per minute the access key may make (default: the broker's). */
  rateLimit?: number;
  /** Most the access key may ever spend, in USD (`"5.00"` or `5`). */
  spendCapUsd?: string | number;
  /** Aborts the request; it then throws the signal's reason. */
  signal?: AbortSignal;
}

/** Options of {@link MercatoClient.invoke}. */
export interface InvokeOptions {
  /** The access key to call with, instead of the key store's. */
  accessKey?: string;
  /**
   * How long the broker waits for the seller, in ms (default and maximum: the broker's). The
   * request itself then waits 5 s longer; without it, the client's `timeoutMs` applies.
   */
  timeoutMs?: number;
  /** Sent as `Idempotency-Key`: a retry with the same key and input is answered the first outcome and never charged twice. */
  idempotencyKey?: string;
  /** Aborts the call; it then throws the signal's reason, not a {@link MercatoError}. */
  signal?: AbortSignal;
}

/** A client of the Mercato broker's HTTP API. */
export interface MercatoClient {
  readonly accounts: AccountsResource;
  readonly keys: KeysResource;
  readonly agents: AgentsResource;
  readonly transactions: TransactionsResource;
  readonly receipts: ReceiptsResource;
  readonly topups: TopupsResource;
  readonly settlements: SettlementsResource;
  readonly grants: GrantsResource;
  /** The access keys the client holds, one per agent: the `keyStore` it was created with, or its memory. */
  readonly accessKeys: KeyStore;
  /**
   * Buys per-call access to an agent with the account key: the broker issues an access key
   * (shown once), which the client keeps in its key store for {@link MercatoClient.invoke}.
   * Buying is free; each successful call is charged the agent's price.
   * @throws MercatoError `UNAUTHENTICATED` without an account key, `AGENT_NOT_FOUND`, `AGENT_INACTIVE`, `VALIDATION_ERROR`.
   * @example
   * const { api_key, price_per_call_usd } = await client.purchase("agent_…", { spendCapUsd: "2.00" });
   */
  purchase(agentId: string, options?: PurchaseOptions): Promise<PurchaseResponse>;
  /**
   * Calls an agent through the broker with its access key: `options.accessKey`, else the key
   * store's, else one bought first with the account key (and kept). The broker charges the price
   * only when the seller answers; a failed call costs nothing and throws. An access key the broker
   * refuses as `INVALID_API_KEY` (revoked, expired) is removed from the key store before the error
   * is thrown (with `details.access_key_dropped: true`), so that the next call buys a new one.
   * @throws MercatoError `SELLER_ERROR`, `SELLER_TIMEOUT`, `SELLER_UNAVAILABLE` (with the voided
   *   transaction in `details`), `RATE_LIMITED` (`details.retry_after_s`), `INSUFFICIENT_FUNDS`,
   *   `SPEND_CAP_EXCEEDED`, `INVALID_API_KEY`, `AGENT_NOT_PURCHASED`, `AGENT_NOT_FOUND`,
   *   `AGENT_INACTIVE`, `CONFLICT` (an idempotency key reused with another input),
   *   `UNAUTHENTICATED` (no access key and no account key to buy one), `SERVICE_UNAVAILABLE`.
   * @example
   * const { output, cost_usd } = await client.invoke("agent_…", { symbol: "BTC" }, { timeoutMs: 5_000 });
   */
  invoke(agentId: string, input: unknown, options?: InvokeOptions): Promise<InvokeResponse>;
  /**
   * The account's balance: available, on hold, earned, and the monthly cap.
   * @throws MercatoError `UNAUTHENTICATED` without an account key.
   */
  balance(): Promise<Balance>;
  /**
   * Finds the agents that match, ranks them by expected cost per useful answer (price, success rate
   * and time, the broker's figures blended with what this client has seen of each agent; a share
   * `explore` of calls tries promising listings with little evidence), and calls them in turn: buys access when it has none, retries a retryable failure
   * (timeout, seller 5xx, 429 after its `Retry-After`, a lost answer) with exponential backoff and
   * full jitter, then fails over to the next agent. One idempotency key covers the call, so a retry
   * after a lost answer is never charged twice. Price ceiling and budgets are checked before every
   * attempt; failed attempts cost nothing.
   * @throws MercatoError `NO_CANDIDATES`, `BUDGET_EXCEEDED` (nothing spent), `ALL_CANDIDATES_FAILED`
   *   (`details.attempts` lists each attempt), or the buyer's own error (`INSUFFICIENT_FUNDS`,
   *   `SPEND_CAP_EXCEEDED`, `VALIDATION_ERROR`, `INVALID_API_KEY` or `UNAUTHENTICATED` for the
   *   account key…) at its first occurrence, with the attempts so far; an abort rejects with the
   *   signal's reason.
   * With `mode: "direct"` each attempt calls the seller directly through a session the client
   * keeps for that agent (see {@link MercatoClient.openSession}); the result then has `grantId` and
   * `sequence`, and no `transactionId` nor `receipt`.
   * @example
   * const result = await client.call({ category: "crypto", input: { symbol: "BTC" }, maxPricePerCall: "0.05" });
   * console.log(result.output, result.costUsd, result.agentId);
   * const direct = await client.call({ category: "crypto", input: { symbol: "BTC" }, mode: "direct" });
   * console.log(direct.grantId, direct.sequence);
   */
  call<M extends CallMode = "proxy">(
    options: CallOptions & { mode?: M },
  ): Promise<M extends "direct" ? DirectCallResult : ProxyCallResult>;
  /**
   * Opens a direct session on an agent: calls go to the seller itself, paid for with vouchers of a
   * grant, with the broker off the path (docs/direct-mode.md). Nothing is sent before the first
   * call, which opens the grant with the agent's access key (the key store's, or one bought as
   * {@link MercatoClient.invoke} does) and holds `budgetUsd` on the wallet. The session renews the
   * grant before it expires or when it cannot pay another call. Calls of one session run one at a
   * time: open several to call in parallel. Close it (or the client) when done: closing pays the
   * seller for the last call and releases the rest of the budget once the grant settles.
   * @throws MercatoError `INVALID_AMOUNT` or `VALIDATION_ERROR` for a bad budget, `ttlS` or `timeoutMs`.
   * @example
   * const session = client.openSession("agent_…", { budgetUsd: "1.00", timeoutMs: 5_000 });
   * const { output, costUsd, grantId, sequence } = await session.call({ symbol: "BTC" });
   * const { calls, successes, spentUsd } = await session.close();
   */
  openSession(agentId: string, options: OpenSessionOptions): DirectSession;
  /**
   * Closes every direct session of the client (the pooled ones of `call({ mode: "direct" })`
   * included), each grant with its final voucher, and sends the pending usage reports. The client
   * stays usable. Node also does this when the process is about to exit (`beforeExit`), but not on
   * a signal: call it before you exit.
   * @throws MercatoError the first failure to close a grant, after trying every session.
   */
  close(): Promise<void>;
}

/**
 * Creates a client of the Mercato broker. It uses the standard `fetch` and no Node built-ins.
 * Every failure throws a {@link MercatoError}: the broker's error as it answered it, or
 * `SERVICE_UNAVAILABLE` (with the original error as `cause`) when the broker cannot be reached or
 * does not answer in time. A request aborted through its `signal` throws the signal's reason.
 *
 * @throws MercatoError `VALIDATION_ERROR` when `baseUrl` is not an http(s) URL, `timeoutMs` is not a positive integer or an access key is empty.
 * @example
 * import { createClient } from "@mercato/sdk";
 *
 * const client = createClient({ baseUrl: "http://127.0.0.1:4020", apiKey: process.env.MERCATO_API_KEY });
 * for await (const agent of client.agents.search({ category: "crypto" })) console.log(agent.name);
 * const { output } = await client.invoke("agent_…", { symbol: "BTC" });
 */
export function createClient(options: CreateClientOptions): MercatoClient {
  let url: URL;
  try {
    url = new URL(options.baseUrl);
  } catch (cause) {
    throw new MercatoError("VALIDATION_ERROR", `baseUrl must be an http(s) URL, got ${options.baseUrl}`, {
      cause,
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new MercatoError("VALIDATION_ERROR", `baseUrl must be an http(s) URL, got ${options.baseUrl}`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!isValidTimeout(timeoutMs)) {
    throw new MercatoError("VALIDATION_ERROR", `timeoutMs must be a positive integer, got ${timeoutMs}`);
  }
  // Resolved at call time, and never called as a method: some runtimes refuse a detached `this`.
  const fetchFunction: FetchFunction = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const request = createRequester({
    // Without a query or fragment, which would end up in the middle of every request's URL.
    baseUrl: `${url.origin}${url.pathname}`,
    apiKey: options.apiKey,
    fetch: fetchFunction,
    timeoutMs,
    userAgent: options.userAgent ?? `mercato-sdk/${SDK_VERSION}`,
  });

  const seeds = Object.entries(options.accessKeys ?? {});
  for (const [agentId, accessKey] of seeds) {
    if (typeof accessKey !== "string" || accessKey === "") {
      throw new MercatoError("VALIDATION_ERROR", `accessKeys.${agentId} must be a non-empty string`);
    }
  }
  const keyStore = options.keyStore ?? createMemoryKeyStore(options.accessKeys);
  const custom = options.keyStore;
  // A custom store may be asynchronous: its seeding is awaited by the first use, and a failure to
  // seed it is thrown there rather than lost.
  const seeded: Promise<unknown> =
    custom === undefined || seeds.length === 0
      ? Promise.resolve()
      : Promise.all(seeds.map(async ([agentId, accessKey]) => custom.set(agentId, accessKey)));
  seeded.catch(() => undefined);
  const storedKey = async (agentId: string) => {
    await seeded;
    return keyStore.get(agentId);
  };

  const search = (query: SearchAgentsQuery = {}) =>
    new PagePromise<SearchAgentsResponse, "results">(
      (cursor) =>
        request("get", "/agents/search", { query: cursor === undefined ? query : { ...query, cursor } }),
      "results",
      query.cursor,
    );

  const purchase = async (agentId: string, purchaseOptions: PurchaseOptions = {}) => {
    const { name, expiresAt, rateLimit, spendCapUsd, signal } = purchaseOptions;
    const bought = await request(
      "post",
      "/purchase",
      {
        body: {
          agent_id: agentId,
          plan: "per_call",
          ...(name !== undefined && { name }),
          ...(expiresAt !== undefined && { expires_at: timestamp(expiresAt) }),
          ...(rateLimit !== undefined && { rate_limit: rateLimit }),
          ...(spendCapUsd !== undefined && { spend_cap_usd: spendCapUsd }),
        },
      },
      { signal },
    );
    await seeded;
    await keyStore.set(agentId, bought.api_key);
    return bought;
  };

  // Concurrent invokes of an agent without a key buy one key between them, not one each. The
  // purchase takes no caller's signal, so that one caller giving up does not fail the others; an
  // aborted caller still stops before its invoke is sent.
  const buying = new Map<string, Promise<string>>();
  const buyKey = (agentId: string): Promise<string> => {
    if (options.apiKey === undefined) {
      return Promise.reject(
        new MercatoError(
          "UNAUTHENTICATED",
          `No access key for ${agentId}: pass options.accessKey, or create the client with an account key (apiKey) to buy one`,
        ),
      );
    }
    let pending = buying.get(agentId);
    if (pending === undefined) {
      pending = purchase(agentId)
        .then((bought) => bought.api_key)
        .finally(() => buying.delete(agentId));
      buying.set(agentId, pending);
    }
    return pending;
  };

  /**
   * Runs `use` with an access key for the agent: `explicit`, else the key store's, else one bought
   * (and kept). A stored key the broker refuses as `INVALID_API_KEY` (revoked, expired) is removed
   * from the store before the error is thrown, with `details.access_key_dropped`, so that the next
   * use buys a new one: only then is that refusal worth another attempt.
   */
  const withAccessKey = async <T>(
    agentId: string,
    explicit: string | undefined,
    use: (accessKey: string) => Promise<T>,
  ): Promise<T> => {
    const accessKey = explicit ?? (await storedKey(agentId)) ?? (await buyKey(agentId));
    try {
      return await use(accessKey);
    } catch (error) {
      const explicitKey = explicit !== undefined;
      if (
        !isMercatoError(error) ||
        decideNext({ kind: "access-key", error, explicitKey }).action !== "retry"
      ) {
        throw error;
      }
      await forget(agentId, accessKey);
      throw new MercatoError(error.code, error.message, {
        status: error.status,
        details: { ...error.details, access_key_dropped: true },
        cause: error,
        ...(error.requestId !== undefined && { requestId: error.requestId }),
      });
    }
  };

  const invoke = async (agentId: string, input: unknown, invokeOptions: InvokeOptions = {}) => {
    const { timeoutMs: sellerTimeoutMs, idempotencyKey, signal } = invokeOptions;
    if (sellerTimeoutMs !== undefined && !isValidTimeout(sellerTimeoutMs)) {
      throw new MercatoError(
        "VALIDATION_ERROR",
        `timeoutMs must be a positive integer, got ${sellerTimeoutMs}`,
      );
    }
    return withAccessKey(agentId, invokeOptions.accessKey, (accessKey) =>
      request(
        "post",
        "/agents/{id}/invoke",
        {
          params: { id: agentId },
          // JSON has no undefined: an absent input is sent as the null the broker would read it as.
          body: {
            input: input === undefined ? null : input,
            ...(sellerTimeoutMs !== undefined && { timeout_ms: sellerTimeoutMs }),
          },
        },
        {
          apiKey: accessKey,
          signal,
          ...(sellerTimeoutMs !== undefined && {
            timeoutMs: Math.min(sellerTimeoutMs + INVOKE_TIMEOUT_MARGIN_MS, MAX_TIMEOUT_MS),
          }),
          ...(idempotencyKey !== undefined && { headers: { "idempotency-key": idempotencyKey } }),
        },
      ),
    );
  };

  /** Removes a refused key, unless another call has stored a new one meanwhile. */
  const forget = async (agentId: string, accessKey: string) => {
    try {
      if ((await storedKey(agentId)) === accessKey) await keyStore.delete(agentId);
    } catch {
      // The broker's refusal is what the caller needs to see; a store that cannot forget the key
      // will have it refused again next time.
    }
  };

  const direct = createDirect({
    request,
    fetch: fetchFunction,
    timeoutMs,
    withAccessKey: (agentId, use) => withAccessKey(agentId, undefined, use),
  });

  const verifyReceipt = createReceiptVerifier({
    loadJwks: () => request("get", "/.well-known/jwks.json", {}),
  });

  return {
    accounts: {
      create: (body) => request("post", "/accounts", { body }),
      me: () => request("get", "/accounts/me", {}),
    },
    keys: {
      list: () => request("get", "/keys", {}),
      create: (body = {}) => request("post", "/keys", { body }),
      revoke: (keyId) => request("delete", "/keys/{id}", { params: { id: keyId } }),
      rotate: (keyId) => request("post", "/keys/{id}/rotate", { params: { id: keyId } }),
      update: (keyId, patch) => {
        const body: UpdateKeyRequest = {};
        if (patch.name !== undefined) body.name = patch.name;
        if (patch.rateLimit !== undefined) body.rate_limit = patch.rateLimit;
        if (patch.spendCapUsd !== undefined) body.spend_cap_usd = patch.spendCapUsd;
        return request("patch", "/keys/{id}", { params: { id: keyId }, body });
      },
      reinstate: (keyId) => request("post", "/keys/{id}/reinstate", { params: { id: keyId } }),
    },
    agents: {
      register: (body) => request("post", "/agents/register", { body }),
      get: (agentId) => request("get", "/agents/{id}", { params: { id: agentId } }),
      update: (agentId, patch) => request("patch", "/agents/{id}", { params: { id: agentId }, body: patch }),
      deactivate: (agentId) => request("delete", "/agents/{id}", { params: { id: agentId } }),
      verify: (agentId) => request("post", "/agents/{id}/verify", { params: { id: agentId } }),
      priceHistory: (agentId) => request("get", "/agents/{id}/price-history", { params: { id: agentId } }),
      search,
      async *searchAll(query = {}) {
        yield* search(query);
      },
      categories: () => request("get", "/categories", {}),
    },
    transactions: {
      list: (query = {}) =>
        new PagePromise<TransactionList, "data">(
          (cursor) =>
            request("get", "/transactions", { query: cursor === undefined ? query : { ...query, cursor } }),
          "data",
          query.cursor,
        ),
      get: (transactionId) => request("get", "/transactions/{id}", { params: { id: transactionId } }),
    },
    receipts: {
      get: (transactionId) => request("get", "/transactions/{id}/receipt", { params: { id: transactionId } }),
      verify: (receipt) => verifyReceipt(receipt),
    },
    topups: {
      create: ({ amountUsd }) => request("post", "/topups", { body: { amount_usd: amountUsd } }),
      get: (topupId) => request("get", "/topups/{id}", { params: { id: topupId } }),
    },
    settlements: {
      list: () => request("get", "/settlements", {}),
    },
    grants: {
      get: (grantId) => request("get", "/grants/{id}", { params: { id: grantId } }),
    },
    accessKeys: keyStore,
    purchase,
    invoke,
    balance: () => request("get", "/balance", {}),
    call: createCall(
      { search: (query) => search(query), invoke, direct: direct.call },
      { budget: options.budget, explore: options.explore, random: options.random },
    ) as MercatoClient["call"],
    openSession: direct.openSession,
    close: direct.close,
  };
}

/** An ISO 8601 timestamp of a `Date` or a string (passed as it is: the broker checks it). */
function timestamp(value: string | Date): string {
  if (typeof value === "string") return value;
  if (Number.isNaN(value.getTime()))
    throw new MercatoError("VALIDATION_ERROR", "expiresAt is an invalid Date");
  return value.toISOString();
}
