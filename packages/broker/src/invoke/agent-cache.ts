import type { AgentRecord, RegistryStore } from "../registry/port.js";

/**
 * Agents as the invoke path needs them (endpoint, price, owner, status), kept for a moment so that
 * a call does not read the registry every time. A change made through this broker drops the agent
 * at once; one made through another broker process sharing the store applies within `ttlMs`.
 */
export interface AgentCache {
  get(id: string, nowMs: number): Promise<AgentRecord | undefined>;
  invalidate(id: string): void;
}

/** An in-memory {@link AgentCache} over the store (default: 1 s, at most 10,000 agents). */
export function createAgentCache(
  store: Pick<RegistryStore, "getAgent">,
  options: { ttlMs?: number; maxEntries?: number } = {},
): AgentCache {
  const ttl = options.ttlMs ?? 1_000;
  const max = options.maxEntries ?? 10_000;
  const entries = new Map<string, { agent: AgentRecord; until: number }>();
  return {
    async get(id, nowMs) {
      const entry = entries.get(id);
      if (entry && entry.until > nowMs) return entry.agent;
      const agent = await store.getAgent(id);
      entries.delete(id);
      if (agent && ttl > 0) {
        if (entries.size >= max) {
          const oldest = entries.keys().next();
          if (!oldest.done) entries.delete(oldest.value);
        }
        entries.set(id, { agent, until: nowMs + ttl });
      }
      return agent;
    },
    invalidate(id) {
      entries.delete(id);
    },
  };
}
