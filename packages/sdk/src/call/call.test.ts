import { isMercatoError, type MercatoError } from "@mercato/protocol/errors";
import { HttpResponse, http } from "msw";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createClient } from "../client/client.js";
import { mockServer } from "../client/test-fixtures.js";
import { backoffDelay } from "./backoff.js";
import { createBudget } from "./budget.js";
import type { CallAttempt } from "./types.js";

/** How a fake seller answers one invoke: 200 with output, or an error status with a code. */
type Outcome =
  | "ok"
  | { status: number; code: string; details?: Record<string, unknown>; headers?: Record<string, string> };

interface FakeAgent {
  id: string;
  price: number;
  costPerSuccess: number;
  trust?: number;
  /** Answers in order; the last one repeats. */
  outcomes: Outcome[];
}

/** The fake broker's base URL: msw answers its routes. */
const BROKER = "http://broker";

const server = mockServer();

/** A broker on msw: search, purchase and invoke, recording every request. */
function fakeBroker(agents: FakeAgent[]) {
  const requests: Array<{ method: string; path: string; headers: Record<string, string>; body: unknown }> =
    [];
  const served = new Map<string, number>();
  const charges: string[] = [];
  const answers = new Map<string, { status: number; body: unknown }>();
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", ...headers },
    });
  /** Records a request: its URL, headers and JSON body. */
  const record = async (request: Request) => {
    const url = new URL(request.url);
    const headers = Object.fromEntries(request.headers);
    const text = await request.text();
    const body = text === "" ? undefined : JSON.parse(text);
    requests.push({ method: request.method, path: url.pathname, headers, body });
    return { url, headers, body };
  };
  const search = async (request: Request) => {
    const { url } = await record(request);
    const maxPrice = url.searchParams.get("max_price");
    const results = agents
      .filter((a) => maxPrice === null || a.price <= Number(maxPrice))
      // The broker's own order: cost per success.
      .sort((a, b) => a.costPerSuccess - b.costPerSuccess)
      .map((a) => ({
        agent_id: a.id,
        name: a.id,
        description: "",
        owner_id: "acct_owner0001",
        category: "crypto",
        tags: [],
        version: "1.0.0",
        status: "active",
        price_per_call: a.price,
        currency: "USD",
        success_rate: a.price / a.costPerSuccess,
        avg_response_time_ms: 100,
        uptime_24h: 1,
        total_calls: 10,
        trust_score: a.trust ?? 0.9,
        cost_per_success: a.costPerSuccess,
      }));
    return json(200, { results, next_cursor: null });
  };
  const purchase = async (request: Request) => {
    const { body } = await record(request);
    const agentId = (body as { agent_id: string }).agent_id;
    return json(201, {
      api_key: `sk_live_${agentId.padEnd(43, "x").slice(0, 43)}`,
      endpoint: `http://broker/agents/${agentId}/invoke`,
      price_per_call: 0.01,
      price_per_call_usd: "0.010000",
      agent_id: agentId,
      plan: "per_call",
      key: {
        key_id: "key_abcdefgh01",
        kind: "access",
        name: null,
        prefix: "sk_live_abcdef",
        agent_id: agentId,
        rate_limit: null,
        spend_cap_usd: null,
        spent_usd: "0.000000",
        suspended_at: null,
        suspend_reason: null,
        expires_at: null,
        created_at: "2026-01-01T00:00:00.000Z",
        revoked_at: null,
      },
    });
  };
  const invoke = async (request: Request) => {
    const { url, headers } = await record(request);
    const agentId = /^\/agents\/([^/]+)\/invoke$/.exec(url.pathname)?.[1];
    const agent = agents.find((a) => a.id === agentId);
    if (!agent) return json(404, { error: { code: "AGENT_NOT_FOUND", message: "no", request_id: "r" } });
    const key = headers["idempotency-key"] ?? "";
    const replay = answers.get(key);
    if (replay) return json(replay.status, replay.body, { "idempotent-replayed": "true" });
    const n = served.get(agent.id) ?? 0;
    served.set(agent.id, n + 1);
    const outcome = agent.outcomes[Math.min(n, agent.outcomes.length - 1)] as Outcome;
    const transactionId = `txn_${agent.id}_${n}`;
    if (outcome === "ok") {
      charges.push(agent.id);
      const cost = agent.price.toFixed(6);
      const answer = {
        output: { from: agent.id },
        cost: agent.price,
        cost_usd: cost,
        metrics: { response_time_ms: 5, seller_id: agent.id },
        transaction_id: transactionId,
        receipt: { payload: {}, jws: "x.y.z" },
      };
      answers.set(key, { status: 200, body: answer });
      return json(200, answer);
    }
    const error = {
      error: {
        code: outcome.code,
        message: outcome.code,
        request_id: "req_1",
        details: { transaction_id: transactionId, cost_usd: "0.000000", ...outcome.details },
      },
    };
    if (outcome.code !== "RATE_LIMITED") answers.set(key, { status: outcome.status, body: error });
    return json(outcome.status, error, outcome.headers);
  };
  server.use(
    http.get(`${BROKER}/agents/search`, ({ request }) => search(request)),
    http.post(`${BROKER}/purchase`, ({ request }) => purchase(request)),
    http.post(`${BROKER}/agents/:id/invoke`, ({ request }) => invoke(request)),
  );
  const invokes = () => requests.filter((r) => r.path.endsWith("/invoke"));
  return { invoke, requests, invokes, charges };
}

