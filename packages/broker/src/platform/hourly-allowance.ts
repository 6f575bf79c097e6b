import { MercatoError } from "@mercato/protocol";
import type { FastifyReply } from "fastify";
import type { Clock } from "./clock.js";
import { setRateLimitHeaders } from "./http/rate-limit-headers.js";
import type { RateLimiter } from "./rate-limiter.js";

const HOUR_MS = 3_600_000;

/**
 * Takes one from `key`'s hourly allowance of `limit` (through the broker's rate limiter, so brokers
 * sharing Redis share it) and sets the RateLimit headers. A limit of 0 turns the allowance off.
 *
 * @throws MercatoError `RATE_LIMITED`, with `Retry-After` set and `details.limit_per_hour` and
 *   `retry_after_s`, when the allowance is spent; `refusal` words its message.
 */
export async function takeHourlyAllowance(
  deps: { rateLimiter: RateLimiter; clock: Clock },
  reply: FastifyReply,
  key: string,
  limit: number,
  refusal: (limit: number, retryAfterS: number) => string,
): Promise<void> {
  if (limit === 0) return;
  const decision = await deps.rateLimiter.consume(key, limit, deps.clock.now().getTime(), HOUR_MS);
  const retryAfter = setRateLimitHeaders(reply, decision, HOUR_MS / 1000);
  if (retryAfter !== undefined) {
    throw new MercatoError("RATE_LIMITED", refusal(decision.limit, retryAfter), {
      details: { limit_per_hour: decision.limit, retry_after_s: retryAfter },
    });
  }
}
