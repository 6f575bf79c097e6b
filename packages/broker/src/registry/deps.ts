import type { ContractCompiler } from "../contracts/index.js";
import type { Clock } from "../platform/clock.js";
import type { ResolveHost } from "../platform/endpoint-policy.js";
import type { RateLimiter } from "../platform/rate-limiter.js";
import type { FraudSettings } from "../platform/settings.js";
import type { EndpointVerifier } from "./endpoint-verification.js";
import type { RegistryStore } from "./port.js";

/**
 * Told when a listing goes on or off the market (the health checker, above this module): registered
 * or re-activated or moved (`track`), deactivated (`untrack`).
 */
export interface ListingEvents {
  track(agentId: string): void;
  untrack(agentId: string): void;
}

/** What the invoke proxy (above this module) keeps per listing, dropped when its owner changes it. */
export interface ListingCaches {
  agents: { invalidate(agentId: string): void };
  contracts: { invalidate(agentId: string): void };
  /** Compiles contract schemas; registration checks a listing's schemas with it. */
  contractCompiler: ContractCompiler;
}

/** What the registry's routes use. */
export interface RegistryDeps {
  store: RegistryStore;
  clock: Clock;
  config: {
    dev: boolean;
    fraud: Pick<FraudSettings, "registrationsPerHour" | "maxAgentsPerAccount">;
  };
  resolveHost: ResolveHost;
  /** The hourly registration allowance. */
  rateLimiter: RateLimiter;
  /** Proves listings' endpoints. */
  endpoints: EndpointVerifier;
  invoke: ListingCaches;
  /** Undefined without a health checker (`createBroker` alone, tests). */
  health?: ListingEvents;
}
