import type { FastifyBaseLogger } from "fastify";
import type { AuthDeps } from "../accounts/authenticate.js";
import type { FraudDetector } from "../fraud/detector.js";
import type { InvokeRuntime } from "../invoke/runtime.js";
import type { LedgerStore } from "../ledger/port.js";
import type { Clock } from "../platform/clock.js";
import type { RateLimiter } from "../platform/rate-limiter.js";
import type { InvokeSettings } from "../platform/settings.js";
import type { RegistryStore } from "../registry/port.js";
import type { ReceiptSigner } from "../signing/signer.js";
import type { GrantStore } from "./port.js";

/** What the direct-mode routes use (`grantRoutes`). */
export interface GrantsDeps extends AuthDeps {
  store: AuthDeps["store"] &
    GrantStore &
    Pick<RegistryStore, "getAgent"> &
    Pick<LedgerStore, "hold" | "voidHold">;
  clock: Clock;
  config: AuthDeps["config"] & {
    dev: boolean;
    publicUrl: string | undefined;
    /** The default rate limit of a key without its own. */
    invoke: Pick<InvokeSettings, "defaultRateLimit">;
  };
  log: FastifyBaseLogger;
  /** Signs grant tokens. */
  signer: Pick<ReceiptSigner, "signGrant">;
  rateLimiter: RateLimiter;
  /** The new-account daily cap of a grant's hold. */
  fraud: Pick<FraudDetector, "dailyCap">;
  /** Usage reports' outcomes go to the invoke proxy's outcome recorder. */
  invoke: Pick<InvokeRuntime, "outcomes">;
}
