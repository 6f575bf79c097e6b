import type { AccountsStore } from "../accounts/port.js";
import type { Clock } from "../platform/clock.js";
import type { ResolveHost } from "../platform/endpoint-policy.js";
import type { AlertChannelsStore } from "./port.js";

/** What alerts read of a listing (the registry's `AgentRecord` has these fields). */
export interface AlertedAgent {
  id: string;
  name: string;
  apiEndpoint: string;
  ownerId: string;
}

/**
 * Where alerts look a listing up: the registry's store. Declared here, as small as alerts use it,
 * because the registry sits above alerts.
 */
export interface AgentLookup {
  getAgent(id: string): Promise<AlertedAgent | undefined>;
}

/** What the notifier reads: an agent's alert channels, the listing, and for key events the account and key. */
export type AlertsStore = AlertChannelsStore & AgentLookup & Pick<AccountsStore, "getAccount" | "getApiKey">;

/** What the alert routes use. */
export interface AlertsDeps {
  store: AlertChannelsStore & AgentLookup;
  clock: Clock;
  /** Dev mode lets a Slack webhook point at a private host. */
  config: { dev: boolean };
  resolveHost: ResolveHost;
}
