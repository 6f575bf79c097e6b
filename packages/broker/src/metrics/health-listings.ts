import type { Endpoint, EndpointSchedule, Listing } from "./health-schedule.js";
import { newEndpoint } from "./health-schedule.js";
import { healthUrl, healthUrlOf } from "./health-url.js";
import type { HealthCheckTarget } from "./port.js";

/**
 * The listings the checker knows and the distinct endpoints they are listed at. Listings that
 * share an endpoint (the same health URL) share its checks; an endpoint is on the schedule while
 * it has listings.
 *
 * `seq` orders creations and changes of status, so that a reload never drops a listing added, nor
 * undoes a status changed, after it read the store: read {@link mark} before reading the store.
 */
export class HealthListings {
  readonly listings = new Map<string, Listing>();
  readonly endpoints = new Map<string, Endpoint>();
  private seq = 0;

  constructor(
    private readonly schedule: EndpointSchedule,
    private readonly warnNotUrl: (agentId: string) => void,
  ) {}

  /** The current point in the order of creations and changes. */
  mark(): number {
    return this.seq;
  }

  /** Records that the listing's status changed here now. */
  touch(listing: Listing): void {
    listing.changed = ++this.seq;
  }

  /** The endpoint of `apiEndpoint`, created (and scheduled at `at`) if it is new; undefined when not a URL. */
  endpointFor(apiEndpoint: string, at: number): Endpoint | undefined {
    let parsed: URL;
    try {
      parsed = new URL(healthUrl(apiEndpoint));
    } catch {
      return undefined;
    }
    const existing = this.endpoints.get(parsed.href);
    if (existing) return existing;
    const endpoint = newEndpoint(parsed, at);
    this.endpoints.set(endpoint.key, endpoint);
    this.schedule.push(endpoint);
    return endpoint;
  }

  /**
   * Adds a listing or refreshes one from the store's view, read when `seq` was `readAt`: the
   * stored status wins unless the status changed here since.
   */
  upsert(record: HealthCheckTarget, at: number, readAt: number): Listing | undefined {
    const existing = this.listings.get(record.id);
    let endpoint = existing?.endpoint;
    if (!existing || healthUrlOf(record.apiEndpoint) !== existing.endpoint.key) {
      endpoint = this.endpointFor(record.apiEndpoint, at);
      if (!endpoint) {
        this.warnNotUrl(record.id);
        if (existing) this.remove(record.id);
        return undefined;
      }
    }
    if (existing) {
      if (existing.endpoint !== endpoint) {
        this.detach(existing);
        existing.endpoint = endpoint as Endpoint;
        (endpoint as Endpoint).listings.set(existing.id, existing);
      }
      if (!(existing.changed > readAt) && existing.status !== record.status) {
        existing.status = record.status;
        this.touch(existing);
      }
      return existing;
    }
    const born = ++this.seq;
    const listing: Listing = {
      id: record.id,
      endpoint: endpoint as Endpoint,
      status: record.status,
      born,
      changed: born,
    };
    this.listings.set(listing.id, listing);
    listing.endpoint.listings.set(listing.id, listing);
    return listing;
  }

  remove(agentId: string): void {
    const listing = this.listings.get(agentId);
    if (!listing) return;
    this.listings.delete(agentId);
    this.detach(listing);
  }

  /** Removes the listings created before `readAt` that are not in `seen` (a reload's view). */
  removeUnseen(seen: Set<string>, readAt: number): void {
    for (const [id, listing] of [...this.listings])
      if (!seen.has(id) && listing.born <= readAt) this.remove(id);
  }

  /** Takes a listing off its endpoint; an endpoint left without listings is no longer checked. */
  private detach(listing: Listing): void {
    const endpoint = listing.endpoint;
    endpoint.listings.delete(listing.id);
    if (endpoint.listings.size > 0) return;
    this.endpoints.delete(endpoint.key);
    endpoint.removed = true;
    this.schedule.remove(endpoint);
    endpoint.controller?.abort();
  }
}
