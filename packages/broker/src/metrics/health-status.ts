import type { FastifyBaseLogger } from "fastify";
import type { AlertNotifier } from "../alerts/types.js";
import type { Clock } from "../platform/clock.js";
import type { ProbeResult } from "./health-probe.js";
import type { Listing } from "./health-schedule.js";
import type { EndpointHealth, MetricsStore } from "./port.js";

/**
 * The status a listing is to be given after a check of its endpoint, or undefined for none: `down`
 * once its failures in a row (counted in the store, by every broker) reach `threshold`, `active`
 * at its first success. At the crossing itself the change is asked for even when this process
 * already believes it made: another broker may have changed the listing back since this one last
 * read it.
 */
export function statusAfterCheck(
  current: "active" | "down",
  healthy: boolean,
  health: EndpointHealth,
  threshold: number,
): "active" | "down" | undefined {
  if (healthy) {
    return current === "down" || health.previousFailures >= threshold ? "active" : undefined;
  }
  return health.failures >= threshold && (current === "active" || health.failures === threshold)
    ? "down"
    : undefined;
}

/** Options of {@link createStatusChanger}. */
export interface StatusChangerOptions {
  store: Pick<MetricsStore, "setAgentHealthStatus">;
  clock: Clock;
  log: Pick<FastifyBaseLogger, "info" | "warn">;
  alerts: AlertNotifier;
  /** Records that the listing's status changed here (orders it against reloads). */
  touch(listing: Listing): void;
}

/** Marks one listing up or down in the store, and alerts when the store says this process made the change. */
export type StatusChanger = (
  listing: Listing,
  status: "active" | "down",
  failures: number,
  reason: string | undefined,
) => Promise<void>;

/** The store says whether this process made the change: it alone alerts, once per change. */
export function createStatusChanger({
  store,
  clock,
  log,
  alerts,
  touch,
}: StatusChangerOptions): StatusChanger {
  return async (listing, status, failures, reason) => {
    const at = clock.now().toISOString();
    const was = listing.status;
    listing.status = status;
    touch(listing);
    let changed: boolean;
    try {
      changed = await store.setAgentHealthStatus(listing.id, status, at);
    } catch (error) {
      listing.status = was;
      throw error;
    }
    if (!changed) return;
    if (status === "active") {
      log.info({ agentId: listing.id }, "agent recovered");
      alerts.notify({ kind: "agent_recovered", agentId: listing.id, at });
    } else {
      log.warn({ agentId: listing.id, failures, reason }, "agent is down");
      alerts.notify({ kind: "agent_down", agentId: listing.id, at, consecutiveFailures: failures });
    }
  };
}

/** Changes the status of each checked listing still at the endpoint, one after another. */
export async function applyStatusChanges(
  change: StatusChanger,
  checked: Listing[],
  stillListed: (listing: Listing) => boolean,
  result: ProbeResult,
  health: EndpointHealth,
  threshold: number,
): Promise<void> {
  for (const listing of checked) {
    if (!stillListed(listing)) continue;
    const status = statusAfterCheck(listing.status, result.healthy, health, threshold);
    if (status) await change(listing, status, health.failures, result.reason);
  }
}
