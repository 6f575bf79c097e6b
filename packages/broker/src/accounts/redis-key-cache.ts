import type { RedisLink } from "../platform/db/redis.js";
import { createKeyCache, type KeyCache } from "./key-cache.js";
import type { ApiKeyRecord } from "./port.js";

/** Options of {@link createRedisKeyCache}. */
export interface RedisKeyCacheOptions {
  /** How long a key stays in Redis and in each broker's memory, ms (default 5 s). */
  ttlMs?: number;
}

/**
 * The key-lookup cache shared by every broker: each broker keeps keys in memory (as without Redis),
 * backed by Redis, so that a key looked up by one broker is found by the others without reading
 * the store. A revocation, rotation, change, suspension or reinstatement deletes the key from Redis
 * and is published, so every broker forgets it at once, not after the cache period. Records hold
 * the key's hash and metadata, never its secret.
 *
 * While Redis is down, each broker's memory cache works alone (as without Redis) and
 * invalidations reach only the broker that made them; the others see them within `ttlMs`.
 */
export function createRedisKeyCache(
  link: RedisLink,
  options: RedisKeyCacheOptions = {},
): KeyCache & {
  close(): Promise<void>;
} {
  const ttlMs = options.ttlMs ?? 5_000;
  const local = createKeyCache({ ttlMs });
  const storageKey = (hash: string) => `key:${hash}`;
  // The channel on which brokers tell each other to forget a key (channels are not prefixed by
  // the client, so the prefix is spelled out: marketplaces sharing a Redis do not hear each other).
  const INVALIDATIONS = `${link.prefix}key-invalidations`;

  void link.subscriber.subscribe(INVALIDATIONS).catch((error: unknown) => link.failed(error));
  const onMessage = (channel: string, hash: string) => {
    if (channel === INVALIDATIONS) local.invalidate(hash);
  };
  link.subscriber.on("message", onMessage);

  return {
    async get(hash, nowMs) {
      const known = await local.get(hash, nowMs);
      if (known !== undefined || ttlMs <= 0) return known;
      try {
        const stored = await link.redis.get(storageKey(hash));
        link.succeeded();
        if (stored === null) return undefined;
        const key = JSON.parse(stored) as ApiKeyRecord;
        local.set(key, nowMs);
        return key;
      } catch (error) {
        link.failed(error);
        return undefined;
      }
    },
    set(key, nowMs) {
      local.set(key, nowMs);
      if (ttlMs <= 0) return;
      link.redis.set(storageKey(key.hash), JSON.stringify(key), "PX", ttlMs).then(
        () => link.succeeded(),
        (error: unknown) => link.failed(error),
      );
    },
    invalidate(hash) {
      local.invalidate(hash);
      link.redis
        .multi()
        .del(storageKey(hash))
        .publish(INVALIDATIONS, hash)
        .exec()
        .then(
          () => link.succeeded(),
          (error: unknown) => link.failed(error),
        );
    },
    async close() {
      link.subscriber.off("message", onMessage);
    },
  };
}
