import { generateBuyerKeyPair } from "@mercato/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDevProvider } from "../../src/payments/dev-provider.js";
import { createTestBroker, EXAMPLE_REGISTRATION, type TestBroker } from "../support/harness.js";

const ORIGIN = "https://api.example.com";
const CHALLENGE_PREFIX = "/agent/abc123/.well-known/mercato-challenge/";
const DAY_MS = 86_400_000;

let broker: TestBroker;
let victim: { accountId: string; apiKey: string };
let impostor: { accountId: string; apiKey: string };
let buyer: { accountId: string; apiKey: string };

beforeEach(async () => {
  broker = await createTestBroker({
    payments: createDevProvider(),
    adminToken: "admin-token-for-tests-only",
  });
  victim = await broker.signUp("Victim");
  impostor = await broker.signUp("Impostor");
  buyer = await broker.signUp("Buyer");
  await broker.store.credit({
    id: "t1",
    accountId: buyer.accountId,
    amount: 10_000_000,
    reference: "test",
    at: broker.clock.now().toISOString(),
  });
});
afterEach(async () => {
  const audit = await broker.call("GET", "/admin/audit", { key: "admin-token-for-tests-only" });
  expect(audit.json()).toMatchObject({ ok: true, violations: [] });
  await broker.close();
});

/** The endpoint answers its challenges as a seller kit serving `serves` would, echoing the token. */
function endpointServes(serves: { owner?: string; agents?: string[] }, times = 1, path = CHALLENGE_PREFIX) {
  broker.probes
    .get(ORIGIN)
    .intercept({ method: "GET", path: (p: string) => p.startsWith(path) })
    .reply(200, (request) => ({ token: request.path.slice(path.length), ...serves }))
    .times(times);
}

