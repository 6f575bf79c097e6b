import type { FastifyBaseLogger } from "fastify";
import type { AuthDeps } from "../accounts/authenticate.js";
import type { AccountsStore } from "../accounts/port.js";
import type { FraudDetector } from "../fraud/detector.js";
import type { LedgerStore } from "../ledger/port.js";
import type { Clock } from "../platform/clock.js";
import type { BrokerMetrics } from "../platform/prometheus.js";
import type { RateLimiter } from "../platform/rate-limiter.js";
import type { InvokeSettings } from "../platform/settings.js";
import type { RegistryStore } from "../registry/port.js";
import type { ReceiptSigner } from "../signing/signer.js";
import type { InvokeRuntime } from "./runtime.js";

/** What the purchase and invoke routes use (`invokeRoutes`). */
export interface InvokeDeps extends AuthDeps {
  store: AuthDeps["store"] &
    Pick<RegistryStore, "getAgent"> &
    Pick<AccountsStore, "insertApiKey"> &
    Pick<LedgerStore, "hold" | "capture" | "voidHold" | "getCharge">;
  clock: Clock;
  config: AuthDeps["config"] & { dev: boolean; publicUrl: string | undefined; invoke: InvokeSettings };
  log: FastifyBaseLogger;
  /** Signs seller calls and receipts. */
  signer: Pick<ReceiptSigner, "signCall" | "sign">;
  rateLimiter: RateLimiter;
  /** The agent cache, seller client, outcome recorder, idempotency cache and contracts. */
  invoke: InvokeRuntime;
  /** Burst suspension and the new-account daily cap. */
  fraud: Pick<FraudDetector, "observe" | "dailyCap">;
  metrics: Pick<BrokerMetrics, "invoke" | "holdOpened" | "holdClosed" | "sellerError" | "charged">;
}
