import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createAlertNotifier } from "../../src/alerts/notifier.js";
import type { AlertEvent, AlertNotifier } from "../../src/alerts/types.js";
import { createBroker } from "../../src/app/create-broker.js";
import { createSuccessRateMonitor, type SuccessRateMonitor } from "../../src/metrics/success-rate.js";
import { createDevProvider } from "../../src/payments/dev-provider.js";
import { createTestBroker, publicResolver, type TestBroker } from "../support/harness.js";
import { createManualTimers } from "../support/monitoring.js";
import { startTestSeller, type TestSeller } from "../support/test-sellers.js";

let broker: TestBroker;
let agentId: string;
let events: AlertEvent[];
let monitor: SuccessRateMonitor;

function recordingAlerts(): AlertNotifier {
  return { notify: (event) => void events.push(event), drain: async () => {} };
}

beforeEach(async () => {
  broker = await createTestBroker({ dev: true });
  const owner = await broker.signUp("Seller");
  agentId = await broker.register(owner.apiKey);
  events = [];
  monitor = createSuccessRateMonitor({
    store: broker.store,
    clock: broker.clock,
    alerts: recordingAlerts(),
    log: { info: vi.fn() },
  });
});

afterEach(async () => {
  await broker.close();
});

const threshold = (value: number | null) =>
  broker.store.setAlertChannels(agentId, {
    slackWebhookUrl: null,
    email: "ops@seller.test",
    successRateThreshold: value,
    updatedAt: broker.clock.now().toISOString(),
  });

/** Records `calls` calls of which `successes` succeed, spread over the current minute. */
function calls(count: number, successes: number, id = agentId) {
  for (let i = 0; i < count; i++) {
    monitor.record({
      agentId: id,
      buyerId: "acct_buyer",
      outcome: i < successes ? "success" : "failure",
      responseTimeMs: 50,
    });
  }
}

describe("the low-success-rate alert", () => {
  it("alerts once per crossing below the threshold, and re-arms when the rate is back above it", async () => {
    await threshold(0.9);
    calls(20, 17); // 85%
    await monitor.evaluate();
    expect(events).toEqual([
      {
        kind: "low_success_rate",
        agentId,
        at: "2026-03-01T12:00:00.000Z",
        successRate: 0.85,
        threshold: 0.9,
        calls: 20,
      },
    ]);

    // Still below, a minute later and the next: not alerted again.
    broker.clock.advance(60_000);
    calls(10, 5);
    await monitor.evaluate();
    broker.clock.advance(60_000);
    await monitor.evaluate();
    expect(events).toHaveLength(1);

    // Back above (the failures leave the hour): re-armed, and the next drop alerts again.
    broker.clock.advance(60 * 60_000);
    calls(40, 40);
    await monitor.evaluate();
    expect(events).toHaveLength(1);
    broker.clock.advance(60_000);
    calls(40, 20); // the hour: 60 of 80
    await monitor.evaluate();
    expect(events).toHaveLength(2);
    expect(events[1]).toMatchObject({ successRate: 0.75, calls: 80 });
  });

  it("needs at least 20 calls in the hour, a threshold, and a rate below it", async () => {
    await threshold(0.9);
    calls(19, 0);
    await monitor.evaluate();
    expect(events).toEqual([]);

    calls(1, 1); // 20 calls, 5% — but no threshold now
    await threshold(null);
    await monitor.evaluate();
    expect(events).toEqual([]);

    await threshold(0.05);
    await monitor.evaluate(); // exactly at the threshold is not below it
    expect(events).toEqual([]);
    await threshold(0.06);
    await monitor.evaluate();
    expect(events).toHaveLength(1);
  });

  it("counts a sliding hour of one-minute buckets", () => {
    calls(30, 10);
    broker.clock.advance(30 * 60_000);
    calls(10, 10);
    expect(monitor.lastHour(agentId)).toEqual({ calls: 40, successes: 20 });
    broker.clock.advance(30 * 60_000);
    expect(monitor.lastHour(agentId)).toEqual({ calls: 10, successes: 10 });
    broker.clock.advance(30 * 60_000);
    expect(monitor.lastHour(agentId)).toEqual({ calls: 0, successes: 0 });
  });

  it("never looks up agents whose every call succeeded", async () => {
    const lookup = vi.spyOn(broker.store, "getAlertChannels");
    calls(500, 500);
    await monitor.evaluate();
    expect(lookup).not.toHaveBeenCalled();
  });
});

