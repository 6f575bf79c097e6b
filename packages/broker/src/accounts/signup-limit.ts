import { isIP } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import { ipv6Groups } from "../platform/endpoint-policy.js";
import { takeHourlyAllowance } from "../platform/hourly-allowance.js";
import type { AccountsDeps } from "./deps.js";

/**
 * Takes one sign-up from the client address's hourly allowance (`fraud.signupsPerHour`, through
 * the broker's rate limiter, so brokers sharing Redis share it) and sets the RateLimit headers.
 * The address is the connection's: the broker does not read `X-Forwarded-For`, so behind a load
 * balancer every client shares the balancer's allowance.
 *
 * @throws MercatoError `RATE_LIMITED`, with `Retry-After` set, when the allowance is spent.
 */
export async function enforceSignupLimit(
  deps: Pick<AccountsDeps, "rateLimiter" | "clock" | "config">,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  await takeHourlyAllowance(
    deps,
    reply,
    `signup:${clientOf(request.ip)}`,
    deps.config.fraud.signupsPerHour,
    (limit, retryAfter) => `This address may create ${limit} accounts per hour; retry in ${retryAfter} s`,
  );
}

/**
 * Who a client address stands for: an IPv4 address (also when seen as `::ffff:a.b.c.d` on a
 * dual-stack socket), or an IPv6 address's /64, since one subscriber is given a whole /64.
 */
export function clientOf(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  const groups = isIP(address) === 6 ? ipv6Groups(address) : undefined;
  if (groups === undefined) return address;
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(":")}::/64`;
}
