// Issue 16, hole 1: impostor listings. A victim lists its endpoint at $0.05; an impostor lists the
// same URL as its own agent at $0.50. Before the fix, the victim's kit accepted the broker's
// signature (which named no listing), did the work, and the impostor was paid: five invokes earned
// it $2.25 and the victim $0. Now the signed call names the listing, the victim's kit refuses
// another's listing before its handler runs, and outside dev mode the impostor's listing never goes
// active, because the endpoint does not prove it serves the impostor.
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createBroker,
  createDevProvider,
  createSqliteStore,
  parseConfig,
  type RunningBroker,
  startBroker,
} from "@mercato/broker";
import { isMercatoError } from "@mercato/protocol";
import { createClient, type MercatoClient } from "@mercato/sdk";
import { sellerKit } from "@mercato/seller-kit";
import { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerRequest } from "./broker-api.js";
import { type RunningSeller, startPreV2Seller, startSeller } from "./sellers.js";

const ADMIN = "e2e-admin-token-impostor";

interface Party {
  accountId: string;
  apiKey: string;
  client: MercatoClient;
}

async function signUp(base: string, name: string): Promise<Party> {
  const created = await createClient({ baseUrl: base }).accounts.create({ name });
  return {
    accountId: created.account_id,
    apiKey: created.api_key,
    client: createClient({ baseUrl: base, apiKey: created.api_key }),
  };
}

const listing = (endpoint: string, price: string) => ({
  name: "Crypto price feed",
  description: "Spot prices",
  category: "impostor-e2e",
  tags: ["prices"],
  api_endpoint: endpoint,
  pricing: { model: "per_call" as const, price_per_call: price },
});

async function expectAuditClean(base: string) {
  const audit = await brokerRequest(base, "GET", "/admin/audit", { key: ADMIN });
  expect(audit.json.violations).toEqual([]);
  expect(audit.json.ok).toBe(true);
}

describe("impostor listings in dev mode (a listing is active at once)", () => {
  let dir: string;
  let broker: RunningBroker;
  let seller: RunningSeller;
  let victim: Party;
  let impostor: Party;
  let buyer: Party;
  let handled = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mercato-impostor-e2e-"));
    broker = await startBroker(
      parseConfig(
        [
          "--port",
          "0",
          "--dev",
          "--db",
          join(dir, "e2e.db"),
          "--log-level",
          "silent",
          "--admin-token",
          ADMIN,
        ],
        {},
      ),
      { scheduler: false },
    );
    victim = await signUp(broker.url, "Victim");
    impostor = await signUp(broker.url, "Impostor");
    buyer = await signUp(broker.url, "Buyer");
    expect((await buyer.client.topups.create({ amountUsd: "20" })).status).toBe("succeeded");
    const kit = sellerKit({
      broker: broker.url,
      owner: victim.accountId,
      onError: () => {},
      handler: async () => {
        handled++;
        return { symbol: "BTC", price_usd: "64000.00" };
      },
    });
    seller = await startSeller(kit, "node");
  });

  afterAll(async () => {
    await expectAuditClean(broker.url);
    await seller.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the victim's kit refuses five invokes of the impostor's agent before its handler runs: nobody pays, nobody earns", async () => {
    const honest = await victim.client.agents.register(listing(seller.url, "0.05"));
    const stolen = await impostor.client.agents.register(listing(seller.url, "0.50"));
    expect(stolen.status).toBe("registered"); // dev mode: active at once, as before

    const before = await buyer.client.balance();
    for (let i = 0; i < 5; i++) {
      const error = await buyer.client.invoke(stolen.agent_id, { symbol: "BTC" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isMercatoError(error) && error.code).toBe("SELLER_ERROR");
    }
    expect(handled).toBe(0);
    expect((await buyer.client.balance()).available_usd).toBe(before.available_usd);
    expect((await impostor.client.balance()).earnings_usd).toBe("0.000000");
    expect((await victim.client.balance()).earnings_usd).toBe("0.000000");

    // The victim's own listing of the same endpoint is served and paid as usual.
    const paid = await buyer.client.invoke(honest.agent_id, { symbol: "BTC" });
    expect(paid.output).toEqual({ symbol: "BTC", price_usd: "64000.00" });
    expect(handled).toBe(1);
    expect((await victim.client.balance()).earnings_usd).toBe("0.045000");
    expect((await impostor.client.balance()).earnings_usd).toBe("0.000000");
  });

  it("says why: the seller answered 401 wrong_listing, and the hold was voided", async () => {
    const stolen = await impostor.client.agents.register(listing(seller.url, "0.50"));
    const key = (await buyer.client.purchase(stolen.agent_id)).api_key;
    const answer = await brokerRequest(broker.url, "POST", `/agents/${stolen.agent_id}/invoke`, {
      key,
      body: { input: { symbol: "BTC" } },
    });
    expect(answer.status).toBe(502);
    expect(answer.json.error.code).toBe("SELLER_ERROR");
    expect(JSON.stringify(answer.json.error.details)).toContain("UNAUTHENTICATED");
    const transaction = answer.json.error.details.transaction_id as string;
    const charge = await brokerRequest(broker.url, "GET", `/transactions/${transaction}`, {
      key: buyer.apiKey,
    });
    expect(charge.json.status).toBe("voided");
    expect(handled).toBe(1);
  });
});

