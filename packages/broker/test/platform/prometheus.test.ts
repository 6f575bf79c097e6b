import { afterEach, describe, expect, it } from "vitest";
import { createDevProvider } from "../../src/payments/dev-provider.js";
import { createBrokerMetrics } from "../../src/platform/prometheus.js";
import { createTestBroker, type TestBroker } from "../support/harness.js";
import { startTestSeller, type TestSeller } from "../support/test-sellers.js";

const ADMIN = "metrics-admin-token-0001";
let broker: TestBroker | undefined;
let seller: TestSeller | undefined;

afterEach(async () => {
  await broker?.close();
  await seller?.close();
  broker = undefined;
  seller = undefined;
});

/** The value of one series in Prometheus text, or undefined when it is not there. */
function seriesValue(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("GET /metrics", () => {
  it("serves the request, invoke, charge, hold and seller-error series after some traffic", async () => {
    seller = await startTestSeller((call) =>
      (JSON.parse(call.body) as { input: { fail?: boolean } }).input.fail
        ? { status: 500, body: "{}" }
        : { body: JSON.stringify({ output: { ok: true } }) },
    );
    broker = await createTestBroker({ dev: true, payments: createDevProvider() });
    const owner = await broker.signUp("Seller");
    const buyer = await broker.signUp("Buyer");
    const agentId = await broker.register(owner.apiKey, {
      api_endpoint: `${seller.url}/agent`,
      pricing: { model: "per_call", price_per_call: 0.02 },
    });
    await broker.call("POST", "/topups", { key: buyer.apiKey, body: { amount_usd: 10 } });
    const { api_key: accessKey } = (
      await broker.call("POST", "/purchase", { key: buyer.apiKey, body: { agent_id: agentId } })
    ).json() as { api_key: string };
    const invoke = (input: unknown) =>
      broker?.call("POST", `/agents/${agentId}/invoke`, { key: accessKey, body: { input } });
    for (let i = 0; i < 3; i++) expect((await invoke({ symbol: "BTC" }))?.statusCode).toBe(200);
    expect((await invoke({ fail: true }))?.statusCode).toBe(502);
    expect((await broker.call("GET", "/nowhere/at/all")).statusCode).toBe(404);

    // Open in dev mode.
    const response = await broker.call("GET", "/metrics");
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = response.body;
    const invokeRoute = 'route="/agents/:id/invoke"';
    expect(seriesValue(text, `mercato_http_requests_total{${invokeRoute},method="POST",status="200"}`)).toBe(
      3,
    );
    expect(seriesValue(text, `mercato_http_requests_total{${invokeRoute},method="POST",status="502"}`)).toBe(
      1,
    );
    expect(
      seriesValue(text, 'mercato_http_requests_total{route="unmatched",method="GET",status="404"}'),
    ).toBe(1);
    expect(
      seriesValue(text, `mercato_http_request_duration_seconds_count{${invokeRoute},method="POST"}`),
    ).toBe(4);
    expect(seriesValue(text, 'mercato_invoke_duration_seconds_count{outcome="ok"}')).toBe(3);
    expect(seriesValue(text, 'mercato_invoke_duration_seconds_count{outcome="seller_error"}')).toBe(1);
    expect(seriesValue(text, "mercato_charges_total")).toBe(3);
    expect(seriesValue(text, "mercato_charged_micros_total")).toBe(60_000);
    expect(seriesValue(text, "mercato_holds_open")).toBe(0);
    expect(seriesValue(text, 'mercato_seller_errors_total{code="SELLER_ERROR"}')).toBe(1);
    expect(seriesValue(text, "mercato_keys_suspended_total")).toBe(0);
    expect(text).toContain("# TYPE mercato_health_checks_total counter");
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toContain("nodejs_eventloop_lag_seconds");
    // Raw URLs never become labels.
    expect(text).not.toContain(agentId);
  });

  it("needs the admin token outside dev mode, and is off without one", async () => {
    broker = await createTestBroker({ adminToken: ADMIN });
    expect((await broker.call("GET", "/metrics")).json().error.code).toBe("UNAUTHENTICATED");
    expect((await broker.call("GET", "/metrics", { key: "not-the-admin-token-at-all" })).statusCode).toBe(
      401,
    );
    const { apiKey } = await broker.signUp();
    expect((await broker.call("GET", "/metrics", { key: apiKey })).statusCode).toBe(401);
    const allowed = await broker.call("GET", "/metrics", { key: ADMIN });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.body).toContain(
      'mercato_http_requests_total{route="/accounts",method="POST",status="201"} 1',
    );
    await broker.close();

    broker = await createTestBroker();
    const off = await broker.call("GET", "/metrics", { key: ADMIN });
    expect(off.statusCode).toBe(403);
    expect(off.json().error.code).toBe("FORBIDDEN");
  });

  it("counts suspended keys", async () => {
    seller = await startTestSeller();
    broker = await createTestBroker({
      dev: true,
      payments: createDevProvider(),
      fraud: { burstFloorPerMinute: 120 },
    });
    const owner = await broker.signUp("Seller");
    const buyer = await broker.signUp("Buyer");
    const agentId = await broker.register(owner.apiKey, {
      api_endpoint: `${seller.url}/agent`,
      pricing: { model: "per_call", price_per_call: 0.001 },
    });
    await broker.call("POST", "/topups", { key: buyer.apiKey, body: { amount_usd: 10 } });
    const { api_key: accessKey } = (
      await broker.call("POST", "/purchase", { key: buyer.apiKey, body: { agent_id: agentId } })
    ).json() as { api_key: string };
    const codes = new Map<number, number>();
    for (let i = 0; i < 130; i++) {
      const { statusCode } = await broker.call("POST", `/agents/${agentId}/invoke`, {
        key: accessKey,
        body: { input: i },
      });
      codes.set(statusCode, (codes.get(statusCode) ?? 0) + 1);
    }
    expect(codes).toEqual(
      new Map([
        [200, 120],
        [403, 10],
      ]),
    );
    const text = (await broker.call("GET", "/metrics")).body;
    expect(seriesValue(text, "mercato_keys_suspended_total")).toBe(1);
    // The call that crossed the line is an invoke outcome; the later ones fail authentication.
    expect(seriesValue(text, 'mercato_invoke_duration_seconds_count{outcome="key_suspended"}')).toBe(1);
    expect(
      seriesValue(text, 'mercato_http_requests_total{route="/agents/:id/invoke",method="POST",status="403"}'),
    ).toBe(10);
  });
});

describe("broker metrics", () => {
  it("keeps each broker's figures in its own registry", async () => {
    const a = createBrokerMetrics();
    const b = createBrokerMetrics();
    a.charged(5);
    a.healthCheck(true);
    a.healthCheck(false);
    a.healthCheck(false);
    a.holdOpened();
    const textA = (await a.scrape()).body;
    const textB = (await b.scrape()).body;
    expect(seriesValue(textA, "mercato_charged_micros_total")).toBe(5);
    expect(seriesValue(textA, 'mercato_health_checks_total{result="healthy"}')).toBe(1);
    expect(seriesValue(textA, 'mercato_health_checks_total{result="unhealthy"}')).toBe(2);
    expect(seriesValue(textA, "mercato_holds_open")).toBe(1);
    expect(seriesValue(textB, "mercato_charged_micros_total")).toBe(0);
    expect(seriesValue(textB, 'mercato_health_checks_total{result="healthy"}')).toBeUndefined();
    expect(seriesValue(textB, "mercato_holds_open")).toBe(0);
  });
});
