import { MercatoError } from "@mercato/protocol";
import { createRequester, type FetchFunction } from "./request.js";
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
  KeyList,
  PriceHistory,
  RegisterAgentRequest,
  RegisterAgentResponse,
  SearchAgentsQuery,
  SearchAgentsResponse,
  SearchResult,
  UpdateAgentRequest,
} from "./types.js";
import { SDK_VERSION } from "./version.js";

/** How long a request may take before it fails, unless `timeoutMs` says otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;

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
}

/** The registry: register, read, update and search agents. */
export interface AgentsResource {
  /**
   * Puts a seller's endpoint on the marketplace.
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
   * Every price the agent has asked, newest first.
   * @throws MercatoError `AGENT_NOT_FOUND`.
   */
  priceHistory(agentId: string): Promise<PriceHistory>;
  /** One page of listed agents matching every filter, best first (cost per success by default). */
  search(query?: SearchAgentsQuery): Promise<SearchAgentsResponse>;
  /**
   * Every listed agent matching the filters, page after page (`limit` sets the page size),
   * following `next_cursor` until the last page.
   *
   * @example
   * for await (const agent of client.agents.searchAll({ category: "crypto" })) console.log(agent.name);
   */
  searchAll(query?: SearchAgentsQuery): AsyncGenerator<SearchResult, void, undefined>;
  /** Categories of listed agents with their number of agents, largest first. */
  categories(): Promise<CategoryList>;
}

/** A client of the Mercato broker's HTTP API. */
export interface MercatoClient {
  readonly accounts: AccountsResource;
  readonly keys: KeysResource;
  readonly agents: AgentsResource;
}

/**
 * Creates a client of the Mercato broker. It uses the standard `fetch` and no Node built-ins.
 * Every failure throws a {@link MercatoError}: the broker's error as it answered it, or
 * `SERVICE_UNAVAILABLE` (with the original error as `cause`) when the broker cannot be reached or
 * does not answer in time.
 *
 * @throws MercatoError `VALIDATION_ERROR` when `baseUrl` is not an http(s) URL or `timeoutMs` is not a positive integer.
 * @example
 * import { createClient } from "@mercato/sdk";
 *
 * const client = createClient({ baseUrl: "http://127.0.0.1:4020", apiKey: process.env.MERCATO_API_KEY });
 * const page = await client.agents.search({ category: "crypto", limit: 10 });
 * for (const agent of page.results) console.log(agent.name, agent.price_per_call);
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
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new MercatoError("VALIDATION_ERROR", `timeoutMs must be a positive integer, got ${timeoutMs}`);
  }
  const request = createRequester({
    // Without a query or fragment, which would end up in the middle of every request's URL.
    baseUrl: `${url.origin}${url.pathname}`,
    apiKey: options.apiKey,
    // Resolved at call time, and never called as a method: some runtimes refuse a detached `this`.
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    timeoutMs,
    userAgent: options.userAgent ?? `mercato-sdk/${SDK_VERSION}`,
  });

  const search = (query: SearchAgentsQuery = {}) => request("get", "/agents/search", { query });

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
    },
    agents: {
      register: (body) => request("post", "/agents/register", { body }),
      get: (agentId) => request("get", "/agents/{id}", { params: { id: agentId } }),
      update: (agentId, patch) => request("patch", "/agents/{id}", { params: { id: agentId }, body: patch }),
      deactivate: (agentId) => request("delete", "/agents/{id}", { params: { id: agentId } }),
      priceHistory: (agentId) => request("get", "/agents/{id}/price-history", { params: { id: agentId } }),
      search,
      async *searchAll(query = {}) {
        let cursor = query.cursor;
        for (;;) {
          const page = await search(cursor === undefined ? query : { ...query, cursor });
          yield* page.results;
          if (page.next_cursor === null) return;
          // A broker that hands back the cursor it was given would make this loop forever.
          if (page.next_cursor === cursor) {
            throw new MercatoError("INTERNAL_ERROR", "The broker returned the same search cursor twice");
          }
          cursor = page.next_cursor;
        }
      },
      categories: () => request("get", "/categories", {}),
    },
  };
}