describe("impostor listings outside dev mode (a listing needs its endpoint's proof)", () => {
  let broker: ReturnType<typeof createBroker>;
  let base: string;
  let seller: RunningSeller;
  let probes: Agent;
  let victim: Party;
  let impostor: Party;
  let buyer: Party;
  let handled = 0;
  const ENDPOINT = "https://prices.victim.example/agent";

  beforeAll(async () => {
    // The broker believes the victim's host is public; the test-only probe dispatcher carries its
    // challenge requests to the victim's kit on a loopback port (no TLS: the bytes go to the kit).
    let kitPort = 0;
    probes = new Agent({
      connect: (_options, callback) => {
        const socket = connect(kitPort, "127.0.0.1");
        socket.once("connect", () => callback(null, socket));
        socket.once("error", (error) => callback(error, null));
      },
    });
    broker = createBroker({
      store: createSqliteStore({ path: ":memory:" }),
      config: { dev: false, adminToken: ADMIN, logLevel: "silent" },
      resolveHost: async () => ["93.184.215.14"],
      probeDispatcher: probes,
    });
    await broker.listen({ port: 0, host: "127.0.0.1" });
    const address = broker.server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    victim = await signUp(base, "Victim");
    impostor = await signUp(base, "Impostor");
    buyer = await signUp(base, "Buyer");
    const kit = sellerKit({
      broker: base,
      owner: victim.accountId,
      onError: () => {},
      handler: async () => {
        handled++;
        return { price_usd: "64000.00" };
      },
    });
    seller = await startSeller(kit, "node");
    kitPort = Number(new URL(seller.url).port);
  });

  afterAll(async () => {
    await expectAuditClean(base);
    await broker.close();
    await probes.close();
    await seller.close();
  });

  it("the victim's listing goes active on its kit's proof; the impostor's never does", async () => {
    const honest = await victim.client.agents.register(listing(ENDPOINT, "0.05"));
    expect(honest).toMatchObject({ status: "registered", verification: { state: "verified" } });

    const stolen = await impostor.client.agents.register(listing(ENDPOINT, "0.50"));
    expect(stolen.status).toBe("pending_verification");
    expect(stolen.verification.reason).toBe(
      `serves owner ${victim.accountId}, not this listing (${stolen.agent_id} of ${impostor.accountId})`,
    );

    // Not listed, not purchasable, not grantable; retrying or re-activating changes nothing.
    const search = await brokerRequest(base, "GET", "/agents/search?category=impostor-e2e");
    expect(search.json.results.map((result: { agent_id: string }) => result.agent_id)).toEqual([
      honest.agent_id,
    ]);
    const bought = await brokerRequest(base, "POST", "/purchase", {
      key: buyer.apiKey,
      body: { agent_id: stolen.agent_id },
    });
    expect(bought.status).toBe(409);
    expect(bought.json.error).toMatchObject({
      code: "AGENT_INACTIVE",
      details: { reason: "endpoint_unverified" },
    });
    const retried = await brokerRequest(base, "POST", `/agents/${stolen.agent_id}/verify`, {
      key: impostor.apiKey,
    });
    // Within 10 s of the registration's own attempt: refused, and nothing changes either way.
    expect([200, 429]).toContain(retried.status);
    const reactivated = await impostor.client.agents.update(stolen.agent_id, { status: "active" });
    expect(reactivated).toMatchObject({ status: "inactive", verification: { state: "pending" } });
    expect((await impostor.client.agents.get(stolen.agent_id)).status).toBe("inactive");

    expect(handled).toBe(0);
    expect((await impostor.client.balance()).earnings_usd).toBe("0.000000");
    expect((await buyer.client.balance()).available_usd).toBe("0.000000");
  });

  it("several listings of one endpoint by its real owner all go active", async () => {
    const second = await victim.client.agents.register({
      ...listing(ENDPOINT, "0.08"),
      name: "Premium feed",
    });
    expect(second).toMatchObject({ status: "registered", verification: { state: "verified" } });
  });
});

