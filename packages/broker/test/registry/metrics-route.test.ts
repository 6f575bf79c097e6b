import { AgentDetail, AgentWindowMetrics, scoreFromWindows } from "@mercato/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createDevProvider } from "../../src/payments/dev-provider.js";
import { establishedBuyers, spreadOverBuyers } from "../support/buyers.js";
import { createTestBroker, type TestBroker } from "../support/harness.js";
import { startTestSeller, type TestSeller } from "../support/test-sellers.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let broker: TestBroker | undefined;
let seller: TestSeller | undefined;
afterEach(async () => {
  await broker?.close();
  await seller?.close();
  broker = undefined;
  seller = undefined;
});

/** Starts the test's broker, closed after it. */
async function start(options: Parameters<typeof createTestBroker>[0] = {}): Promise<TestBroker> {
  broker = await createTestBroker(options);
  return broker;
}

const ago = (b: TestBroker, ms: number) => new Date(b.clock.now().getTime() - ms).toISOString();
const getMetrics = async (b: TestBroker, agentId: string, query = "") => {
  const response = await b.call("GET", `/agents/${agentId}/metrics${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return AgentWindowMetrics.parse(response.json());
};

describe("GET /agents/{id}/metrics", () => {
  it("answers the AgentMetrics figures over the last 24 hours by default, with the raw figures", async () => {
    const b = await start();
    const { apiKey } = await b.signUp("Seller");
    const agentId = await b.register(apiKey);
    const calls = (count: number, successes: number, responseTimeMs: number) =>
      Array.from({ length: count }, (_, i) => ({ agentId, success: i < successes, responseTimeMs }));
    const buyers = await establishedBuyers(b.store, 60);
    await b.store.recordCallOutcomes(spreadOverBuyers(buyers, calls(20, 18, 100)), ago(b, 2 * HOUR));
    await b.store.recordCallOutcomes(spreadOverBuyers(buyers, calls(10, 5, 900)), ago(b, 3 * DAY));
    await b.store.recordHealthChecks(
      [
        { agentId, healthy: true },
        { agentId, healthy: true },
        { agentId, healthy: false },
      ],
      ago(b, HOUR),
    );
    await b.store.recordHealthChecks([{ agentId, healthy: false }], ago(b, 2 * DAY));

    const day = await getMetrics(b, agentId);
    const expectedDay = scoreFromWindows(
      20_000,
      { calls: 20, successes: 18, totalResponseTimeMs: 2_000 },
      { healthChecks: 3, healthyChecks: 2 },
    );
    expect(day).toMatchObject({
      agent_id: agentId,
      window: "24h",
      from: "2026-02-28T12:01:00.000Z",
      to: "2026-03-01T12:00:00.000Z",
      calls: 20,
      successes: 18,
      health_checks: 3,
      healthy_checks: 2,
      total_calls: 30,
      // Measured: 18 of 20, 100 ms each, 2 of 3 checks healthy.
      success_rate: 0.9,
      avg_response_time_ms: 100,
      uptime_24h: 0.6667,
      uptime: 0.6667,
      trust_score: Number(expectedDay.trustScore.toFixed(4)),
      cost_per_success: Number((expectedDay.costPerSuccessMicros / 1_000_000).toFixed(6)),
      ranking: {
        success_rate: Number(expectedDay.successRate.toFixed(4)),
        success_lower_bound: Number(expectedDay.successLowerBound.toFixed(4)),
        category_prior: 0.95,
      },
    });
    // 100 ms lies in the (80, 130] ms bucket.
    for (const p of [day.p50_response_time_ms, day.p95_response_time_ms]) {
      expect(p).toBeGreaterThan(80);
      expect(p).toBeLessThanOrEqual(130);
    }
    expect(await getMetrics(b, agentId, "?window=24h")).toEqual(day);

    const week = await getMetrics(b, agentId, "?window=7d");
    expect(week).toMatchObject({
      window: "7d",
      calls: 30,
      successes: 23,
      health_checks: 4,
      healthy_checks: 2,
      // uptime_24h stays the 24-hour figure; uptime is the week's, measured: 2 of 4.
      uptime_24h: day.uptime_24h,
      uptime: 0.5,
      success_rate: Number((23 / 30).toFixed(4)),
    });
    expect(Date.parse(week.from)).toBeGreaterThan(b.clock.now().getTime() - 7 * DAY);
    expect(week.p95_response_time_ms).toBeGreaterThan(800);

    // Over 30 days the figures are the ones search ranks by.
    await b.store.refreshScores(b.clock.now().toISOString());
    const month = await getMetrics(b, agentId, "?window=30d");
    const detail = AgentDetail.parse((await b.call("GET", `/agents/${agentId}`)).json());
    const { last_updated, ...ranking } = detail.metrics;
    expect(month).toMatchObject({ ...ranking, window: "30d", calls: 30 });
  });

  it("answers null percentiles and measured figures, the prior under ranking, without calls; 404 for an unknown agent, 400 for another window", async () => {
    const b = await start();
    const { apiKey } = await b.signUp("Seller");
    const agentId = await b.register(apiKey);
    expect(await getMetrics(b, agentId, "?window=30d")).toMatchObject({
      calls: 0,
      successes: 0,
      p50_response_time_ms: null,
      p95_response_time_ms: null,
      success_rate: null,
      avg_response_time_ms: null,
      uptime: null,
      uptime_24h: null,
      total_calls: 0,
      ranking: { success_rate: 0.95, category_prior: 0.95 },
      health_checks: 0,
    });
    const missing = await b.call("GET", "/agents/agent_nosuchagent/metrics");
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe("AGENT_NOT_FOUND");
    for (const query of ["?window=1h", "?window=24h&extra=1"]) {
      const bad = await b.call("GET", `/agents/${agentId}/metrics${query}`);
      expect(bad.statusCode, query).toBe(400);
      expect(bad.json().error.code).toBe("VALIDATION_ERROR");
    }
  });

  it("does not count calls an owner makes to its own agent: they change no metric and no score", async () => {
    seller = await startTestSeller();
    const b = await start({ dev: true, payments: createDevProvider() });
    const owner = await b.signUp("Seller");
    const buyer = await b.signUp("Buyer");
    const agentId = await b.register(owner.apiKey, { api_endpoint: `${seller.url}/agent` });
    const accessKey = async (apiKey: string) => {
      expect((await b.call("POST", "/topups", { key: apiKey, body: { amount_usd: 10 } })).statusCode).toBe(
        201,
      );
      const purchase = await b.call("POST", "/purchase", { key: apiKey, body: { agent_id: agentId } });
      expect(purchase.statusCode, purchase.body).toBe(201);
      return (purchase.json() as { api_key: string }).api_key;
    };
    const invoke = (key: string) =>
      b.call("POST", `/agents/${agentId}/invoke`, { key, body: { input: { symbol: "BTC" } } });
    const ownKey = await accessKey(owner.apiKey);
    const buyerKey = await accessKey(buyer.apiKey);
    const before = await b.store.getAgent(agentId);

    for (let i = 0; i < 5; i++) expect((await invoke(ownKey)).statusCode).toBe(200);
    expect((await invoke(buyerKey)).statusCode).toBe(200);
    // Outcomes are written in batches every second: wait for the buyer's call, then one more batch.
    await vi.waitFor(async () => expect((await getMetrics(b, agentId)).calls).toBe(1), { timeout: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_200));

    const measured = await getMetrics(b, agentId, "?window=30d");
    expect(measured).toMatchObject({ calls: 1, successes: 1, total_calls: 1 });
    expect(seller.calls).toHaveLength(6);
    const agent = await b.store.getAgent(agentId);
    const window = await b.store.getAgentMetrics(agentId, "30d", b.clock.now().toISOString());
    // The buyer's account is younger than a day: its call weighs a quarter call in the ranking.
    expect(window.ranked).toEqual({ calls: 0.25, successes: 0.25 });
    expect(agent?.scores).toEqual(
      scoreFromWindows(
        20_000,
        { calls: 1, successes: 1, totalResponseTimeMs: window.meanResponseTimeMs ?? 0 },
        { healthChecks: 0, healthyChecks: 0 },
        { calls: 0.25, successes: 0.25 },
      ),
    );
    expect(agent?.scores).not.toEqual(before?.scores);
  });
});
