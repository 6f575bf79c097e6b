import type { AccountsStore } from "../accounts/port.js";
import type { AlertChannelsStore } from "../alerts/port.js";
import type { GrantStore } from "../grants/port.js";
import type { LedgerStore, MoneyMovementStore } from "../ledger/port.js";
import type { MetricsStore } from "../metrics/port.js";
import type { PayoutDestinationStore } from "../payments/port.js";
import type { RegistryStore } from "../registry/port.js";
import type { SigningKeyStore } from "../signing/port.js";

/**
 * The broker's persistence for one engine: every module's port, implemented over one database.
 * Async so that a networked database (PostgreSQL) can implement it; every implementation must pass
 * the conformance suites in `test/conformance`. A module is handed only the port it declares.
 */
export interface Store
  extends AccountsStore,
    RegistryStore,
    MetricsStore,
    AlertChannelsStore,
    LedgerStore,
    MoneyMovementStore,
    PayoutDestinationStore,
    SigningKeyStore,
    GrantStore {
  close(): Promise<void>;
}