describe("listings made before mercato-call-v2, in their endpoint-proof grace period", () => {
  const GRACE_MS = 14 * 24 * 3600_000;
  let store: ReturnType<typeof createSqliteStore>;
  let broker: ReturnType<typeof createBroker>;
  let base: string;
  let oldKit: Awaited<ReturnType<typeof startPreV2Seller>>;
  let newKit: RunningSeller;
  let victim: Party;
  let impostor: Party;
  let buyer: Party;
  let newKitHandled = 0;
  const OUTPUT = { price_usd: "64000.00" };

  /** Registers a listing, then puts it where migration 9 left every earlier one: unproven, in grace. */
  async function preV2Listing(party: Party, endpoint: string, price: string): Promise<string> {
    const { agent_id } = await party.client.agents.register(listing(endpoint, price));
    const at = new Date().toISOString();
    await store.setEndpointProof(
      agent_id,
      { verifiedAt: null, challenge: null, graceUntil: new Date(Date.now() + GRACE_MS).toISOString() },
      { status: "active", at },
    );
    return agent_id;
  }

  async function invokeFails(agentId: string) {
    const error = await buyer.client.invoke(agentId, { symbol: "BTC" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isMercatoError(error) && error.code).toBe("SELLER_ERROR");
  }

  beforeAll(async () => {
    store = createSqliteStore({ path: ":memory:" });
    broker = createBroker({
      store,
      config: { dev: true, adminToken: ADMIN, logLevel: "silent" },
      payments: createDevProvider(),
    });
    await broker.listen({ port: 0, host: "127.0.0.1" });
    const address = broker.server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    victim = await signUp(base, "Victim");
    impostor = await signUp(base, "Impostor");
    buyer = await signUp(base, "Buyer");
    expect((await buyer.client.topups.create({ amountUsd: "20" })).status).toBe("succeeded");
    oldKit = await startPreV2Seller(base, OUTPUT);
    newKit = await startSeller(
      sellerKit({
        broker: base,
        owner: victim.accountId,
        onError: () => {},
        handler: async () => {
          newKitHandled++;
          return OUTPUT;
        },
      }),
      "node",
    );
  });

  afterAll(async () => {
    await expectAuditClean(base);
    await broker.close();
    await oldKit.close();
    await newKit.close();
  });

  it("a seller still on an old kit keeps being called and paid until it upgrades", async () => {
    const id = await preV2Listing(victim, oldKit.url, "0.05");
    const answer = await buyer.client.invoke(id, { symbol: "BTC" });
    expect(answer.output).toEqual(OUTPUT);
    expect(oldKit.served()).toBe(1);
    expect((await victim.client.balance()).earnings_usd).toBe("0.045000");
  });

  it("a listing made now carries no v1 signature: an old kit serves none of an impostor's new listings", async () => {
    const servedBefore = oldKit.served();
    const earnedBefore = (await victim.client.balance()).earnings_usd;
    const stolen = await impostor.client.agents.register(listing(oldKit.url, "0.50"));
    for (let i = 0; i < 3; i++) await invokeFails(stolen.agent_id);
    expect(oldKit.served()).toBe(servedBefore);
    expect((await impostor.client.balance()).earnings_usd).toBe("0.000000");
    expect((await victim.client.balance()).earnings_usd).toBe(earnedBefore);
  });

  it("an upgraded kit serves its seller's grace listing and refuses an impostor's", async () => {
    const own = await preV2Listing(victim, newKit.url, "0.05");
    const stolen = await preV2Listing(impostor, newKit.url, "0.50");
    expect((await buyer.client.invoke(own, { symbol: "BTC" })).output).toEqual(OUTPUT);
    await invokeFails(stolen);
    expect(newKitHandled).toBe(1);
    expect((await impostor.client.balance()).earnings_usd).toBe("0.000000");
    // $0.045 from the first test's call on the old kit, and $0.045 from this one.
    expect((await victim.client.balance()).earnings_usd).toBe("0.090000");
  });
});
