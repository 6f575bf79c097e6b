import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createAlertNotifier } from "../../src/alerts/notifier.js";
import type { AlertEvent, AlertNotifier } from "../../src/alerts/types.js";
import { parseConfig } from "../../src/app/config.js";
import { createBroker } from "../../src/app/create-broker.js";
import { startBroker } from "../../src/app/start.js";
import {
  createHealthChecker,
  type HealthChecker,
  type HealthCheckerOptions,
  healthUrl,
} from "../../src/metrics/health-checker.js";
import type { MonitoringSettings } from "../../src/platform/settings.js";
import { createTestBroker, publicResolver, type TestBroker } from "../support/harness.js";
import {
  createManualTimers,
  type ManualTimers,
  type SmtpSink,
  startSmtpSink,
} from "../support/monitoring.js";

const SETTINGS: MonitoringSettings = {
  healthIntervalMs: 30_000,
  healthTimeoutMs: 5_000,
  healthConcurrency: 8,
  failuresBeforeDown: 3,
  // The tests below list many endpoints on one test seller: the per-host bound has tests of its own.
  healthChecksPerHost: 10_000,
};

/** vi.waitFor gives up after 1 s by default: far too soon when CI runs every package at once. */
const BUSY_MACHINE = { timeout: 60_000 };
const silentLog = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };

/** An AlertNotifier that keeps what it is told. */
function recordingAlerts(): AlertNotifier & { events: AlertEvent[] } {
  const events: AlertEvent[] = [];
  return { events, notify: (event) => void events.push(event), drain: async () => {} };
}