const SELLER_DOWN: Outcome = { status: 503, code: "SELLER_UNAVAILABLE" };
const SELLER_500: Outcome = { status: 502, code: "SELLER_ERROR", details: { seller_status: 500 } };

function client(budget?: ReturnType<typeof createBudget>) {
  return createClient({
    baseUrl: BROKER,
    apiKey: `mk_${"a".repeat(43)}`,
    // The order these tests check is the exploit order; exploration is tested in selection.test.ts.
    explore: 0,
    ...(budget && { budget }),
  });
}

async function rejection(promise: Promise<unknown>): Promise<MercatoError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isMercatoError(error)) throw new Error(`expected a MercatoError, got ${String(error)}`);
  return error;
}

beforeEach(() => {
  // Zero jitter by default: backoff timing is tested on its own below.
  vi.spyOn(Math, "random").mockReturnValue(0);
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("call(): ranking and filters", () => {
  it("calls the agent with the lowest expected cost per useful answer, buying access once and reusing the key", async () => {
    // 5% success: its failures cost only time, but twenty attempts per answer cost more than the price gap.
    const broker = fakeBroker([
      { id: "agent_cheapflaky", price: 0.01, costPerSuccess: 0.2, outcomes: ["ok"] },
      { id: "agent_reliable01", price: 0.02, costPerSuccess: 0.021, outcomes: ["ok"] },
    ]);
    const c = client();
    const result = await c.call({ category: "crypto", input: { q: 1 } });
    expect(result).toMatchObject({
      agentId: "agent_reliable01",
      costUsd: "0.020000",
      output: { from: "agent_reliable01" },
    });
    expect(result.attempts).toHaveLength(1);
    await c.call({ category: "crypto", input: { q: 2 } });
    expect(broker.requests.filter((r) => r.path === "/purchase")).toHaveLength(1);
    // The access key, not the account key, invokes.
    expect(broker.invokes().every((r) => r.headers.authorization?.startsWith("Bearer sk_live_"))).toBe(true);
    const search = broker.requests.find((r) => r.path === "/agents/search");
    expect(search).toBeDefined();
  });

  it("never calls an agent above the price ceiling or under the trust floor", async () => {
    const broker = fakeBroker([
      { id: "agent_best00001", price: 0.05, costPerSuccess: 0.05, outcomes: ["ok"] },
      { id: "agent_untrusted", price: 0.01, costPerSuccess: 0.011, trust: 0.2, outcomes: ["ok"] },
      { id: "agent_allowed01", price: 0.02, costPerSuccess: 0.06, outcomes: ["ok"] },
    ]);
    const result = await client().call({ input: 1, maxPricePerCall: "0.03", minTrustScore: 0.5 });
    expect(result.agentId).toBe("agent_allowed01");
    expect(new Set(broker.invokes().map((r) => r.path))).toEqual(new Set(["/agents/agent_allowed01/invoke"]));
    // The price the ranking saw is the most the attempt may cost: the broker refuses a raise since, unpaid.
    expect(broker.invokes().map((r) => (r.body as { max_price_usd?: string }).max_price_usd)).toEqual([
      "0.020000",
    ]);
    const error = await rejection(client().call({ input: 1, maxPricePerCall: "0.001" }));
    expect(error.code).toBe("NO_CANDIDATES");
  });

  it("calls only the agents it is allowed, however well another ranks", async () => {
    const broker = fakeBroker([
      { id: "agent_best00001", price: 0.01, costPerSuccess: 0.01, outcomes: ["ok"] },
      { id: "agent_allowed01", price: 0.02, costPerSuccess: 0.06, outcomes: ["ok"] },
    ]);
    const result = await client().call({ input: 1, agentIds: ["agent_allowed01"] });
    expect(result.agentId).toBe("agent_allowed01");
    expect(broker.invokes().map((r) => r.path)).toEqual(["/agents/agent_allowed01/invoke"]);
    const error = await rejection(client().call({ input: 1, agentIds: ["agent_unlisted1"] }));
    expect(error.code).toBe("NO_CANDIDATES");
    expect(error.details).toMatchObject({ filters: { agent_ids: ["agent_unlisted1"] } });
  });
});

describe("call(): retries and failover", () => {
  it("retries a failing seller with backoff, then fails over in rank order, never charging a failure", async () => {
    vi.useFakeTimers();
    const broker = fakeBroker([
      { id: "agent_first0001", price: 0.01, costPerSuccess: 0.01, outcomes: [SELLER_500] },
      { id: "agent_second001", price: 0.02, costPerSuccess: 0.02, outcomes: [SELLER_DOWN, "ok"] },
      { id: "agent_third0001", price: 0.03, costPerSuccess: 0.03, outcomes: ["ok"] },
    ]);
    const retries: number[] = [];
    const seen: CallAttempt[] = [];
    const promise = client().call({
      input: 1,
      retries: 2,
      backoff: { baseMs: 100 },
      onRetry: (r) => retries.push(r.delayMs),
      onAttempt: (a) => seen.push(a),
    });
    await vi.runAllTimersAsync();
    const result = await promise;
    expect(result.agentId).toBe("agent_second001");
    expect(result.attempts.map((a) => [a.agentId, a.attempt, a.ok])).toEqual([
      ["agent_first0001", 1, false],
      ["agent_first0001", 2, false],
      ["agent_first0001", 3, false],
      ["agent_second001", 1, false],
      ["agent_second001", 2, true],
    ]);
    expect(seen).toEqual(result.attempts);
    expect(result.attempts.filter((a) => !a.ok).every((a) => a.costUsd === "0.000000")).toBe(true);
    expect(broker.charges).toEqual(["agent_second001"]);
    expect(retries).toHaveLength(3);
  });

  it("does not retry a seller's 4xx on the same seller, and stops at once on the buyer's own errors", async () => {
    const broker = fakeBroker([
      {
        id: "agent_picky0001",
        price: 0.01,
        costPerSuccess: 0.01,
        outcomes: [{ status: 502, code: "SELLER_ERROR", details: { seller_status: 400 } }],
      },
      {
        id: "agent_broke0001",
        price: 0.02,
        costPerSuccess: 0.02,
        outcomes: [{ status: 402, code: "INSUFFICIENT_FUNDS" }],
      },
      { id: "agent_never0001", price: 0.03, costPerSuccess: 0.03, outcomes: ["ok"] },
    ]);
    const error = await rejection(client().call({ input: 1 }));
    expect(error.code).toBe("INSUFFICIENT_FUNDS");
    expect(broker.invokes().map((r) => r.path)).toEqual([
      "/agents/agent_picky0001/invoke",
      "/agents/agent_broke0001/invoke",
    ]);
    expect(((error.details?.attempts ?? []) as CallAttempt[]).map((a) => a.code)).toEqual([
      "SELLER_ERROR",
      "INSUFFICIENT_FUNDS",
    ]);
  });

  it("moves on when an agent's input schema refuses the input, and stops on any other refused input", async () => {
    const broker = fakeBroker([
      {
        id: "agent_schema001",
        price: 0.01,
        costPerSuccess: 0.01,
        outcomes: [
          { status: 400, code: "VALIDATION_ERROR", details: { reason: "input_schema", issues: [] } },
        ],
      },
      {
        id: "agent_other0001",
        price: 0.02,
        costPerSuccess: 0.02,
        outcomes: [{ status: 400, code: "VALIDATION_ERROR" }],
      },
      { id: "agent_never0002", price: 0.03, costPerSuccess: 0.03, outcomes: ["ok"] },
    ]);
    const error = await rejection(client().call({ input: 1 }));
    expect(error.code).toBe("VALIDATION_ERROR");
    expect(broker.invokes().map((r) => r.path)).toEqual([
      "/agents/agent_schema001/invoke",
      "/agents/agent_other0001/invoke",
    ]);
  });

  it("throws one error listing every attempt when all candidates fail", async () => {
    const broker = fakeBroker([
      { id: "agent_down00001", price: 0.01, costPerSuccess: 0.01, outcomes: [SELLER_DOWN] },
      {
        id: "agent_down00002",
        price: 0.01,
        costPerSuccess: 0.02,
        outcomes: [{ status: 504, code: "SELLER_TIMEOUT" }],
      },
    ]);
    const error = await rejection(client().call({ input: 1, retries: 1, backoff: { baseMs: 1 } }));
    expect(error.code).toBe("ALL_CANDIDATES_FAILED");
    expect(
      ((error.details?.attempts ?? []) as CallAttempt[]).map((a) => `${a.agentId}#${a.attempt}:${a.code}`),
    ).toEqual([
      "agent_down00001#1:SELLER_UNAVAILABLE",
      "agent_down00001#2:SELLER_UNAVAILABLE",
      "agent_down00002#1:SELLER_TIMEOUT",
      "agent_down00002#2:SELLER_TIMEOUT",
    ]);
    expect(error.message).toContain("agent_down00002#2: SELLER_TIMEOUT");
    expect(broker.charges).toEqual([]);
  });

  it("honours Retry-After on a 429 before retrying the same seller", async () => {
    vi.useFakeTimers();
    const broker = fakeBroker([
      {
        id: "agent_busy00001",
        price: 0.01,
        costPerSuccess: 0.01,
        outcomes: [
          {
            status: 429,
            code: "RATE_LIMITED",
            details: { retry_after_s: 7 },
            headers: { "retry-after": "7" },
          },
          "ok",
        ],
      },
    ]);
    const delays: number[] = [];
    const promise = client().call({ input: 1, onRetry: (r) => delays.push(r.delayMs) });
    await vi.advanceTimersByTimeAsync(6_900);
    expect(broker.invokes()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect((await promise).agentId).toBe("agent_busy00001");
    expect(delays).toEqual([7_000]);
  });
});

describe("call(): idempotency keys", () => {
  it("keeps one key across retries of an unknown outcome, and moves to a new one after a known failure", async () => {
    let lose = true;
    const broker = fakeBroker([
      { id: "agent_keyed0001", price: 0.01, costPerSuccess: 0.01, outcomes: [SELLER_500, "ok"] },
    ]);
    // The first success's answer is lost on the way back (the broker did charge it).
    server.use(
      http.post(`${BROKER}/agents/:id/invoke`, async ({ request }) => {
        const response = await broker.invoke(request);
        if (lose && response.status === 200) {
          lose = false;
          return HttpResponse.error();
        }
        return response;
      }),
    );
    const result = await client().call({ input: 1, idempotencyKey: "order-7", backoff: { baseMs: 1 } });
    const keys = broker.invokes().map((r) => r.headers["idempotency-key"]);
    expect(keys).toEqual([
      "order-7:agent_keyed0001:0",
      "order-7:agent_keyed0001:1",
      "order-7:agent_keyed0001:1",
    ]);
    // Charged once: the retry of the lost answer got the first outcome back.
    expect(broker.charges).toEqual(["agent_keyed0001"]);
    expect(result.transactionId).toBe("txn_agent_keyed0001_1");
  });

  it("derives the same keys from the same idempotency key, so a repeated call is not charged again", async () => {
    const broker = fakeBroker([
      { id: "agent_once00001", price: 0.01, costPerSuccess: 0.01, outcomes: ["ok"] },
    ]);
    const c = client();
    const first = await c.call({ input: 1, idempotencyKey: "job-1" });
    const again = await c.call({ input: 1, idempotencyKey: "job-1" });
    expect(again.transactionId).toBe(first.transactionId);
    expect(broker.charges).toHaveLength(1);
  });
});

describe("call(): budgets", () => {
  it("never spends past a shared budget: checked before each call, concurrent calls included", async () => {
    const broker = fakeBroker([{ id: "agent_paid00001", price: 0.4, costPerSuccess: 0.4, outcomes: ["ok"] }]);
    const budget = createBudget("1.00");
    const c = client();
    const outcomes = await Promise.allSettled([1, 2, 3].map((input) => c.call({ input, budget })));
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    const error = (outcomes[2] as PromiseRejectedResult).reason as MercatoError;
    expect(error.code).toBe("BUDGET_EXCEEDED");
    expect(broker.charges).toHaveLength(2);
    expect(budget.spentUsd).toBe("0.800000");
    expect(budget.remainingUsd).toBe("0.200000");
  });

  it("applies the client's budget to every call, and frees what a failed attempt reserved", async () => {
    const broker = fakeBroker([
      { id: "agent_fail00001", price: 0.5, costPerSuccess: 0.5, outcomes: [SELLER_DOWN] },
      { id: "agent_works0001", price: 0.5, costPerSuccess: 0.6, outcomes: ["ok"] },
    ]);
    const budget = createBudget("0.5");
    const result = await client(budget).call({ input: 1, retries: 0 });
    expect(result.agentId).toBe("agent_works0001");
    expect(budget.spentUsd).toBe("0.500000");
    expect(budget.reservedUsd).toBe("0.000000");
    expect((await rejection(client(budget).call({ input: 1 }))).code).toBe("BUDGET_EXCEEDED");
    expect(broker.charges).toEqual(["agent_works0001"]);
  });
});

describe("call(): abort", () => {
  it("stops waiting between retries when the signal aborts", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.99);
    const broker = fakeBroker([
      { id: "agent_slowfail1", price: 0.01, costPerSuccess: 0.01, outcomes: [SELLER_DOWN] },
    ]);
    const controller = new AbortController();
    const promise = client().call({
      input: 1,
      signal: controller.signal,
      backoff: { baseMs: 10_000 },
    });
    const settled = promise.then(
      () => "resolved",
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(10);
    controller.abort(new Error("user gave up"));
    expect(await settled).toMatchObject({ message: "user gave up" });
    expect(broker.invokes()).toHaveLength(1);
  });
});

describe("backoffDelay", () => {
  it("draws full jitter under an exponential ceiling, with Retry-After as a floor", () => {
    expect(backoffDelay(1, { baseMs: 100 }, 0, () => 0.999)).toBe(99);
    expect(backoffDelay(3, { baseMs: 100 }, 0, () => 0.5)).toBe(200);
    expect(backoffDelay(10, { baseMs: 100, maxMs: 1000 }, 0, () => 0.999)).toBe(999);
    expect(backoffDelay(1, { baseMs: 100 }, 3000, () => 0.5)).toBe(3000);
  });
});
