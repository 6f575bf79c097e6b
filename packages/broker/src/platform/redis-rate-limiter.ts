import type { RedisLink } from "./db/redis.js";
import { createMemoryRateLimiter, type RateDecision, type RateLimiter } from "./rate-limiter.js";

/**
 * GCRA (see `gcra` in invoke/rate-limiter.ts) as one Redis script, so that every broker shares one
 * allowance per key. The time is Redis's own (`TIME`), so brokers' clocks may disagree. The state is
 * the key's theoretical arrival time in µs, expiring when the allowance is whole again.
 * Returns [allowed (0/1), remaining, resetMs, retryAfterMs].
 */
const GCRA_SCRIPT = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local interval = window / limit
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
local start = math.max(tat, now)
local nextTat = start + interval
local allowAt = nextTat - window
if now < allowAt then
  return {0, 0, math.ceil((start - now) / 1000), math.ceil((allowAt - now) / 1000)}
end
redis.call('SET', KEYS[1], string.format('%.0f', nextTat), 'PX', math.ceil((nextTat - now) / 1000) + 1)
return {1, math.max(0, math.floor((now + window - nextTat) / interval)), math.ceil((nextTat - now) / 1000), 0}
`;

type GcraReply = [number, number, number, number];

/** The client with the script defined as a command (sent by SHA, the whole script only once). */
interface WithGcra {
  mercatoGcra(key: string, limit: number, windowUs: number): Promise<GcraReply>;
}

/**
 * Per-key rate limits shared by every broker on one Redis: a limit of N calls per window holds
 * across all of them (within one call per broker in flight when Redis answers a decision). While
 * Redis is down each broker falls back to its own memory (so the effective limit is N per broker),
 * logs it once, and goes back to Redis when it answers again.
 */
export function createRedisRateLimiter(link: RedisLink): RateLimiter {
  const local = createMemoryRateLimiter();
  link.redis.defineCommand("mercatoGcra", { numberOfKeys: 1, lua: GCRA_SCRIPT });
  const redis = link.redis as unknown as WithGcra;
  return {
    async consume(id, limit, nowMs, windowMs = 60_000): Promise<RateDecision> {
      try {
        const [allowed, remaining, resetMs, retryAfterMs] = await redis.mercatoGcra(
          `rl:${id}`,
          limit,
          windowMs * 1000,
        );
        link.succeeded();
        return { allowed: allowed === 1, limit, remaining, resetMs, retryAfterMs };
      } catch (error) {
        link.failed(error);
        return local.consume(id, limit, nowMs, windowMs);
      }
    },
  };
}
