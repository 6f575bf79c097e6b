import type { FastifyReply } from "fastify";
import type { RateDecision } from "../rate-limiter.js";

/**
 * Sets the RateLimit headers (IETF draft `RateLimit-*`) of a decision over a window of `windowS`
 * seconds, and `Retry-After` when it refuses.
 *
 * @returns the seconds to wait when the decision refuses, undefined when it allows.
 */
export function setRateLimitHeaders(
  reply: FastifyReply,
  decision: RateDecision,
  windowS: number,
): number | undefined {
  reply.header("ratelimit-limit", decision.limit);
  reply.header("ratelimit-remaining", decision.remaining);
  reply.header("ratelimit-reset", Math.ceil(decision.resetMs / 1000));
  reply.header("ratelimit-policy", `${decision.limit};w=${windowS}`);
  if (decision.allowed) return undefined;
  const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  reply.header("retry-after", retryAfter);
  return retryAfter;
}
