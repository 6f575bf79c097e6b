import type { ApiKeyRecord } from "./port.js";

/**
 * Access keys by their SHA-256, kept for a few seconds so that the invoke path does not read the
 * store on every call. A key revoked, rotated, changed, suspended or reinstated through this broker
 * is dropped at once; through another broker process sharing the store, within `ttlMs`.
 */
export interface KeyCache {
  /** The cached key, or undefined; a shared cache (Redis) answers asynchronously. */
  get(hash: string, nowMs: number): ApiKeyRecord | undefined | Promise<ApiKeyRecord | undefined>;
  set(key: ApiKeyRecord, nowMs: number): void;
  /** Forgets a key (after a revocation, rotation, update, suspension or reinstatement). */
  invalidate(hash: string): void;
}

/** Options of {@link createKeyCache}. */
export interface KeyCacheOptions {
  /** How long a looked-up key is trusted, ms (default 5 s; 0 turns the cache off). */
  ttlMs?: number;
  /** Most keys kept; the oldest are dropped first (default 100,000). */
  maxEntries?: number;
}

/** An in-memory {@link KeyCache}; it answers `get` at once. */
export function createKeyCache(
  options: KeyCacheOptions = {},
): KeyCache & { get(hash: string, nowMs: number): ApiKeyRecord | undefined } {
  const ttl = options.ttlMs ?? 5_000;
  const max = options.maxEntries ?? 100_000;
  const entries = new Map<string, { key: ApiKeyRecord; until: number }>();
  return {
    get(hash, nowMs) {
      const entry = entries.get(hash);
      if (!entry) return undefined;
      if (entry.until <= nowMs) {
        entries.delete(hash);
        return undefined;
      }
      return entry.key;
    },
    set(key, nowMs) {
      if (ttl <= 0) return;
      entries.delete(key.hash);
      if (entries.size >= max) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(key.hash, { key, until: nowMs + ttl });
    },
    invalidate(hash) {
      entries.delete(hash);
    },
  };
}
