import type { FastifyBaseLogger } from "fastify";
import type { Clock } from "../platform/clock.js";
import type { RateLimiter } from "../platform/rate-limiter.js";
import type { KeyCache } from "./key-cache.js";
import type { AccountsStore } from "./port.js";

/**
 * What each key has spent, in micros (captured charges plus holds in flight): the ledger's
 * `getKeySpend`, declared here because the ledger sits above accounts. Keys that never spent are 0.
 */
export interface KeySpendLookup {
  getKeySpend(keyIds: string[]): Promise<Map<string, number>>;
}

/** The fraud detector, as far as reinstating a key uses it (fraud sits above accounts). */
export interface KeyBurstHistory {
  /** Forgets a key's call history, so that a reinstated key is judged as a new one. */
  reset(keyId: string): void;
}

/** What the account and key routes use. */
export interface AccountsDeps {
  store: AccountsStore & KeySpendLookup;
  clock: Clock;
  /** `dev`: rotated access keys are `sk_test_…`; `fraud.signupsPerHour`: sign-ups per client address. */
  config: { dev: boolean; fraud: { signupsPerHour: number } };
  /** Dropped from whenever a key is revoked, rotated, changed or reinstated. */
  keyCache: KeyCache;
  /** Sign-ups per client address. */
  rateLimiter: RateLimiter;
  fraud: KeyBurstHistory;
  log: Pick<FastifyBaseLogger, "info">;
}
