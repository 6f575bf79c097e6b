import { isMercatoError, MercatoError } from "@mercato/protocol/errors";
import { createCall } from "../call/call.js";
import { decideNext } from "../call/retry-policy.js";
import { createDirect } from "../direct/direct.js";
import { createMemoryKeyStore } from "./key-store.js";
import type { CreateClientOptions, InvokeOptions, MercatoClient, PurchaseOptions } from "./mercato-client.js";
import { PagePromise } from "./pages.js";
import { createReceiptVerifier } from "./receipts.js";
import { createRequester, type FetchFunction, isValidTimeout, MAX_TIMEOUT_MS } from "./request.js";
import type { SearchAgentsQuery, SearchAgentsResponse, TransactionList, UpdateKeyRequest } from "./types.js";
import { SDK_VERSION } from "./version.js";

/** How long a request may take before it fails, unless `timeoutMs` says otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * How much longer than the seller's timeout an invoke waits for the broker's answer: the broker
 * needs time to void the hold and answer `SELLER_TIMEOUT` after the seller's time is up.
 */
export const INVOKE_TIMEOUT_MARGIN_MS = 5_000;

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
    const { timeoutMs: sellerTimeoutMs, idempotencyKey, signal, maxPriceUsd } = invokeOptions;
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
            ...(maxPriceUsd !== undefined && { max_price_usd: maxPriceUsd }),
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
