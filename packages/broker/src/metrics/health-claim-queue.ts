import type { Endpoint } from "./health-schedule.js";
import type { HealthClaimResult, MetricsStore } from "./port.js";

/** Options of {@link createClaimQueue}. */
export interface ClaimQueueOptions {
  store: Pick<MetricsStore, "claimHealthCheck">;
  /** The health-check interval, ms: claims are per interval, hosts counted per window of it. */
  interval: number;
  /** Most checks of one host in one window, by every broker on the store. */
  perHost: number;
}

/** Asks the store, before each scheduled check, whether this broker may make it now. */
export type ClaimQueue = (endpoint: Endpoint, at: number) => Promise<HealthClaimResult>;

/** The start of the interval window `at` falls in. */
export function windowOf(at: number, interval: number): number {
  return Math.floor(at / interval) * interval;
}

/**
 * Asks the store for the endpoint's check; a host known to have had its checks of the window is
 * not asked again. One host's claims go one after another, so that the endpoints waiting longest
 * for its turn are the ones it serves.
 */
export function createClaimQueue({ store, interval, perHost }: ClaimQueueOptions): ClaimQueue {
  /** Hosts known to have had their checks of a window (host → the window's start): no need to ask. */
  const busyHosts = new Map<string, number>();
  /** Claims of one host are asked one after another, in the order the endpoints came due. */
  const hostClaims = new Map<string, Promise<unknown>>();

  return (endpoint, at) => {
    const windowStart = windowOf(at, interval);
    const previous = hostClaims.get(endpoint.host) ?? Promise.resolve();
    const asked = previous.then(async () => {
      if (busyHosts.get(endpoint.host) === windowStart) return "host_busy" as const;
      const result = await store.claimHealthCheck({
        endpoint: endpoint.key,
        host: endpoint.host,
        at,
        intervalMs: interval,
        perHost,
      });
      if (result === "host_busy") busyHosts.set(endpoint.host, windowStart);
      return result;
    });
    const settled = asked.catch(() => {});
    hostClaims.set(endpoint.host, settled);
    void settled.then(() => {
      if (hostClaims.get(endpoint.host) === settled) hostClaims.delete(endpoint.host);
    });
    return asked;
  };
}