const register = async (key: string, fields: Record<string, unknown> = {}) => {
  const response = await broker.call("POST", "/agents/register", {
    key,
    body: { ...EXAMPLE_REGISTRATION, ...fields },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
};
const verify = (agentId: string, key: string) => broker.call("POST", `/agents/${agentId}/verify`, { key });
const searchIds = async () =>
  ((await broker.call("GET", "/agents/search")).json().results as Array<{ agent_id: string }>).map(
    (result) => result.agent_id,
  );
const purchase = (agentId: string) =>
  broker.call("POST", "/purchase", { key: buyer.apiKey, body: { agent_id: agentId } });
const openGrant = async (agentId: string) =>
  broker.call("POST", "/grants", {
    key: buyer.apiKey,
    body: {
      agent_id: agentId,
      budget_usd: "1.00",
      ttl_s: 600,
      buyer_public_key: (await generateBuyerKeyPair()).publicKey,
    },
  });

describe("endpoint control outside dev mode", () => {
  it("a listing whose endpoint gives no proof is pending: not searchable, purchasable or grantable", async () => {
    const registered = await register(victim.apiKey);
    expect(registered).toMatchObject({
      status: "pending_verification",
      verification: { state: "pending", verified_at: null, grace_until: null },
    });
    expect(registered.verification.reason).toMatch(/^could not be reached/);
    expect(registered.verification.challenge_url).toMatch(
      new RegExp(`^${ORIGIN}${CHALLENGE_PREFIX}[A-Za-z0-9_-]{43}$`),
    );
    const id = registered.agent_id;
    expect(await searchIds()).toEqual([]);
    expect((await broker.call("GET", "/categories")).json().categories).toEqual([]);
    for (const refused of [await purchase(id), await openGrant(id)]) {
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error).toMatchObject({
        code: "AGENT_INACTIVE",
        details: { reason: "endpoint_unverified" },
      });
      expect(refused.json().error.message).toContain("has not proven that it serves this listing");
    }
    const detail = (await broker.call("GET", `/agents/${id}`)).json();
    expect(detail).toMatchObject({ status: "inactive", verification: { state: "pending" } });
  });

  it("the owner's endpoint answering the challenge activates the listing, at registration or on verify", async () => {
    endpointServes({ owner: victim.accountId });
    const first = await register(victim.apiKey);
    expect(first).toMatchObject({
      status: "registered",
      verification: { state: "verified", challenge_url: null, reason: null },
    });
    // Several listings of one endpoint by its owner: the kit serving the owner proves them all.
    const second = await register(victim.apiKey, { name: "Second listing" });
    expect(second.status).toBe("pending_verification");
    endpointServes({ owner: victim.accountId });
    broker.clock.advance(10_000);
    const verified = await verify(second.agent_id, victim.apiKey);
    expect(verified.statusCode, verified.body).toBe(200);
    expect(verified.json()).toMatchObject({ status: "active", verification: { state: "verified" } });
    expect((await searchIds()).sort()).toEqual([first.agent_id, second.agent_id].sort());
    expect((await purchase(second.agent_id)).statusCode).toBe(201);
    expect((await openGrant(first.agent_id)).statusCode).toBe(201);
  });

  it("an endpoint that names its agents proves those listings and no other", async () => {
    const registered = await register(victim.apiKey);
    endpointServes({ agents: ["agent_someone_else"] });
    broker.clock.advance(10_000);
    const refused = (await verify(registered.agent_id, victim.apiKey)).json();
    expect(refused.verification).toMatchObject({ state: "pending" });
    expect(refused.verification.reason).toContain("serves agents agent_someone_else, not this listing");
    endpointServes({ agents: ["agent_someone_else", registered.agent_id] });
    broker.clock.advance(10_000);
    expect((await verify(registered.agent_id, victim.apiKey)).json()).toMatchObject({
      status: "active",
      verification: { state: "verified" },
    });
  });

  it("an impostor listing someone else's endpoint never goes active", async () => {
    endpointServes({ owner: victim.accountId }, 3);
    const honest = await register(victim.apiKey, { pricing: { model: "per_call", price_per_call: 0.05 } });
    expect(honest.status).toBe("registered");
    const stolen = await register(impostor.apiKey, { pricing: { model: "per_call", price_per_call: 0.5 } });
    expect(stolen).toMatchObject({ status: "pending_verification", verification: { state: "pending" } });
    expect(stolen.verification.reason).toBe(
      `serves owner ${victim.accountId}, not this listing (${stolen.agent_id} of ${impostor.accountId})`,
    );
    broker.clock.advance(10_000);
    expect((await verify(stolen.agent_id, impostor.apiKey)).json().status).toBe("inactive");
    // Re-activating does not skip the proof either.
    broker.clock.advance(10_000);
    const patched = await broker.call("PATCH", `/agents/${stolen.agent_id}`, {
      key: impostor.apiKey,
      body: { status: "active" },
    });
    expect(patched.json()).toMatchObject({ status: "inactive", verification: { state: "pending" } });
    expect(await searchIds()).toEqual([honest.agent_id]);
    expect((await purchase(stolen.agent_id)).json().error.details.reason).toBe("endpoint_unverified");
  });

  it("refuses another token, a redirect, a non-JSON or oversized answer", async () => {
    const registered = await register(victim.apiKey);
    const attempt = async (reply: () => void) => {
      reply();
      broker.clock.advance(10_000);
      return (await verify(registered.agent_id, victim.apiKey)).json().verification.reason as string;
    };
    const pool = () => broker.probes.get(ORIGIN);
    const match = { method: "GET", path: (p: string) => p.startsWith(CHALLENGE_PREFIX) };
    expect(
      await attempt(() =>
        pool().intercept(match).reply(200, { token: "another-token-000000000000", owner: victim.accountId }),
      ),
    ).toBe("answered another challenge token");
    expect(
      await attempt(() =>
        pool()
          .intercept(match)
          .reply(302, "", { headers: { location: "http://127.0.0.1/.well-known/x" } }),
      ),
    ).toMatch(/^answered HTTP 302/);
    expect(await attempt(() => pool().intercept(match).reply(200, "ok"))).toBe(
      "answered a body that is not JSON",
    );
    expect(await attempt(() => pool().intercept(match).reply(200, "x".repeat(20_000)))).toBe(
      "answered more than 16384 bytes",
    );
    expect((await broker.store.getAgent(registered.agent_id))?.status).toBe("inactive");
  });

  it("verify is for the owner, at most once every 10 s, and not for a listing its owner took off", async () => {
    const registered = await register(victim.apiKey);
    expect((await verify(registered.agent_id, impostor.apiKey)).statusCode).toBe(403);
    const soon = await verify(registered.agent_id, victim.apiKey);
    expect(soon.statusCode).toBe(429);
    expect(soon.headers["retry-after"]).toBe("10");
    await broker.call("DELETE", `/agents/${registered.agent_id}`, { key: victim.apiKey });
    broker.clock.advance(10_000);
    endpointServes({ owner: victim.accountId });
    expect((await verify(registered.agent_id, victim.apiKey)).json().error.code).toBe("CONFLICT");
    // Re-activation verifies.
    const back = await broker.call("PATCH", `/agents/${registered.agent_id}`, {
      key: victim.apiKey,
      body: { status: "active" },
    });
    expect(back.json()).toMatchObject({ status: "active", verification: { state: "verified" } });
  });

  it("a new api_endpoint takes the listing off until the new endpoint proves it serves it", async () => {
    endpointServes({ owner: victim.accountId });
    const registered = await register(victim.apiKey);
    expect(registered.status).toBe("registered");
    const moved = await broker.call("PATCH", `/agents/${registered.agent_id}`, {
      key: victim.apiKey,
      body: { api_endpoint: "https://api.example.com/agent/other" },
    });
    expect(moved.json()).toMatchObject({
      status: "inactive",
      api_endpoint: "https://api.example.com/agent/other",
      verification: { state: "pending", verified_at: null },
    });
    expect(await searchIds()).toEqual([]);
    endpointServes({ owner: victim.accountId }, 1, "/agent/other/.well-known/mercato-challenge/");
    broker.clock.advance(10_000);
    expect((await verify(registered.agent_id, victim.apiKey)).json()).toMatchObject({
      status: "active",
      verification: { state: "verified" },
    });
  });
});

describe("listings made before endpoint proofs", () => {
  /** A listing as migration 9 leaves it: active, unproven, in a 14-day grace period. */
  async function legacyListing(): Promise<string> {
    const id = await broker.register(victim.apiKey, {}, { prove: false });
    const at = broker.clock.now().toISOString();
    await broker.store.setEndpointProof(
      id,
      {
        challenge: null,
        checkedAt: null,
        error: null,
        graceUntil: new Date(Date.parse(at) + 14 * DAY_MS).toISOString(),
      },
      { status: "active", at },
    );
    return id;
  }

  it("keep working through the grace period, then stop with a clear error until the endpoint proves it", async () => {
    const id = await legacyListing();
    const key = (await purchase(id)).json().api_key as string;
    expect((await broker.call("GET", `/agents/${id}`)).json().verification).toMatchObject({ state: "grace" });
    expect(await searchIds()).toEqual([id]);

    broker.clock.advance(14 * DAY_MS);
    const invoked = await broker.call("POST", `/agents/${id}/invoke`, { key, body: { input: {} } });
    expect(invoked.statusCode).toBe(409);
    expect(invoked.json().error).toMatchObject({
      code: "AGENT_INACTIVE",
      details: { reason: "endpoint_unverified" },
    });
    expect((await purchase(id)).statusCode).toBe(409);

    // The sweep finds the endpoint still unproven and takes the listing off the market…
    await sweep();
    expect(await searchIds()).toEqual([]);
    expect((await broker.store.getAgent(id))?.status).toBe("inactive");
    // …and puts it back once the seller's kit answers the challenge.
    endpointServes({ owner: victim.accountId });
    broker.clock.advance(10_000);
    expect((await verify(id, victim.apiKey)).json()).toMatchObject({
      status: "active",
      verification: { state: "verified" },
    });
    expect(await searchIds()).toEqual([id]);
  });

  it("are verified by the sweep while in grace, and stay active", async () => {
    const id = await legacyListing();
    endpointServes({ owner: victim.accountId });
    expect(await sweep()).toBe(1);
    expect(await broker.store.getAgent(id)).toMatchObject({
      status: "active",
      endpoint: { verifiedAt: broker.clock.now().toISOString(), graceUntil: expect.any(String) },
    });
    expect(await sweep()).toBe(0);
  });
});

describe("dev mode", () => {
  it("a listing is active at once, its endpoint not asked", async () => {
    const dev = await createTestBroker({ dev: true });
    try {
      const seller = await dev.signUp("Seller");
      const response = await dev.call("POST", "/agents/register", {
        key: seller.apiKey,
        body: { ...EXAMPLE_REGISTRATION, api_endpoint: "http://127.0.0.1:5050/agent" },
      });
      expect(response.json()).toMatchObject({ status: "registered", verification: { state: "verified" } });
    } finally {
      await dev.close();
    }
  });
});

/** One round of the grace sweep, through the broker's own verifier. */
async function sweep(): Promise<number> {
  const { createEndpointVerifier, createEndpointProber } = await import(
    "../../src/registry/endpoint-verification.js"
  );
  const verifier = createEndpointVerifier({
    store: broker.store,
    clock: broker.clock,
    dev: false,
    prober: createEndpointProber({ dev: false, resolveHost: async () => [], dispatcher: broker.probes }),
    log: broker.app.log,
  });
  return verifier.sweep();
}