/** A seller whose /health answers `health.status` after `health.delayMs`; counts checks in flight. */
interface HealthSeller {
  url: string;
  health: { status: number; delayMs: number };
  /** /health requests received, by path. */
  requests: string[];
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

async function startHealthSeller(): Promise<HealthSeller> {
  const seller: HealthSeller = {
    url: "",
    health: { status: 200, delayMs: 0 },
    requests: [],
    inFlight: 0,
    maxInFlight: 0,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    seller.requests.push(req.url ?? "");
    seller.inFlight++;
    seller.maxInFlight = Math.max(seller.maxInFlight, seller.inFlight);
    const { status, delayMs } = seller.health;
    const answer = () => {
      seller.inFlight--;
      if (!res.destroyed)
        res.writeHead(status, { "content-type": "application/json" }).end('{"status":"ok"}');
    };
    if (delayMs > 0) setTimeout(answer, delayMs).unref();
    else answer();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  seller.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  seller.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return seller;
}

/** A deterministic random source (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let broker: TestBroker;
let seller: HealthSeller;
let timers: ManualTimers;
let ownerId: string;
let ownerKey: string;
const checkers: HealthChecker[] = [];

beforeEach(async () => {
  broker = await createTestBroker({ dev: true });
  timers = createManualTimers(broker.clock);
  seller = await startHealthSeller();
  const owner = await broker.signUp("Seller");
  ownerId = owner.accountId;
  ownerKey = owner.apiKey;
  for (const fn of Object.values(silentLog)) fn.mockClear();
});

afterEach(async () => {
  for (const checker of checkers.splice(0)) await checker.stop();
  await broker.close();
  await seller.close();
});

function checker(overrides: Partial<HealthCheckerOptions> = {}): HealthChecker {
  const created = createHealthChecker({
    store: broker.store,
    clock: broker.clock,
    log: silentLog,
    settings: SETTINGS,
    dev: true,
    resolveHost: publicResolver,
    alerts: recordingAlerts(),
    timers,
    random: () => 0.5,
    ...overrides,
  });
  checkers.push(created);
  return created;
}

let agents = 0;
/** An agent straight in the store (no registration, so no checker is told). */
async function agent(endpoint = `${seller.url}/agent/${++agents}`, status: "active" | "down" = "active") {
  const record = await broker.store.insertAgent({
    id: `agent_hc${String(++agents).padStart(8, "0")}`,
    ownerId,
    name: `Agent ${agents}`,
    description: "",
    category: "crypto",
    tags: [],
    version: "1.0.0",
    apiEndpoint: endpoint,
    status: "active",
    pricing: { model: "per_call", priceMicros: 20_000, currency: "USD", tier: "basic", minCalls: 1 },
    createdAt: broker.clock.now().toISOString(),
  });
  if (status === "down") await broker.store.setAgentHealthStatus(record.id, "down", record.createdAt);
  return record.id;
}

/** Moves time and waits for every check it started (and their writes) to finish. */
async function step(checkerUnderTest: HealthChecker, ms: number) {
  timers.advance(ms);
  await checkerUnderTest.idle();
}

const statusOf = async (id: string) => (await broker.store.getAgent(id))?.status;

describe("health checks of sellers, end to end", () => {
  /** What Slack received: each webhook post's headers and body. */
  let slack: { calls: Array<{ headers: Record<string, string>; body: string }> };
  let smtp: SmtpSink;
  let notifier: AlertNotifier;
  const SLACK_URL = "https://hooks.slack.com/services/T000/B000/secret";
  // Slack cannot run here: its webhook host is answered at the network layer (the notifier's
  // default global fetch); any other request fails. Sellers are real servers on loopback.
  const server = setupServer(
    http.post("https://hooks.slack.com/services/*", async ({ request }) => {
      slack.calls.push({ headers: Object.fromEntries(request.headers), body: await request.text() });
      return HttpResponse.text("ok");
    }),
  );

  beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
  afterAll(() => server.close());
  beforeEach(async () => {
    slack = { calls: [] };
    smtp = await startSmtpSink();
    notifier = createAlertNotifier({
      store: broker.store,
      log: silentLog,
      settings: { smtpUrl: smtp.url, from: "Mercato <alerts@mercato.test>" },
      clock: broker.clock,
      retryDelaysMs: [0, 0, 0],
    });
  });
  afterEach(async () => {
    await notifier.drain();
    server.resetHandlers();
    await smtp.close();
  });

  it("takes a seller up → failing → down → recovered: its status, uptime, and one alert per change on Slack and by e-mail", async () => {
    const seen: boolean[] = [];
    const health = checker({ alerts: notifier, onCheck: (healthy) => seen.push(healthy) });
    const app = createBroker({
      store: broker.store,
      clock: broker.clock,
      config: { dev: true, logLevel: "silent" },
      resolveHost: publicResolver,
      alerts: notifier,
      health,
      validateResponses: true,
    });
    await app.ready();
    await health.start();
    const call = (method: "GET" | "POST" | "PUT", url: string, body?: object) =>
      app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${ownerKey}` },
        ...(body && { payload: body }),
      });
    const slackTexts = () => slack.calls.map((c) => (JSON.parse(c.body) as { text: string }).text);

    // Registered: checked at once, without waiting for the next round.
    const registered = await call("POST", "/agents/register", {
      name: "Price feed",
      description: "Spot prices",
      category: "crypto",
      api_endpoint: `${seller.url}/agent`,
      pricing: { model: "per_call", price_per_call: 0.01 },
    });
    expect(registered.statusCode).toBe(201);
    const id = (registered.json() as { agent_id: string }).agent_id;
    const alertsSet = await call("PUT", `/agents/${id}/alerts`, {
      slack_webhook_url: SLACK_URL,
      email: "ops@seller.test",
    });
    expect(alertsSet.statusCode, alertsSet.body).toBe(200);
    await health.idle();
    expect(seller.requests).toEqual(["/agent/health"]);

    const status = async () => {
      const detail = (await call("GET", `/agents/${id}`)).json() as { status: string };
      const search = (await call("GET", "/agents/search?q=price")).json() as {
        results: Array<{ agent_id: string; status: string }>;
      };
      expect(search.results.find((r) => r.agent_id === id)?.status).toBe(detail.status);
      return detail.status;
    };
    expect(await status()).toBe("active");

    // Failing: still up after 1 and 2 failures, down at the 3rd.
    seller.health.status = 500;
    await step(health, 30_000);
    await step(health, 30_000);
    expect(await status()).toBe("active");
    await notifier.drain();
    expect(slack.calls).toHaveLength(0);
    await step(health, 30_000);
    expect(await status()).toBe("down");
    await notifier.drain();
    expect(slack.calls).toHaveLength(1);
    expect(slack.calls[0]?.headers["content-type"]).toBe("application/json");
    expect(slackTexts()[0]).toMatch(/^\*\[Mercato\] Agent "Price feed" is down\*\n/);
    expect(slackTexts()[0]).toContain(
      `Agent "Price feed" (${id}) is down: its health check failed 3 times in a row`,
    );
    expect(slackTexts()[0]).toContain(`GET ${seller.url}/agent/health`);
    expect(slackTexts()[0]).toContain("What to do:");
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]).toMatchObject({
      from: "alerts@mercato.test",
      to: ["ops@seller.test"],
      subject: '[Mercato] Agent "Price feed" is down',
    });
    expect(smtp.messages[0]?.text).toContain(`Agent "Price feed" (${id}) is down`);
    expect(smtp.messages[0]?.text).toContain("2026-03-01T12:01:30.000Z");

    // Still failing: no flood.
    await step(health, 30_000);
    await step(health, 30_000);
    await notifier.drain();
    expect(await status()).toBe("down");
    expect(slack.calls).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);

    // Recovered at the first healthy check.
    seller.health.status = 200;
    await step(health, 30_000);
    expect(await status()).toBe("active");
    await notifier.drain();
    expect(slack.calls).toHaveLength(2);
    expect(slackTexts()[1]).toMatch(/^\*\[Mercato\] Agent "Price feed" is back up\*/);
    expect(smtp.messages).toHaveLength(2);
    expect(smtp.messages[1]?.subject).toBe('[Mercato] Agent "Price feed" is back up');
    expect(smtp.messages[1]?.text).toContain("2026-03-01T12:03:00.000Z");

    // Uptime: 7 checks, the first and the last healthy.
    expect(seller.requests).toHaveLength(7);
    const metrics = await broker.store.getAgentMetrics(id, "24h", broker.clock.now().toISOString());
    expect(metrics).toMatchObject({ healthChecks: 7, healthyChecks: 2 });
    // Every result also reaches the broker's counters (Prometheus).
    expect(seen).toHaveLength(7);
    expect(seen.filter(Boolean)).toHaveLength(2);
    await app.close();
  });
});

describe("the health checker", () => {
  it("spreads the first round over one interval, then checks each agent every interval ±10%", async () => {
    await Promise.all(Array.from({ length: 1000 }, () => agent()));
    const health = checker({ random: seeded(7) });
    const start = broker.clock.now().getTime();
    await health.start();
    // When each agent's checks arrived, to the 3 s step.
    const arrivals = new Map<string, number[]>();
    for (let i = 0; i < 22; i++) {
      const before = seller.requests.length;
      await step(health, 3_000);
      for (const path of seller.requests.slice(before)) {
        arrivals.set(path, [...(arrivals.get(path) ?? []), broker.clock.now().getTime() - start]);
      }
    }
    expect(arrivals.size).toBe(1000);
    const firsts = [...arrivals.values()].map((times) => times[0] as number);
    for (let end = 3_000; end <= 30_000; end += 3_000) {
      const inStep = firsts.filter((t) => t === end).length;
      expect(inStep).toBeGreaterThan(60);
      expect(inStep).toBeLessThan(140);
    }
    for (const times of arrivals.values()) {
      expect(times.length).toBeGreaterThanOrEqual(2);
      const gap = (times[1] as number) - (times[0] as number);
      expect(gap).toBeGreaterThanOrEqual(27_000 - 3_000);
      expect(gap).toBeLessThanOrEqual(33_000 + 3_000);
    }
  });

  it("never has more than healthConcurrency checks in flight: the rest wait their turn", async () => {
    for (let i = 0; i < 100; i++) await agent();
    seller.health.delayMs = 20;
    const health = checker({ settings: { ...SETTINGS, healthConcurrency: 5 } });
    await health.start();
    // Every first check is due at 15 s (random 0.5). The clock stays there: no check times out.
    timers.advance(15_000);
    expect(health.stats().inFlight).toBe(5);
    expect(health.stats().waiting).toBe(95);
    await health.idle();
    expect(seller.requests).toHaveLength(100);
    expect(seller.maxInFlight).toBe(5);
    expect(health.stats()).toMatchObject({ maxInFlight: 5, checks: 100, inFlight: 0, waiting: 0 });
  });

  it("warns when sellers answer too slowly for the concurrency, and the checks fall behind", async () => {
    await agent();
    await agent();
    seller.health.delayMs = 60_000;
    const health = checker({
      settings: { ...SETTINGS, healthConcurrency: 1, healthTimeoutMs: 120_000 },
      reloadIntervalMs: 10_000,
    });
    await health.start();
    timers.advance(15_000);
    await vi.waitFor(() => expect(seller.inFlight).toBe(1), BUSY_MACHINE);
    timers.advance(25_000);
    expect(silentLog.warn).not.toHaveBeenCalled();
    timers.advance(10_000);
    expect(silentLog.warn).toHaveBeenCalledWith(
      { waiting: 1, lagMs: 35_000, concurrency: 1, agents: 2 },
      expect.stringContaining("health checks are falling behind"),
    );
  });

  it("counts a timeout, a refused connection, a redirect and an error status as unhealthy; any 2xx as healthy", async () => {
    const health = checker();
    await health.start();
    const id = await agent();
    for (const [status, healthy] of [
      [200, true],
      [204, true],
      [301, false],
      [404, false],
      [503, false],
    ] as const) {
      seller.health.status = status;
      expect(await health.checkNow(id)).toEqual([{ agentId: id, healthy }]);
    }

    seller.health = { status: 200, delayMs: 60_000 };
    const slow = health.checkNow(id);
    await vi.waitFor(() => expect(seller.inFlight).toBe(1), BUSY_MACHINE);
    timers.advance(SETTINGS.healthTimeoutMs);
    expect(await slow).toEqual([{ agentId: id, healthy: false }]);

    const closed = await startHealthSeller();
    await closed.close();
    const refused = await agent(`${closed.url}/agent`);
    expect(await health.checkNow(refused)).toEqual([{ agentId: refused, healthy: false }]);
  });

  it("refuses loopback and private sellers outside dev mode, before connecting", async () => {
    const resolveHost = async (host: string) =>
      host === "rebound.example" ? ["127.0.0.1"] : publicResolver(host);
    const health = checker({ dev: false, resolveHost });
    await health.start();
    const port = new URL(seller.url).port;
    const literal = await agent(`http://127.0.0.1:${port}/agent`);
    const rebound = await agent(`http://rebound.example:${port}/agent`);
    const privateName = await agent(`http://seller.internal-test:${port}/agent`);
    expect(await health.checkNow()).toEqual(
      expect.arrayContaining([
        { agentId: literal, healthy: false },
        { agentId: rebound, healthy: false },
        { agentId: privateName, healthy: false },
      ]),
    );
    expect(seller.requests).toEqual([]);
  });

  it("marks an agent down once after failuresBeforeDown failures in a row, and up at the first success", async () => {
    const alerts = recordingAlerts();
    const health = checker({ alerts });
    await health.start();
    const id = await agent();
    seller.health.status = 500;
    await health.checkNow(id);
    await health.checkNow(id);
    seller.health.status = 200;
    await health.checkNow(id); // a success resets the count
    seller.health.status = 500;
    await health.checkNow(id);
    await health.checkNow(id);
    expect(await statusOf(id)).toBe("active");
    expect(alerts.events).toEqual([]);
    await health.checkNow(id);
    expect(await statusOf(id)).toBe("down");
    for (let i = 0; i < 5; i++) await health.checkNow(id);
    expect(alerts.events).toEqual([
      { kind: "agent_down", agentId: id, at: broker.clock.now().toISOString(), consecutiveFailures: 3 },
    ]);
    seller.health.status = 200;
    await health.checkNow(id);
    await health.checkNow(id);
    expect(await statusOf(id)).toBe("active");
    expect(alerts.events.map((event) => event.kind)).toEqual(["agent_down", "agent_recovered"]);
  });

  it("keeps the state across a restart: a stored down agent is not alerted as down again", async () => {
    const first = recordingAlerts();
    const health = checker({ alerts: first });
    await health.start();
    const id = await agent();
    seller.health.status = 500;
    for (let i = 0; i < 3; i++) await health.checkNow(id);
    expect(first.events.map((event) => event.kind)).toEqual(["agent_down"]);
    await health.stop();

    const second = recordingAlerts();
    const restarted = checker({ alerts: second });
    await restarted.start();
    for (let i = 0; i < 4; i++) await restarted.checkNow(id);
    expect(second.events).toEqual([]);
    expect(await statusOf(id)).toBe("down");
    seller.health.status = 200;
    await restarted.checkNow(id);
    expect(second.events.map((event) => event.kind)).toEqual(["agent_recovered"]);
    expect(await statusOf(id)).toBe("active");

    // An agent already stored as down before the checker ever saw it: the same.
    const stored = await agent(undefined, "down");
    seller.health.status = 500;
    for (let i = 0; i < 4; i++) await restarted.checkNow(stored);
    expect(second.events.map((event) => event.kind)).toEqual(["agent_recovered"]);
  });

  it("writes the outcomes in batches, not one write per check", async () => {
    for (let i = 0; i < 50; i++) await agent();
    const record = vi.spyOn(broker.store, "recordHealthChecks");
    const health = checker();
    await health.start();
    await step(health, 15_000);
    expect(seller.requests).toHaveLength(50);
    const written = record.mock.calls.reduce((sum, [outcomes]) => sum + outcomes.length, 0);
    expect(written).toBe(50);
    expect(record.mock.calls.length).toBeLessThanOrEqual(5);
  });

  it("is told of registrations, re-activations, moves and deactivations by the registry", async () => {
    const health = checker();
    const app = createBroker({
      store: broker.store,
      clock: broker.clock,
      config: { dev: true, logLevel: "silent" },
      health,
    });
    await app.ready();
    await health.start();
    const call = (method: "POST" | "PATCH" | "DELETE", url: string, body?: object) =>
      app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${ownerKey}` },
        ...(body && { payload: body }),
      });
    const response = await call("POST", "/agents/register", {
      name: "Tracked",
      description: "",
      category: "crypto",
      api_endpoint: `${seller.url}/one`,
      pricing: { model: "per_call", price_per_call: 0.01 },
    });
    const id = (response.json() as { agent_id: string }).agent_id;
    await health.idle();
    expect(seller.requests).toEqual(["/one/health"]);

    await call("PATCH", `/agents/${id}`, { api_endpoint: `${seller.url}/two` });
    await health.idle();
    expect(seller.requests).toEqual(["/one/health", "/two/health"]);

    await call("DELETE", `/agents/${id}`);
    await step(health, 120_000);
    expect(seller.requests).toHaveLength(2);

    await call("PATCH", `/agents/${id}`, { status: "active" });
    await health.idle();
    expect(seller.requests).toEqual(["/one/health", "/two/health", "/two/health"]);
    await app.close();
  });

  it("picks up agents added and removed elsewhere when it reloads", async () => {
    const health = checker({ reloadIntervalMs: 60_000 });
    await health.start();
    const added = await agent();
    await step(health, 59_000);
    expect(health.stats().agents).toBe(0);
    await step(health, 1_000);
    expect(health.stats().agents).toBe(1);
    await broker.store.updateAgent(added, { status: "inactive" }, broker.clock.now().toISOString());
    await step(health, 60_000);
    expect(health.stats().agents).toBe(0);
  });

  it("stops without counting the checks it abandons", async () => {
    const alerts = recordingAlerts();
    const health = checker({ alerts, settings: { ...SETTINGS, failuresBeforeDown: 1 } });
    const id = await agent();
    await health.start();
    seller.health.delayMs = 60_000;
    timers.advance(15_000);
    await vi.waitFor(() => expect(seller.inFlight).toBe(1), BUSY_MACHINE);
    const record = vi.spyOn(broker.store, "recordHealthChecks");
    await health.stop();
    expect(record).not.toHaveBeenCalled();
    expect(alerts.events).toEqual([]);
    expect(await statusOf(id)).toBe("active");
  });
});

describe("the health checker, when many listings share endpoints and hosts (issue 16, item 7)", () => {
  it("checks an endpoint shared by many listings once per interval, and records the result for each", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await agent(`${seller.url}/shared`));
    // The same endpoint, written another way (trailing slash): the same health URL.
    ids.push(await agent(`${seller.url}/shared/`));
    const health = checker();
    await health.start();
    expect(health.stats()).toMatchObject({ agents: 51, endpoints: 1 });
    await step(health, 30_000);
    await step(health, 30_000);
    expect(seller.requests).toEqual(["/shared/health", "/shared/health"]);
    for (const id of [ids[0], ids[50]] as string[]) {
      const metrics = await broker.store.getAgentMetrics(id, "24h", broker.clock.now().toISOString());
      expect(metrics).toMatchObject({ healthChecks: 2, healthyChecks: 2 });
    }
    // Every listing goes down together, each alerted once.
    const alerts = recordingAlerts();
    await health.stop();
    const failing = checker({ alerts });
    await failing.start();
    seller.health.status = 500;
    for (let i = 0; i < 3; i++) await step(failing, 30_000);
    expect(seller.requests).toHaveLength(5);
    expect(alerts.events.filter((event) => event.kind === "agent_down")).toHaveLength(51);
    for (const id of ids) expect(await statusOf(id)).toBe("down");
  });

  it("shares the checks of one store between checkers (brokers): once per interval in all, failures adding up", async () => {
    const id = await agent(`${seller.url}/both`);
    const alerts = [recordingAlerts(), recordingAlerts(), recordingAlerts()];
    // Each broker places the endpoint elsewhere in the interval.
    const healths = [0.1, 0.5, 0.9].map((place, i) =>
      checker({ random: () => place, alerts: alerts[i] as AlertNotifier }),
    );
    for (const health of healths) await health.start();
    const round = async () => {
      timers.advance(30_000);
      for (const health of healths) await health.idle();
    };
    await round();
    expect(seller.requests).toHaveLength(1);
    for (let i = 0; i < 4; i++) await round();
    expect(seller.requests).toHaveLength(5);
    expect(healths.reduce((sum, health) => sum + health.stats().checks, 0)).toBe(5);
    expect(healths.reduce((sum, health) => sum + health.stats().shared, 0)).toBeGreaterThanOrEqual(8);

    // Three failures in a row, whichever broker saw them: down, alerted once.
    seller.health.status = 500;
    for (let i = 0; i < 3; i++) await round();
    expect(await statusOf(id)).toBe("down");
    expect(alerts.flatMap((a) => a.events).map((event) => event.kind)).toEqual(["agent_down"]);
    seller.health.status = 200;
    await round();
    expect(await statusOf(id)).toBe("active");
    expect(alerts.flatMap((a) => a.events).map((event) => event.kind)).toEqual([
      "agent_down",
      "agent_recovered",
    ]);
  });

  it("sends one host at most healthChecksPerHost checks per interval, the endpoints waiting longest first", async () => {
    const paths = Array.from({ length: 12 }, (_, i) => `/p${i}`);
    for (const path of paths) await agent(`${seller.url}${path}`);
    const health = checker({ settings: { ...SETTINGS, healthChecksPerHost: 5 }, random: seeded(3) });
    await health.start();
    // Steps of one window each: [0, 29.999 s], then [30 s, 59.999 s], …
    const rounds: string[][] = [];
    for (let i = 0; i < 6; i++) {
      const before = seller.requests.length;
      await step(health, i === 0 ? 29_999 : 30_000);
      rounds.push(seller.requests.slice(before));
    }
    for (const checked of rounds) expect(checked.length).toBeLessThanOrEqual(5);
    // Five a window, and every endpoint in turn: each is checked every third window.
    expect(rounds.slice(1).map((checked) => checked.length)).toEqual([5, 5, 5, 5, 5]);
    const counts = new Map<string, number>();
    for (const path of seller.requests) counts.set(path, (counts.get(path) ?? 0) + 1);
    expect(counts.size).toBe(12);
    for (const count of counts.values()) expect(count).toBeGreaterThanOrEqual(2);
    expect(health.stats().deferred).toBeGreaterThan(0);
    // Another host is not held back by this one's turn.
    const other = await startHealthSeller();
    try {
      const otherId = await agent(`${other.url.replace("127.0.0.1", "localhost")}/x`);
      expect(await health.checkNow(otherId)).toEqual([{ agentId: otherId, healthy: true }]);
      await step(health, 30_000);
      expect(other.requests).toEqual(["/x/health", "/x/health"]);
    } finally {
      await other.close();
    }
  });

  it("checks only listings that are up or down: not deactivated ones", async () => {
    const listed = await agent(`${seller.url}/listed`);
    const off = await agent(`${seller.url}/off`);
    await broker.store.updateAgent(off, { status: "inactive" }, broker.clock.now().toISOString());
    const health = checker();
    await health.start();
    health.track(off);
    await step(health, 30_000);
    expect(seller.requests).toEqual(["/listed/health"]);
    expect(await health.checkNow(off)).toEqual([]);
    expect(await statusOf(listed)).toBe("active");
  });
});

describe("startBroker", () => {
  it("runs the health checks (off with monitoring: false) and stops them on close", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mercato-health-"));
    try {
      for (const monitoring of [true, false]) {
        const config = parseConfig(["--dev", "--port", "0", "--db", join(dir, `${monitoring}.db`)], {
          LOG_LEVEL: "silent",
        });
        // `monitoring` decides, also with the scheduler's jobs off.
        const running = await startBroker(config, { scheduler: false, monitoring });
        const before = seller.requests.length;
        const signUp = await fetch(`${running.url}/accounts`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: "Seller" }),
        });
        const key = ((await signUp.json()) as { api_key: string }).api_key;
        const registered = await fetch(`${running.url}/agents/register`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
          body: JSON.stringify({
            name: "Started",
            description: "",
            category: "crypto",
            api_endpoint: `${seller.url}/started`,
            pricing: { model: "per_call", price_per_call: 0.01 },
          }),
        });
        expect(registered.status).toBe(201);
        if (monitoring) {
          await vi.waitFor(
            () => expect(seller.requests.slice(before)).toEqual(["/started/health"]),
            BUSY_MACHINE,
          );
        } else {
          await new Promise((resolve) => setTimeout(resolve, 100));
          expect(seller.requests.slice(before)).toEqual([]);
        }
        await running.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("healthUrl", () => {
  it("appends /health to the endpoint's path and keeps its query", () => {
    expect(healthUrl("https://api.example.com/agent/abc123")).toBe(
      "https://api.example.com/agent/abc123/health",
    );
    expect(healthUrl("https://api.example.com/agent/")).toBe("https://api.example.com/agent/health");
    expect(healthUrl("https://api.example.com")).toBe("https://api.example.com/health");
    expect(healthUrl("https://api.example.com/a?v=2#x")).toBe("https://api.example.com/a/health?v=2");
  });
});
