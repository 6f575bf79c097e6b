/**
 * Where a client keeps the access keys (`sk_live_…`, or `sk_test_…` from a dev broker) it bought, one per agent. The default keeps
 * them in memory for the life of the client; give `createClient` your own to keep them across
 * restarts (a file, a database, a secret manager). Every method may be synchronous or return a
 * promise. A store belongs to one account: the keys it holds spend that account's balance.
 *
 * @example
 * const keyStore: KeyStore = {
 *   get: (agentId) => db.get("keys", agentId),
 *   set: (agentId, accessKey) => db.put("keys", agentId, accessKey),
 *   delete: (agentId) => db.delete("keys", agentId),
 * };
 * const client = createClient({ baseUrl, apiKey, keyStore });
 */
export interface KeyStore {
  /** The access key for an agent, or `undefined` when there is none. */
  get(agentId: string): string | undefined | Promise<string | undefined>;
  /** Keeps the access key for an agent, replacing any other. */
  set(agentId: string, accessKey: string): void | Promise<void>;
  /** Forgets the access key for an agent (a no-op when there is none). */
  delete(agentId: string): void | Promise<void>;
}

/**
 * A {@link KeyStore} in memory, optionally seeded with `{ [agentId]: accessKey }`.
 *
 * @example
 * const keyStore = createMemoryKeyStore({ agent_abc123: process.env.PRICES_KEY ?? "" });
 */
export function createMemoryKeyStore(initial: Record<string, string> = {}): KeyStore {
  const keys = new Map(Object.entries(initial));
  return {
    get: (agentId) => keys.get(agentId),
    set: (agentId, accessKey) => {
      keys.set(agentId, accessKey);
    },
    delete: (agentId) => {
      keys.delete(agentId);
    },
  };
}
