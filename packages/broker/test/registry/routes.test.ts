import { AgentDetail, SearchAgentsResponse } from "@mercato/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { establishedBuyers, spreadOverBuyers } from "../support/buyers.js";
import { createTestBroker, EXAMPLE_REGISTRATION, type TestBroker } from "../support/harness.js";

let broker: TestBroker;
beforeEach(async () => {
  broker = await createTestBroker();
});
afterEach(async () => {
  await broker.close();
});

const search = async (query: string) => {
  const response = await broker.call("GET", `/agents/search${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return SearchAgentsResponse.parse(response.json());
};
const names = (page: { results: Array<{ name: string }> }) => page.results.map((r) => r.name);
const outcomes = (agentId: string, calls: number, successes: number, responseTimeMs: number) =>
  Array.from({ length: calls }, (_, i) => ({ agentId, success: i < successes, responseTimeMs }));

describe("registration", () => {
  it("registers with the example request and answers with the registration response and detail", async () => {
    const { apiKey, accountId } = await broker.signUp("Seller");
    broker.probes
      .get("https://api.example.com")
      .intercept({
        method: "GET",
        path: (p: string) => p.startsWith("/agent/abc123/.well-known/mercato-challenge/"),
      })
      .reply(200, (request) => ({ token: request.path.split("/").at(-1), owner: accountId }));
    const response = await broker.call("POST", "/agents/register", {
      key: apiKey,
      body: EXAMPLE_REGISTRATION,
    });
    expect(response.statusCode).toBe(201);
    const { agent_id, status, verification } = response.json();
    expect(status).toBe("registered");
    expect(verification).toMatchObject({ state: "verified", reason: null, challenge_url: null });
    expect(agent_id).toMatch(/^agent_/);

    const detail = AgentDetail.parse((await broker.call("GET", `/agents/${agent_id}`)).json());
    expect(detail).toMatchObject({
      id: agent_id,
      owner_id: accountId,
      category: "crypto",
      tags: ["news", "summarization"],
      version: "1.0.0",
      status: "active",
      pricing: {
        agent_id,
        model: "per_call",
        price_per_call: 0.02,
        currency: "USD",
        tier: "basic",
        min_calls: 1,
      },
      // No calls, no checks: measured figures say "no data yet", never the prior's 95%/500 ms/95%.
      metrics: {
        agent_id,
        success_rate: null,
        avg_response_time_ms: null,
        uptime_24h: null,
        total_calls: 0,
        ranking: { success_rate: 0.95, success_lower_bound: 0.4969, category_prior: 0.95 },
      },
    });
    // Ranked on the conservative estimate: 0.02 / 0.4969 (no evidence), not 0.02 / 0.95.
    expect(detail.metrics.cost_per_success).toBe(0.04025);
  });

  it("keeps the exact price: string and number forms, six decimals", async () => {
    const { apiKey } = await broker.signUp();
    const id = await broker.register(apiKey, { pricing: { model: "per_call", price_per_call: "0.000001" } });
    const detail = (await broker.call("GET", `/agents/${id}`)).json();
    expect(detail.pricing.price_per_call).toBe(0.000001);
    expect((await broker.store.getAgent(id))?.pricing.priceMicros).toBe(1);
  });

  it("refuses private, loopback, metadata and http endpoints outside dev mode, and changes nothing", async () => {
    const { apiKey } = await broker.signUp();
    for (const endpoint of [
      "http://api.example.com/agent",
      "https://127.0.0.1/agent",
      "https://10.1.2.3/agent",
      "https://169.254.169.254/latest/meta-data",
      "https://[::1]/agent",
      "https://[::ffff:127.0.0.1]/agent",
      "https://[::127.0.0.1]/agent",
      "https://[::ffff:0:127.0.0.1]/agent",
      "https://[64:ff9b::10.0.0.1]/agent",
      "https://[64:ff9b::169.254.169.254]/agent",
      "https://[2002:7f00:1::1]/agent",
      "https://localhost/agent",
      "https://seller.internal-test/agent",
      "https://user:pass@api.example.com/agent",
    ]) {
      const response = await broker.call("POST", "/agents/register", {
        key: apiKey,
        body: {
          name: "x",
          description: "",
          category: "crypto",
          api_endpoint: endpoint,
          pricing: { model: "per_call", price_per_call: 0.02 },
        },
      });
      expect(response.statusCode, endpoint).toBe(400);
      expect(response.json().error.code, endpoint).toBe("INVALID_ENDPOINT");
    }
    expect((await search("")).results).toHaveLength(0);
  });

  it("allows http and loopback sellers in dev mode", async () => {
    const dev = await createTestBroker({ dev: true });
    const { apiKey } = await dev.signUp();
    const id = await dev.register(apiKey, { api_endpoint: "http://127.0.0.1:5050/agent" });
    expect((await dev.call("GET", `/agents/${id}`)).json().api_endpoint).toBe("http://127.0.0.1:5050/agent");
    await dev.close();
  });
});

describe("updates", () => {
  it("lets only the owner update or deactivate an agent", async () => {
    const owner = await broker.signUp("Owner");
    const stranger = await broker.signUp("Stranger");
    const id = await broker.register(owner.apiKey);

    const patch = await broker.call("PATCH", `/agents/${id}`, {
      key: stranger.apiKey,
      body: { name: "Hijacked" },
    });
    expect(patch.statusCode).toBe(403);
    expect(patch.json().error.code).toBe("FORBIDDEN");
    const remove = await broker.call("DELETE", `/agents/${id}`, { key: stranger.apiKey });
    expect(remove.statusCode).toBe(403);
    expect((await broker.call("GET", `/agents/${id}`)).json()).toMatchObject({
      name: "Crypto News Summarizer",
      status: "active",
    });

    const mine = await broker.call("PATCH", `/agents/${id}`, {
      key: owner.apiKey,
      body: { name: "Renamed", tags: ["news"] },
    });
    expect(mine.statusCode).toBe(200);
    expect(mine.json()).toMatchObject({ name: "Renamed", tags: ["news"] });

    const missing = await broker.call("PATCH", "/agents/agent_doesnotexist", {
      key: owner.apiKey,
      body: { name: "x" },
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe("AGENT_NOT_FOUND");
  });

  it("refuses an update to an IPv6 form of a private address, and changes nothing", async () => {
    const { apiKey } = await broker.signUp();
    const id = await broker.register(apiKey);
    const before = (await broker.call("GET", `/agents/${id}`)).json().api_endpoint;
    for (const endpoint of [
      "https://[::127.0.0.1]/agent",
      "https://[::ffff:0:127.0.0.1]/agent",
      "https://[64:ff9b::a9fe:a9fe]/latest/meta-data",
      "https://[2002:c0a8:101::1]/agent",
    ]) {
      const response = await broker.call("PATCH", `/agents/${id}`, {
        key: apiKey,
        body: { api_endpoint: endpoint },
      });
      expect(response.statusCode, endpoint).toBe(400);
      expect(response.json().error.code, endpoint).toBe("INVALID_ENDPOINT");
    }
    expect((await broker.call("GET", `/agents/${id}`)).json().api_endpoint).toBe(before);
  });

  it("keeps every price as history and re-ranks on the new price", async () => {
    const { apiKey } = await broker.signUp();
    const id = await broker.register(apiKey);
    broker.clock.advance(1000);
    const repriced = await broker.call("PATCH", `/agents/${id}`, {
      key: apiKey,
      body: { pricing: { price_per_call: "0.05" } },
    });
    expect(repriced.json().pricing.price_per_call).toBe(0.05);
    const history = (await broker.call("GET", `/agents/${id}/price-history`)).json();
    expect(history.data).toEqual([
      {
        price_per_call: 0.05,
        currency: "USD",
        tier: "basic",
        min_calls: 1,
        effective_from: "2026-03-01T12:00:01.000Z",
        effective_to: null,
      },
      {
        price_per_call: 0.02,
        currency: "USD",
        tier: "basic",
        min_calls: 1,
        effective_from: "2026-03-01T12:00:00.000Z",
        effective_to: "2026-03-01T12:00:01.000Z",
      },
    ]);
    // 0.05 / successLowerBound(0, 0, 0.95) = 0.05 / 0.4969
    expect((await search("")).results[0]?.cost_per_success).toBe(0.100625);
  });

  it("deactivates: the agent leaves search and categories, stays readable, and can come back", async () => {
    const { apiKey } = await broker.signUp();
    const id = await broker.register(apiKey);
    const removed = await broker.call("DELETE", `/agents/${id}`, { key: apiKey });
    expect(removed.json()).toEqual({ agent_id: id, status: "inactive" });
    expect((await search("")).results).toEqual([]);
    expect((await broker.call("GET", "/categories")).json()).toEqual({ categories: [] });
    expect((await broker.call("GET", `/agents/${id}`)).json().status).toBe("inactive");

    await broker.call("PATCH", `/agents/${id}`, { key: apiKey, body: { status: "active" } });
    expect(names(await search(""))).toEqual(["Crypto News Summarizer"]);
  });
});

describe("search", () => {
  /** Five sellers whose measured records make every sort order different. */
  const seed = async () => {
    const { apiKey } = await broker.signUp("Seller");
    const register = (name: string, price: string, fields: Record<string, unknown> = {}) =>
      broker.register(apiKey, { name, pricing: { model: "per_call", price_per_call: price }, ...fields });
    const veteran = await register("Veteran", "0.020000", { description: "Summaries of crypto news" });
    const rookie = await register("Rookie", "0.020000", { description: "Summaries of crypto news" });
    const flaky = await register("Flaky", "0.010000", { description: "Cheap news digests", tags: ["news"] });
    const oracle = await register("Oracle", "0.050000", {
      category: "defi",
      description: "Token price oracle",
      tags: ["prices", "oracle"],
    });
    const slow = await register("Slowpoke", "0.015000", {
      description: "Thorough summaries",
      tags: ["news"],
    });
    const buyers = await establishedBuyers(broker.store, 60);
    await broker.store.recordCallOutcomes(
      spreadOverBuyers(buyers, [
        ...outcomes(veteran, 10_000, 9_980, 150),
        ...outcomes(rookie, 1, 1, 100),
        ...outcomes(flaky, 1_000, 600, 200),
        ...outcomes(oracle, 500, 499, 40),
        ...outcomes(slow, 1_000, 990, 2_500),
      ]),
      "2026-03-01T12:00:00.000Z",
    );
    await broker.store.recordHealthChecks(
      [...Array.from({ length: 100 }, () => ({ agentId: slow, healthy: false }))],
      "2026-03-01T12:00:00.000Z",
    );
  };

  it("sorts by cost per success by default; a lucky newcomer does not outrank a long record", async () => {
    await seed();
    const page = await search("");
    // Price / the lower bound of the capped record: Slowpoke 0.015/0.98 < Flaky 0.01/0.58 <
    // Veteran 0.02/0.99 < Rookie 0.02/0.6 (one call) < Oracle 0.05/0.99.
    expect(names(page)).toEqual(["Slowpoke", "Flaky", "Veteran", "Rookie", "Oracle"]);
    for (const result of page.results) {
      expect(result.cost_per_success).toBeCloseTo(
        result.price_per_call / result.ranking.success_lower_bound,
        4,
      );
    }
    // Measured figures are the raw record; the smoothed one is under `ranking`.
    expect(page.results.find((r) => r.name === "Veteran")).toMatchObject({
      total_calls: 10_000,
      success_rate: 0.998,
    });
    expect(page.results.find((r) => r.name === "Rookie")).toMatchObject({
      total_calls: 1,
      success_rate: 1,
      ranking: { success_rate: 0.9524 },
    });
  });

  it("does not let a new listing at $0.015 outrank 500 calls at 98% at $0.020; 500 calls at 99% at $0.015 do", async () => {
    const { apiKey } = await broker.signUp("Seller");
    const register = (name: string, price: string) =>
      broker.register(apiKey, { name, pricing: { model: "per_call", price_per_call: price } });
    await register("Fresh", "0.015");
    const proven = await register("Proven", "0.020");
    const buyers = await establishedBuyers(broker.store, 60);
    await broker.store.recordCallOutcomes(
      spreadOverBuyers(buyers, outcomes(proven, 500, 490, 120)),
      "2026-03-01T12:00:00.000Z",
    );
    expect(names(await search(""))).toEqual(["Proven", "Fresh"]);
    const newbie = (await search("")).results.find((r) => r.name === "Fresh");
    expect(newbie).toMatchObject({
      total_calls: 0,
      success_rate: null,
      avg_response_time_ms: null,
      uptime_24h: null,
      cost_per_success: 0.030187,
    });
    const better = await register("Better", "0.015");
    await broker.store.recordCallOutcomes(
      spreadOverBuyers(buyers, outcomes(better, 500, 495, 120)),
      "2026-03-01T12:00:00.000Z",
    );
    expect(names(await search(""))).toEqual(["Better", "Proven", "Fresh"]);
  });

  it("sorts by trust, price and response time", async () => {
    await seed();
    expect(names(await search("?sort=trust_score_desc"))).toEqual([
      "Oracle",
      "Veteran",
      "Rookie",
      "Flaky",
      "Slowpoke",
    ]);
    expect(names(await search("?sort=price_asc"))).toEqual([
      "Flaky",
      "Slowpoke",
      "Veteran",
      "Rookie",
      "Oracle",
    ]);
    expect(names(await search("?sort=response_time_asc"))).toEqual([
      "Oracle",
      "Veteran",
      "Flaky",
      "Rookie",
      "Slowpoke",
    ]);
    const trust = (await search("?sort=trust_score_desc")).results.map((r) => r.trust_score);
    expect([...trust].sort((a, b) => b - a)).toEqual(trust);
  });

  it("filters by category, tags, words, price ceiling and trust floor", async () => {
    await seed();
    expect(names(await search("?category=defi"))).toEqual(["Oracle"]);
    expect(names(await search("?tags=news&sort=price_asc"))).toEqual([
      "Flaky",
      "Slowpoke",
      "Veteran",
      "Rookie",
    ]);
    expect(names(await search("?tags=news,summarization&sort=price_asc"))).toEqual(["Veteran", "Rookie"]);
    expect(names(await search("?tags=prices&tags=oracle"))).toEqual(["Oracle"]);
    expect(names(await search("?q=summar&sort=price_asc"))).toEqual(["Slowpoke", "Veteran", "Rookie"]);
    expect(names(await search("?q=token%20oracle"))).toEqual(["Oracle"]);
    expect(names(await search("?q=%22)%20NEAR(%20*%20--"))).toEqual([]);
    expect(names(await search("?max_price=0.015&sort=price_asc"))).toEqual(["Flaky", "Slowpoke"]);
    expect(names(await search("?min_trust=0.85&sort=price_asc"))).toEqual(["Veteran", "Rookie", "Oracle"]);
    expect(names(await search("?category=crypto&tags=news&max_price=0.02&min_trust=0.8"))).toEqual([
      "Veteran",
      "Rookie",
    ]);
  });

  it("pages with next_cursor through every result exactly once", async () => {
    await seed();
    const seen: string[] = [];
    let url = "?limit=2&sort=price_asc";
    for (;;) {
      const page = await search(url);
      expect(page.results.length).toBeLessThanOrEqual(2);
      seen.push(...names(page));
      if (page.next_cursor === null) break;
      url = `?limit=2&sort=price_asc&cursor=${page.next_cursor}`;
    }
    expect(seen).toEqual(["Flaky", "Slowpoke", "Veteran", "Rookie", "Oracle"]);
  });

  it("lists categories with counts of listed agents", async () => {
    await seed();
    expect((await broker.call("GET", "/categories")).json()).toEqual({
      categories: [
        { category: "crypto", count: 4 },
        { category: "defi", count: 1 },
      ],
    });
  });
});

describe("registration limits per account (issue 16, item 7)", () => {
  it("allows 30 registrations an hour, then answers 429 with Retry-After and lists nothing more", async () => {
    const { apiKey } = await broker.signUp("Flooder");
    const answers = [];
    for (let i = 0; i < 32; i++) {
      answers.push(
        await broker.call("POST", "/agents/register", {
          key: apiKey,
          body: { ...EXAMPLE_REGISTRATION, name: `Flood ${i}` },
        }),
      );
    }
    expect(answers.slice(0, 30).map((answer) => answer.statusCode)).toEqual(Array(30).fill(201));
    const refused = answers[30];
    expect(refused?.statusCode).toBe(429);
    expect(refused?.json().error).toMatchObject({
      code: "RATE_LIMITED",
      details: { limit_per_hour: 30, retry_after_s: 120 },
    });
    expect(refused?.headers["retry-after"]).toBe("120");
    expect(refused?.headers["ratelimit-policy"]).toBe("30;w=3600");
    // The 30 wait for their endpoint's proof (not dev mode); once proven, exactly they are listed.
    const at = broker.clock.now().toISOString();
    for (const answer of answers.slice(0, 30)) {
      const proven = await broker.store.setEndpointProof(
        answer.json().agent_id,
        { verifiedAt: at, challenge: null, checkedAt: at, error: null },
        { status: "active", at },
      );
      expect(proven?.status).toBe("active");
    }
    expect(names(await search("?q=flood&limit=100"))).toHaveLength(30);
    // Another account has its own allowance; the first one's refills one registration per 2 minutes.
    const other = await broker.signUp("Other");
    expect(
      (await broker.call("POST", "/agents/register", { key: other.apiKey, body: EXAMPLE_REGISTRATION }))
        .statusCode,
    ).toBe(201);
    broker.clock.advance(120_000);
    expect(
      (await broker.call("POST", "/agents/register", { key: apiKey, body: EXAMPLE_REGISTRATION })).statusCode,
    ).toBe(201);
  });

  it("counts endpoint changes and re-activations against the allowance, not other changes", async () => {
    const limited = await createTestBroker({ fraud: { registrationsPerHour: 2 } });
    try {
      const { apiKey } = await limited.signUp("Mover");
      const id = await limited.register(apiKey);
      const patch = (body: object) => limited.call("PATCH", `/agents/${id}`, { key: apiKey, body });
      expect(
        (await patch({ name: "Renamed", api_endpoint: EXAMPLE_REGISTRATION.api_endpoint })).statusCode,
      ).toBe(200);
      expect((await patch({ api_endpoint: "https://api.example.com/moved" })).statusCode).toBe(200);
      const refused = await patch({ api_endpoint: "https://api.example.com/again" });
      expect(refused.statusCode).toBe(429);
      expect((await limited.call("GET", `/agents/${id}`)).json().api_endpoint).toBe(
        "https://api.example.com/moved",
      );
      expect((await limited.call("DELETE", `/agents/${id}`, { key: apiKey })).statusCode).toBe(200);
      expect((await patch({ status: "active" })).statusCode).toBe(429);
      expect((await limited.call("GET", `/agents/${id}`)).json().status).toBe("inactive");
      expect((await patch({ description: "Still changeable" })).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it("refuses a listing past maxAgentsPerAccount with LISTING_LIMIT_REACHED (403), also a re-activation, changing nothing", async () => {
    const limited = await createTestBroker({ fraud: { maxAgentsPerAccount: 2 } });
    try {
      const { apiKey } = await limited.signUp("Lister");
      const first = await limited.register(apiKey, { name: "One" });
      await limited.register(apiKey, { name: "Two" });
      const refused = await limited.call("POST", "/agents/register", {
        key: apiKey,
        body: { ...EXAMPLE_REGISTRATION, name: "Three" },
      });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error).toMatchObject({ code: "LISTING_LIMIT_REACHED", details: { limit: 2 } });
      expect((await limited.call("GET", "/agents/search?q=three")).json().results).toEqual([]);
      // Deactivating one frees a place; re-activating it then is past the limit.
      expect((await limited.call("DELETE", `/agents/${first}`, { key: apiKey })).statusCode).toBe(200);
      await limited.register(apiKey, { name: "Three" });
      const back = await limited.call("PATCH", `/agents/${first}`, {
        key: apiKey,
        body: { status: "active" },
      });
      expect(back.statusCode).toBe(403);
      expect(back.json().error.code).toBe("LISTING_LIMIT_REACHED");
      expect((await limited.call("GET", `/agents/${first}`)).json().status).toBe("inactive");
      // 0: no limit.
      const unlimited = await createTestBroker({
        fraud: { maxAgentsPerAccount: 0, registrationsPerHour: 0 },
      });
      try {
        const { apiKey: key } = await unlimited.signUp("Unlimited");
        for (let i = 0; i < 40; i++) await unlimited.register(key, { name: `Many ${i}` });
      } finally {
        await unlimited.close();
      }
    } finally {
      await limited.close();
    }
  });
});
