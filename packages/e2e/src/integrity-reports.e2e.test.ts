import type { Clock, Store } from "@mercato/broker";
import { countSettledGrantReports } from "@mercato/broker/internal";
import { generateBuyerKeyPair } from "@mercato/protocol";
import { createClient, type MercatoClient } from "@mercato/sdk";
import { type SellerKit, sellerKit } from "@mercato/seller-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerRequest, settledGrant, signUpAccount } from "./broker-api.js";
import { type RunningSeller, startSeller } from "./sellers.js";
import { startTestMarket, type TestMarket } from "./test-market.js";

const ADMIN = "e2e-admin-token-reports01";
let market: TestMarket;
let store: Store;
let brokerUrl: string;
const clock: Clock = { now: () => new Date() };
const running: RunningSeller[] = [];
const kits: SellerKit[] = [];
const clients: MercatoClient[] = [];
type Account = { accountId: string; apiKey: string };
let owner: Account;
let honest: Account;
let marker: { agentId: string; client: MercatoClient; calls: number };

const api = (method: string, path: string, options: { key?: string; body?: unknown } = {}) =>
  brokerRequest(brokerUrl, method, path, options);

const signUp = (name: string, fundsMicros = 0): Promise<Account> =>
  signUpAccount(brokerUrl, name, { store, micros: fundsMicros, at: clock.now().toISOString() });

function client(account: Account): MercatoClient {
  const created = createClient({ baseUrl: brokerUrl, apiKey: account.apiKey });
  clients.push(created);
  return created;
}

/**
 * A seller of `owner` behind the kit, taking proxied and direct calls; its handler fails every
 * `failEvery`-th call. With `reports`, the kit reports direct calls with the owner's account key.
 */
async function listSeller(price: string, options: { failEvery?: number; reports?: boolean } = {}) {
  const state: { agentId: string | undefined; served: number } = { agentId: undefined, served: 0 };
  const kit = sellerKit({
    broker: brokerUrl,
    owner: owner.accountId,
    onError: () => {},
    direct: {
      agentId: () => state.agentId,
      ...(options.reports && { apiKey: owner.apiKey }),
    },
    handler: async (input: unknown) => {
      const n = ++state.served;
      if (options.failEvery && n % options.failEvery === 0) throw new Error("upstream feed timed out");
      return { echo: input, n };
    },
  });
  kits.push(kit);
  const seller = await startSeller(kit, "node");
  running.push(seller);
  const registered = await api("POST", "/agents/register", {
    key: owner.apiKey,
    body: {
      name: "Spot prices",
      description: "Crypto spot prices",
      category: "integrity-reports",
      tags: ["prices"],
      api_endpoint: seller.url,
      pricing: { model: "per_call", price_per_call: price },
    },
  });
  expect(registered.status, JSON.stringify(registered.json)).toBe(201);
  state.agentId = registered.json.agent_id as string;
  return { kit, agentId: state.agentId, state };
}

/** The agent's ranking figures and the raw figures behind them (24 h). */
async function figures(agentId: string) {
  const { json } = await api("GET", `/agents/${agentId}/metrics`);
  return {
    success_rate: json.success_rate,
    ranking: json.ranking,
    trust_score: json.trust_score,
    avg_response_time_ms: json.avg_response_time_ms,
    total_calls: json.total_calls,
    calls: json.calls,
    successes: json.successes,
  };
}

/**
 * Waits until every outcome recorded so far reached the store: one proxied call to a marker agent,
 * recorded after them, and written with them or after them.
 */
async function outcomesWritten() {
  await marker.client.invoke(marker.agentId, { mark: ++marker.calls });
  const calls = marker.calls;
  await expect
    .poll(async () => (await figures(marker.agentId)).total_calls, { timeout: 30_000, interval: 50 })
    .toBe(calls);
}

/** `count` proxied calls of the honest buyer through the SDK; failures are expected and kept. */
async function proxiedCalls(agentId: string, count: number) {
  const buyer = client(honest);
  for (let i = 0; i < count; i++) await buyer.invoke(agentId, { i }).catch(() => undefined);
}

