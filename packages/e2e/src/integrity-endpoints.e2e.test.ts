// Issue 16, item 7: "One URL, three hundred listings, health-checked by every broker". One account
// registered 300 agents at one URL in 0.6 s, and every broker health-checked each of them every
// interval: registrations are now limited per account, each distinct endpoint is checked once per
// interval however many listings share it and however many brokers share the database, and one host
// receives at most a bounded number of checks per interval however many paths are listed on it.
//
// Real brokers (listening on loopback ports, SQLite or PostgreSQL), a real target server, and the
// brokers' own health checkers, driven interval by interval on a manual clock: no sleeps.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type BrokerConfig,
  type Clock,
  createBroker,
  createManualClock,
  createPostgresStore,
  createSqliteStore,
  parseConfig,
  type Store,
} from "@mercato/broker";
import { createHealthChecker, type HealthChecker } from "@mercato/broker/internal";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerRequest } from "./broker-api.js";

const ADMIN = "endpoints-admin-token-0001";
const DATABASE_URL = process.env.MERCATO_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const START = new Date("2026-03-01T12:00:00.000Z");
/** The defaults a broker runs with when nothing is configured. */
const DEFAULTS: BrokerConfig = parseConfig([], {});
const INTERVAL = DEFAULTS.monitoring.healthIntervalMs;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** The server the listings point at: it counts every request it receives, by path. */
interface Target {
  origin: string;
  /** Request paths, in arrival order. */
  requests: string[];
  close(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  const target: Target = { origin: "", requests: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    target.requests.push(req.url ?? "");
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  target.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  target.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return target;
}

/** Timers that fire only when the test moves the shared manual clock (one set for every broker). */
function manualTimers(clock: ReturnType<typeof createManualClock>) {
  const timers = new Map<number, { at: number; callback: () => void }>();
  let next = 0;
  return {
    setTimeout(callback: () => void, ms: number): unknown {
      timers.set(++next, { at: clock.now().getTime() + Math.max(0, ms), callback });
      return next;
    },
    clearTimeout(handle: unknown) {
      timers.delete(handle as number);
    },
    /** Moves the clock `ms` forward, firing each timer (in order) when the clock reaches it. */
    advance(ms: number) {
      const end = clock.now().getTime() + ms;
      for (;;) {
        let first: [number, { at: number; callback: () => void }] | undefined;
        for (const entry of timers) if (!first || entry[1].at < first[1].at) first = entry;
        if (!first || first[1].at > end) break;
        timers.delete(first[0]);
        if (first[1].at > clock.now().getTime()) clock.set(new Date(first[1].at));
        first[1].callback();
      }
      clock.set(new Date(end));
    },
  };
}

/** A broker listening on a loopback port, with its own health checker on the shared clock. */
interface RunningBroker {
  url: string;
  store: Store;
  health: HealthChecker;
  close(): Promise<void>;
}

async function startBroker(
  store: Store,
  clock: Clock,
  timers: ReturnType<typeof manualTimers>,
  reloadIntervalMs?: number,
): Promise<RunningBroker> {
  const health = createHealthChecker({
    store,
    clock,
    log: silent,
    settings: DEFAULTS.monitoring,
    dev: true,
    resolveHost: async () => ["127.0.0.1"],
    alerts: { notify() {}, drain: async () => {} },
    timers,
    random: () => 0.5,
    ...(reloadIntervalMs !== undefined && { reloadIntervalMs }),
  });
  const app = createBroker({
    store,
    clock,
    config: { dev: true, logLevel: "silent", adminToken: ADMIN },
    fraud: DEFAULTS.fraud,
    health,
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    health,
    async close() {
      await health.stop();
      await app.close();
      await store.close();
    },
  };
}

const register = (broker: RunningBroker, key: string, endpoint: string, n: number) =>
  brokerRequest(broker.url, "POST", "/agents/register", {
    key,
    body: {
      name: `Listing ${n}`,
      description: "Same endpoint, another listing",
      category: "crypto",
      api_endpoint: endpoint,
      pricing: { model: "per_call", price_per_call: "0.01" },
    },
  });

async function signUp(broker: RunningBroker, name: string): Promise<string> {
  const response = await brokerRequest(broker.url, "POST", "/accounts", { body: { name } });
  expect(response.status).toBe(201);
  return response.json.api_key;
}

async function audit(broker: RunningBroker) {
  const result = await brokerRequest(broker.url, "GET", "/admin/audit", { key: ADMIN });
  expect(result.json.violations).toEqual([]);
  expect(result.json.ok).toBe(true);
}

describe("one broker (SQLite): one account, one URL, 300 registrations", () => {
  let clock: ReturnType<typeof createManualClock>;
  let timers: ReturnType<typeof manualTimers>;
  let broker: RunningBroker;
  let target: Target;

  beforeAll(async () => {
    clock = createManualClock(START);
    timers = manualTimers(clock);
    target = await startTarget();
    broker = await startBroker(createSqliteStore({ path: ":memory:" }), clock, timers);
    await broker.health.start();
  });
  afterAll(async () => {
    await audit(broker);
    await broker.close();
    await target.close();
  });

  /** Moves the clock and waits for every check it started, and its writes, to finish. */
  const step = async (ms: number) => {
    timers.advance(ms);
    await broker.health.idle();
  };

  it("refuses registrations past the account's limits, changing nothing, and checks the URL once per interval", async () => {
    const key = await signUp(broker, "Flooder");
    const endpoint = `${target.origin}/agent`;
    // The reproduction: 300 registrations of one URL at once.
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, n) => register(broker, key, endpoint, n)),
    );
    const created = answers.filter((answer) => answer.status === 201);
    const limited = answers.filter((answer) => answer.status === 429);
    expect(created).toHaveLength(DEFAULTS.fraud.registrationsPerHour);
    expect(limited).toHaveLength(300 - DEFAULTS.fraud.registrationsPerHour);
    for (const answer of limited) {
      expect(answer.json.error.code).toBe("RATE_LIMITED");
      expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    const listed = async () => {
      const mine = await brokerRequest(broker.url, "GET", "/agents/search?q=listing&limit=100");
      expect(mine.json.next_cursor).toBeNull();
      return mine.json.results.length as number;
    };
    expect(await listed()).toBe(DEFAULTS.fraud.registrationsPerHour);

    // Hours later, the account may register again, up to its limit of listings, and no further.
    let total = created.length;
    let n = 300;
    for (let hour = 0; hour < 12 && total < DEFAULTS.fraud.maxAgentsPerAccount; hour++) {
      await step(3_600_000);
      for (let i = 0; i < DEFAULTS.fraud.registrationsPerHour; i++) {
        const answer = await register(broker, key, endpoint, ++n);
        if (answer.status !== 201) break;
        total++;
      }
    }
    expect(total).toBe(DEFAULTS.fraud.maxAgentsPerAccount);
    await step(3_600_000);
    const refused = await register(broker, key, endpoint, ++n);
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe("LISTING_LIMIT_REACHED");
    expect(refused.json.error.details).toMatchObject({ limit: DEFAULTS.fraud.maxAgentsPerAccount });
    expect(await listed()).toBe(DEFAULTS.fraud.maxAgentsPerAccount);

    // Its 100 listings share one endpoint: one request per interval reaches it, not one per listing.
    await step(INTERVAL);
    const before = target.requests.length;
    for (let round = 1; round <= 4; round++) {
      await step(INTERVAL);
      expect(target.requests.length - before).toBe(round);
    }
    expect(new Set(target.requests)).toEqual(new Set(["/agent/health"]));
    // Yet every listing is measured by each of those checks.
    const search = await brokerRequest(broker.url, "GET", "/agents/search?q=listing&limit=100");
    for (const result of search.json.results.slice(0, 5)) {
      const metrics = await brokerRequest(broker.url, "GET", `/agents/${result.agent_id}/metrics`);
      expect(metrics.json.health_checks).toBeGreaterThanOrEqual(4);
    }
  });
});

describe("three brokers on one PostgreSQL database", () => {
  let clock: ReturnType<typeof createManualClock>;
  let timers: ReturnType<typeof manualTimers>;
  const brokers: RunningBroker[] = [];
  const schema = `mercato_endpoints_${process.pid}_${randomBytes(3).toString("hex")}`;
  let target: Target;

  /** Moves the clock and waits for every broker's checks it started, and their writes, to finish. */
  const step = async (ms: number) => {
    timers.advance(ms);
    for (let i = 0; i < 2; i++) await Promise.all(brokers.map((broker) => broker.health.idle()));
  };

  beforeAll(async () => {
    clock = createManualClock(START);
    timers = manualTimers(clock);
    target = await startTarget();
    const stores = await Promise.all(
      [0, 1, 2].map(() => createPostgresStore({ url: DATABASE_URL, schema, poolSize: 4 })),
    );
    // Each broker re-reads the listings every interval, so each knows those registered elsewhere.
    for (const store of stores) brokers.push(await startBroker(store, clock, timers, INTERVAL));
    for (const broker of brokers) await broker.health.start();
  });
  afterAll(async () => {
    await audit(brokers[0] as RunningBroker);
    for (const broker of brokers) await broker.close();
    await target.close();
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await client.end();
    }
  });

  it("check an endpoint shared by listings registered through all three once per interval in total", async () => {
    const endpoint = `${target.origin}/shared`;
    for (const [n, broker] of brokers.entries()) {
      const key = await signUp(broker, `Seller ${n}`);
      for (let i = 0; i < 4; i++) expect((await register(broker, key, endpoint, i)).status).toBe(201);
    }
    await step(0);
    // Twelve registrations through three brokers: one check.
    expect(target.requests).toEqual(["/shared/health"]);
    await step(INTERVAL);
    const before = target.requests.length;
    for (let round = 1; round <= 5; round++) {
      await step(INTERVAL);
      expect(target.requests.length - before).toBe(round);
    }
  });

  it("send one host at most the per-host bound of checks per interval, however many paths are listed on it, and still measure every path", async () => {
    const bound = DEFAULTS.monitoring.healthChecksPerHost;
    const paths = 3 * bound - 5;
    const before = target.requests.length;
    let n = 0;
    for (const [b, broker] of brokers.entries()) {
      const key = await signUp(broker, `Path lister ${b}`);
      for (let i = b; i < paths; i += 3) {
        expect((await register(broker, key, `${target.origin}/path/${i}`, ++n)).status).toBe(201);
      }
    }
    // The clock stands at a window's start. The registrations' own first checks count in that
    // window (the host's /shared listing above shares it), and each step below covers one window:
    // [start, start + 29.999 s], [start + 30 s, start + 59.999 s], …
    const seen = new Set<string>();
    const perInterval: number[] = [];
    let from = before;
    for (let round = 0; round < 6; round++) {
      await step(round === 0 ? INTERVAL - 1 : INTERVAL);
      const checked = target.requests.slice(from);
      from = target.requests.length;
      perInterval.push(checked.length);
      for (const path of checked) seen.add(path);
    }
    for (const count of perInterval) expect(count).toBeLessThanOrEqual(bound);
    // The bound held, and it was what held the checks back.
    expect(Math.max(...perInterval)).toBe(bound);
    // Rotation: every path was measured within a few intervals.
    const measured = [...seen].filter((path) => path.startsWith("/path/"));
    expect(measured).toHaveLength(paths);
  });
});
