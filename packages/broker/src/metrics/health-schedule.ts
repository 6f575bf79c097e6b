import type { HealthCheckOutcome } from "./port.js";

/** Where one endpoint's health check is sent. */
export interface HealthRequestUrl {
  origin: string;
  /** Path and query. */
  path: string;
  /** Host name, IPv6 brackets removed. */
  host: string;
}

/** One listed agent: it takes the result of its endpoint's checks. */
export interface Listing {
  id: string;
  endpoint: Endpoint;
  status: "active" | "down";
  /** When (in `seq` order) the listing was created, and its status last changed here. */
  born: number;
  changed: number;
}

/** One distinct endpoint (its health URL), checked once for every listing at it. */
export interface Endpoint {
  /** The health URL, the key shared with other brokers. */
  key: string;
  url: HealthRequestUrl;
  /** Lower-case host name without a trailing dot: what the per-host bound counts. */
  host: string;
  listings: Map<string, Listing>;
  /** When the next check is due (ms since the epoch, by the injected clock). */
  due: number;
  /** Order among endpoints waiting for their host's turn (oldest first); +∞ when not waiting. */
  waitingSince: number;
  /** Position in the heap; -1 while running or removed. */
  index: number;
  running: boolean;
  removed: boolean;
  /** The next run is an explicit check (`checkNow`): no claim. */
  forced: boolean;
  controller: AbortController | undefined;
  waiters: Array<(outcomes: HealthCheckOutcome[] | undefined) => void>;
}

/** A new endpoint at the parsed health URL `parsed`, due at `at`, not yet on the schedule. */
export function newEndpoint(parsed: URL, at: number): Endpoint {
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  return {
    key: parsed.href,
    url: { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}`, host },
    host: host.toLowerCase().replace(/\.+$/, ""),
    listings: new Map(),
    due: at,
    waitingSince: Number.POSITIVE_INFINITY,
    index: -1,
    running: false,
    removed: false,
    forced: false,
    controller: undefined,
    waiters: [],
  };
}

/** Earlier due first; at the same time, the endpoint waiting longest for its host's turn. */
function before(a: Endpoint, b: Endpoint): boolean {
  return a.due < b.due || (a.due === b.due && a.waitingSince < b.waitingSince);
}

/**
 * The schedule: a min-heap of endpoints by due time (see {@link before}), each endpoint knowing its
 * position (`index`, -1 when off the heap), so that it can be moved or removed in O(log n).
 */
export class EndpointSchedule {
  private readonly heap: Endpoint[] = [];

  /** The endpoint due first, if any. */
  first(): Endpoint | undefined {
    return this.heap[0];
  }

  /** How many endpoints are due at `at` or before. */
  dueCount(at: number): number {
    let waiting = 0;
    for (const endpoint of this.heap) if (endpoint.due <= at) waiting++;
    return waiting;
  }

  push(endpoint: Endpoint): void {
    endpoint.index = this.heap.length;
    this.heap.push(endpoint);
    this.siftUp(endpoint.index);
  }

  remove(endpoint: Endpoint): void {
    const i = endpoint.index;
    if (i < 0) return;
    const last = this.heap.pop() as Endpoint;
    endpoint.index = -1;
    if (last === endpoint) return;
    this.heap[i] = last;
    last.index = i;
    this.siftDown(i);
    this.siftUp(last.index);
  }

  /** Moves the endpoint to `due`; puts it back on the schedule unless it is running or removed. */
  reschedule(endpoint: Endpoint, due: number): void {
    endpoint.due = due;
    if (endpoint.index >= 0) {
      this.siftDown(endpoint.index);
      this.siftUp(endpoint.index);
    } else if (!endpoint.running && !endpoint.removed) {
      this.push(endpoint);
    }
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i] as Endpoint;
    const b = this.heap[j] as Endpoint;
    this.heap[i] = b;
    this.heap[j] = a;
    b.index = i;
    a.index = j;
  }

  private siftUp(start: number): void {
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(this.heap[i] as Endpoint, this.heap[parent] as Endpoint)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && before(heap[left] as Endpoint, heap[least] as Endpoint)) least = left;
      if (right < heap.length && before(heap[right] as Endpoint, heap[least] as Endpoint)) least = right;
      if (least === i) return;
      this.swap(i, least);
      i = least;
    }
  }
}