/** Opens a grant on `agentId` with `key`, as the SDK would, without calling. */
async function openGrant(key: string, agentId: string, budgetUsd: string) {
  const { publicKey } = await generateBuyerKeyPair();
  const { status, json } = await api("POST", "/grants", {
    key,
    body: { agent_id: agentId, budget_usd: budgetUsd, ttl_s: 600, buyer_public_key: publicKey },
  });
  expect(status, JSON.stringify(json)).toBe(201);
  return json.grant_id as string;
}

async function accessKey(account: Account, agentId: string): Promise<string> {
  const { status, json } = await api("POST", "/purchase", {
    key: account.apiKey,
    body: { agent_id: agentId },
  });
  expect(status).toBe(201);
  return json.api_key as string;
}

const report = (
  agentId: string,
  grantId: string,
  sequence: number,
  outcome: { success: boolean } | { outcome: "success" | "failure" | "client_error" },
  responseTimeMs: number,
) => ({
  agent_id: agentId,
  grant_id: grantId,
  sequence,
  ...outcome,
  response_time_ms: responseTimeMs,
  at: clock.now().toISOString(),
});

async function sendReports(key: string, reports: unknown[]) {
  const { status, json } = await api("POST", "/usage/reports", { key, body: { reports } });
  expect(status, JSON.stringify(json)).toBe(200);
  return json as { accepted: number; pending: number; ignored: number };
}

/** Waits until the sweeper settled `grantId`, then makes sure its pending reports were weighed. */
async function settled(grantId: string, key: string) {
  await settledGrant(brokerUrl, grantId, key);
  // The sweeper weighs them right after settling; doing it here too changes nothing but the wait.
  await countSettledGrantReports(store, clock.now().toISOString());
}

beforeAll(async () => {
  market = await startTestMarket({
    name: "integrity-reports",
    adminToken: ADMIN,
    clock,
    sweeper: { intervalMs: 100, grantGraceMs: 500 },
  });
  ({ store, url: brokerUrl } = market);
  owner = await signUp("Target seller");
  honest = await signUp("Honest buyer", 100_000_000);
  const markerSeller = await listSeller("0.001");
  marker = {
    agentId: markerSeller.agentId,
    client: client(await signUp("Marker buyer", 20_000_000)),
    calls: 0,
  };
});

afterAll(async () => {
  await market.expectCleanAudit();
  await Promise.all(clients.map((each) => each.close()));
  await Promise.all(kits.map((kit) => kit.close()));
  await Promise.all(running.map((seller) => seller.close()));
  await market.close();
});

