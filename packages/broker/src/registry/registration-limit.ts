import type { FastifyReply } from "fastify";
import { takeHourlyAllowance } from "../platform/hourly-allowance.js";
import type { RegistryDeps } from "./deps.js";
import type { ListingLimits } from "./port.js";

/**
 * Takes one registration from the account's hourly allowance (`fraud.registrationsPerHour`, through
 * the broker's rate limiter, so brokers sharing Redis share it) and sets the RateLimit headers.
 * Registrations, endpoint changes and re-activations all take from it: each may start checks of an
 * endpoint the broker had not called, and the allowance bounds how fast an account can aim them.
 *
 * @throws MercatoError `RATE_LIMITED`, with `Retry-After` set, when the allowance is spent.
 */
export async function enforceRegistrationRate(
  deps: Pick<RegistryDeps, "rateLimiter" | "clock" | "config">,
  accountId: string,
  reply: FastifyReply,
): Promise<void> {
  await takeHourlyAllowance(
    deps,
    reply,
    `register:${accountId}`,
    deps.config.fraud.registrationsPerHour,
    (limit, retryAfter) =>
      `An account may register, move or re-activate ${limit} agents per hour; retry in ${retryAfter} s`,
  );
}

/** The store's limits on the account's listings, from the broker's configuration. */
export function listingLimits(deps: Pick<RegistryDeps, "config">): ListingLimits {
  return { maxListings: deps.config.fraud.maxAgentsPerAccount };
}