describe("the low-success-rate alert in the broker", () => {
  let seller: TestSeller;
  /** What Slack received: each webhook post's body. */
  let slack: { calls: Array<{ body: string }> };
  // Slack's webhook host, answered at the network layer (the notifier's default global fetch);
  // any other request fails. The seller is a real server on loopback.
  const server = setupServer(
    http.post("https://hooks.slack.com/services/*", async ({ request }) => {
      slack.calls.push({ body: await request.text() });
      return HttpResponse.text("ok");
    }),
  );

  beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
  afterAll(() => server.close());
  beforeEach(async () => {
    let n = 0;
    // Healthy, but every other call fails.
    seller = await startTestSeller((call) => {
      if (call.url.endsWith("/health")) return { body: '{"status":"ok"}' };
      return ++n % 2 === 0 ? { status: 500, body: "{}" } : { body: '{"output":1}' };
    });
    slack = { calls: [] };
  });
  afterEach(async () => {
    server.resetHandlers();
    await seller.close();
  });

  it("is fed by the invoke proxy's outcomes and checked once a minute", async () => {
    const timers = createManualTimers(broker.clock);
    const notifier = createAlertNotifier({
      store: broker.store,
      log: { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() },
      settings: { smtpUrl: undefined, from: "Mercato <alerts@mercato.test>" },
      clock: broker.clock,
    });
    const app = createBroker({
      store: broker.store,
      clock: broker.clock,
      config: { dev: true, logLevel: "silent" },
      resolveHost: publicResolver,
      payments: createDevProvider(),
      alerts: notifier,
      // Health checks far apart: this test is about calls.
      monitoring: { settings: { healthIntervalMs: 86_400_000 }, timers },
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const call = (method: "POST" | "PUT", url: string, key: string, body: object) =>
      app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, payload: body });

    const owner = await broker.signUp("Owner");
    const buyer = await broker.signUp("Buyer");
    const registered = await call("POST", "/agents/register", owner.apiKey, {
      name: "Flaky",
      description: "",
      category: "crypto",
      api_endpoint: `${seller.url}/agent`,
      pricing: { model: "per_call", price_per_call: 0.01 },
    });
    const id = (registered.json() as { agent_id: string }).agent_id;
    expect(
      (
        await call("PUT", `/agents/${id}/alerts`, owner.apiKey, {
          slack_webhook_url: "https://hooks.slack.com/services/T/B/x",
          success_rate_threshold: 0.8,
        })
      ).statusCode,
    ).toBe(200);
    expect((await call("POST", "/topups", buyer.apiKey, { amount_usd: 10 })).statusCode).toBe(201);
    const purchase = await call("POST", "/purchase", buyer.apiKey, { agent_id: id, plan: "per_call" });
    const accessKey = (purchase.json() as { api_key: string }).api_key;
    for (let i = 0; i < 24; i++) {
      await call("POST", `/agents/${id}/invoke`, accessKey, { input: { i } });
    }

    timers.advance(60_000);
    await vi.waitFor(() => expect(slack.calls).toHaveLength(1), { timeout: 60_000 });
    expect((JSON.parse(slack.calls[0]?.body ?? "{}") as { text: string }).text).toContain(
      `Agent "Flaky" (${id}) succeeded on 50% of its 24 calls in the hour up to 2026-03-01T12:01:00.000Z, below your alert threshold of 80%.`,
    );
    timers.advance(60_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await notifier.drain();
    expect(slack.calls).toHaveLength(1);
    await app.close();
  });
});