describe("usage reports cannot rig an agent's figures", () => {
  it("a competitor's 100 failures of 60 s on 3 grants of $1 with no call move neither the success rate nor trust", async () => {
    const target = await listSeller("0.05", { failEvery: 25 });
    await proxiedCalls(target.agentId, 25);
    await outcomesWritten();
    const before = await figures(target.agentId);
    expect(before).toMatchObject({ total_calls: 25, calls: 25, successes: 24 });

    const competitor = await signUp("Competitor", 20_000_000);
    const key = await accessKey(competitor, target.agentId);
    const grants = [
      await openGrant(key, target.agentId, "1"),
      await openGrant(key, target.agentId, "1"),
      await openGrant(competitor.apiKey, target.agentId, "1"),
    ];
    const failures = Array.from({ length: 100 }, (_, i) =>
      report(
        target.agentId,
        grants[i % 3] as string,
        i + 1,
        i % 2 === 0 ? { success: false } : { outcome: "failure" },
        60_000,
      ),
    );
    // From the access key and from the account key: a buyer's failure is its word alone.
    expect(await sendReports(key, failures.slice(0, 50))).toEqual({ accepted: 0, pending: 0, ignored: 50 });
    expect(await sendReports(competitor.apiKey, failures.slice(50))).toEqual({
      accepted: 0,
      pending: 0,
      ignored: 50,
    });
    // Claimed client errors are not the competitor's to report either.
    const clientErrors = [
      report(target.agentId, grants[0] as string, 500, { outcome: "client_error" }, 60_000),
    ];
    expect(await sendReports(key, clientErrors)).toEqual({ accepted: 0, pending: 0, ignored: 1 });

    for (const grant of grants) {
      expect((await api("POST", `/grants/${grant}/close`, { key: competitor.apiKey, body: {} })).status).toBe(
        200,
      );
    }
    for (const grant of grants) await settled(grant, competitor.apiKey);
    await outcomesWritten();
    expect(await figures(target.agentId)).toEqual(before);
    // It cost the competitor nothing, and it bought nothing.
    expect((await api("GET", "/balance", { key: competitor.apiKey })).json).toMatchObject({
      available_usd: "20.000000",
      held_usd: "0.000000",
    });
  }, 120_000);

  it("a seller's second account's 500 successes at 1 ms on a $5 grant with no paid call move no figure", async () => {
    const target = await listSeller("0.01", { failEvery: 4 });
    await proxiedCalls(target.agentId, 12);
    await outcomesWritten();
    const before = await figures(target.agentId);
    expect(before).toMatchObject({ total_calls: 12, calls: 12, successes: 9 });

    const shill = await signUp("Seller's second account", 10_000_000);
    const key = await accessKey(shill, target.agentId);
    const grant = await openGrant(key, target.agentId, "5");
    const successes = Array.from({ length: 500 }, (_, i) =>
      report(target.agentId, grant, i + 1, { success: true }, 1),
    );
    // Kept, not counted: no voucher pays for any of them.
    expect(await sendReports(key, successes)).toEqual({ accepted: 0, pending: 500, ignored: 0 });
    // The seller's own account confirming them changes nothing: the seller decides the outcome, not
    // whether a call was paid.
    expect(await sendReports(owner.apiKey, successes)).toEqual({ accepted: 0, pending: 500, ignored: 0 });
    await outcomesWritten();
    expect(await figures(target.agentId)).toEqual(before);

    // Settled with nothing paid: the pending claims never count.
    expect((await api("POST", `/grants/${grant}/close`, { key, body: {} })).status).toBe(200);
    await settled(grant, key);
    await outcomesWritten();
    expect(await figures(target.agentId)).toEqual(before);
    expect((await api("GET", `/grants/${grant}`, { key })).json).toMatchObject({ captured_usd: "0.000000" });
  }, 120_000);

  it("the buyer's and the seller's reports of one call give the seller's outcome, in either order", async () => {
    const outcomes: unknown[] = [];
    for (const sellerFirst of [false, true]) {
      // Call 1 succeeds, call 2 fails (the handler fails every second call); the kit reports both.
      const seller = await listSeller("0.02", { failEvery: 2, reports: true });
      const buyer = client(honest);
      const session = buyer.openSession(seller.agentId, { budgetUsd: "1" });
      const { grantId, sequence } = await session.call({ n: 1 });
      expect(sequence).toBe(1);
      await expect(session.call({ n: 2 })).rejects.toMatchObject({ code: "SELLER_ERROR" });
      // The buyer claims both calls succeeded, at 1 ms.
      const forged = [
        report(seller.agentId, grantId, 1, { success: true }, 1),
        report(seller.agentId, grantId, 2, { success: true }, 1),
      ];
      if (sellerFirst) {
        expect(await seller.kit.flush()).toMatchObject({ redeemed: 1, reported: 2 });
        expect(await sendReports(honest.apiKey, forged)).toEqual({ accepted: 0, pending: 0, ignored: 2 });
      } else {
        expect(await sendReports(honest.apiKey, forged)).toEqual({ accepted: 0, pending: 2, ignored: 0 });
        expect(await seller.kit.flush()).toMatchObject({ redeemed: 1, reported: 2 });
      }
      // The SDK's own honest reports, sent as the session closes, change nothing either.
      await session.close();
      await settled(grantId, honest.apiKey);
      await outcomesWritten();
      const { calls, successes, total_calls } = await figures(seller.agentId);
      outcomes.push({ calls, successes, total_calls });
    }
    expect(outcomes).toEqual([
      { calls: 2, successes: 1, total_calls: 2 },
      { calls: 2, successes: 1, total_calls: 2 },
    ]);
  }, 120_000);

  it("an honest seller's reported calls all count once the vouchers pay for them", async () => {
    const seller = await listSeller("0.01", { failEvery: 5, reports: true });
    const buyer = client(honest);
    const session = buyer.openSession(seller.agentId, { budgetUsd: "1" });
    let grantId = "";
    // Calls 1 to 9: call 5 fails, call 9 is the last success.
    for (let n = 1; n <= 9; n++) {
      const result = await session.call({ n }).catch(() => undefined);
      if (result) grantId = result.grantId;
    }
    // The kit's round redeems what it earned and then reports: vouchers are prepaid, so every
    // success, the last one included, is paid for already.
    await seller.kit.flush();
    await outcomesWritten();
    expect(await figures(seller.agentId)).toMatchObject({ calls: 9, successes: 8 });
    // Settling the grant counts nothing twice.
    await session.close();
    await settled(grantId, honest.apiKey);
    await outcomesWritten();
    expect(await figures(seller.agentId)).toMatchObject({ total_calls: 9, calls: 9, successes: 8 });
  }, 120_000);
});

