import { MercatoError } from "@mercato/protocol";
import type { FastifyReply } from "fastify";
import type { BrokerDeps } from "../http/route.js";
import { setRateLimitHeaders } from "../invoke/invoke.js";
import type { ListingLimits } from "../store/types.js";

const HOUR_MS = 3_600_000;

/**
 * Takes one registration from the account's hourly allowance (`fraud.registrationsPerHour`, through
 * the broker's rate limiter, so brokers sharing Redis share it) and sets the RateLimit headers.
 * Registrations, endpoint changes and re-activations all take from it: each may start checks of an
 * endpoint the broker had not called, and the allowance bounds how fast an account can aim them.
 *
 * @throws MercatoError `RATE_LIMITED`, with `Retry-After` set, when the allowance is spent.
 */
export async function enforceRegistrationRate(
  deps: BrokerDeps,
  accountId: string,
  reply: FastifyReply,
): Promise<void> {
  const limit = deps.config.fraud.registrationsPerHour;
  if (limit === 0) return;
  const decision = await deps.rateLimiter.consume(
    `register:${accountId}`,
    limit,
    deps.clock.now().getTime(),
    HOUR_MS,
  );
  const retryAfter = setRateLimitHeaders(reply, decision, HOUR_MS / 1000);
  if (retryAfter !== undefined) {
    throw new MercatoError(
      "RATE_LIMITED",
      `An account may register, move or re-activate ${decision.limit} agents per hour; retry in ${retryAfter} s`,
      { details: { limit_per_hour: decision.limit, retry_after_s: retryAfter } },
    );
  }
}

/** The store's limits on the account's listings, from the broker's configuration. */
export function listingLimits(deps: BrokerDeps): ListingLimits {
  return { maxListings: deps.config.fraud.maxAgentsPerAccount };
}