describe("an access key acts only on its own agent", () => {
  it("a key for agent A cannot read, report on or close the same account's grant on agent B, and nothing changes", async () => {
    const agentA = await listSeller("0.02");
    const agentB = await listSeller("0.02");
    const buyer = await signUp("Two-agent buyer", 10_000_000);
    const keyA = await accessKey(buyer, agentA.agentId);
    const keyB = await accessKey(buyer, agentB.agentId);
    const grant = await openGrant(keyB, agentB.agentId, "1");
    const seen = async (key: string) => api("GET", `/grants/${grant}`, { key });
    const before = (await seen(keyB)).json;

    const read = await seen(keyA);
    expect(read.status).toBe(404);
    expect(read.json.error.code).toBe("NOT_FOUND");
    const close = await api("POST", `/grants/${grant}/close`, { key: keyA, body: {} });
    expect(close.status).toBe(404);
    expect(close.json.error.code).toBe("NOT_FOUND");
    expect(
      await sendReports(keyA, [
        report(agentB.agentId, grant, 1, { success: false }, 60_000),
        report(agentB.agentId, grant, 2, { outcome: "client_error" }, 60_000),
      ]),
    ).toEqual({ accepted: 0, pending: 0, ignored: 2 });
    // Opening a grant on B with A's key was refused already; it still is.
    const { publicKey } = await generateBuyerKeyPair();
    const open = await api("POST", "/grants", {
      key: keyA,
      body: { agent_id: agentB.agentId, budget_usd: "1", buyer_public_key: publicKey },
    });
    expect(open.json.error.code).toBe("AGENT_NOT_PURCHASED");

    // Nothing changed: B's key and the account key see the grant as it was, open and unpaid.
    expect((await seen(keyB)).json).toEqual(before);
    expect((await seen(buyer.apiKey)).json).toEqual(before);
    expect(before).toMatchObject({ status: "open", redeemed_usd: "0.000000" });
    expect(await store.getGrant(grant)).toMatchObject({
      closedAt: null,
      reportedFailures: 0,
      reportedClientErrors: 0,
    });
    expect((await api("GET", "/balance", { key: buyer.apiKey })).json).toMatchObject({
      held_usd: "1.000000",
    });
    await outcomesWritten();
    expect((await figures(agentB.agentId)).total_calls).toBe(0);
    // B's own key, and the account key, keep working on it.
    expect((await api("POST", `/grants/${grant}/close`, { key: keyB, body: {} })).json.status).toBe("closed");
    await settled(grant, buyer.apiKey);
    expect((await api("GET", "/balance", { key: buyer.apiKey })).json).toMatchObject({
      held_usd: "0.000000",
    });
  }, 120_000);
});
