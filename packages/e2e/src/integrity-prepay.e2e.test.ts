import type { Clock, Store } from "@mercato/broker";
import {
  DIRECT_HEADERS,
  directCallId,
  generateBuyerKeyPair,
  parseUsd,
  signVoucher,
  splitCharge,
} from "@mercato/protocol";
import { createClient } from "@mercato/sdk";
import { type SellerCallContext, type SellerKit, sellerKit } from "@mercato/seller-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerRequest, settledGrant, signUpAccount } from "./broker-api.js";
import { type RunningSeller, startSeller } from "./sellers.js";
import { startTestMarket, type TestMarket } from "./test-market.js";

const ADMIN = "e2e-admin-token-prepay01";
const PRICE = "0.003";
const PRICE_MICROS = 3_000;
const GRACE_MS = 500;
let market: TestMarket;
let store: Store;
let brokerUrl: string;
const clock: Clock = { now: () => new Date() };
let owner: { accountId: string; apiKey: string };
const running: RunningSeller[] = [];
const kits: SellerKit[] = [];

const api = (method: string, path: string, options: { key?: string; body?: unknown } = {}) =>
  brokerRequest(brokerUrl, method, path, options);
const micros = (usd: string) => Number(parseUsd(usd));
const share = (charge: number) => Number(splitCharge(BigInt(charge)).sellerShare);

const signUp = (name: string, fundsMicros = 0) =>
  signUpAccount(brokerUrl, name, { store, micros: fundsMicros, at: clock.now().toISOString() });

/**
 * A seller in direct mode whose handler counts its runs (and the runs that ended), fails on
 * `{fail: true}`, and on `{untilAbandoned: true}` answers only once its caller has gone away.
 */
async function startDirectSeller(category: string) {
  const state = { agentId: undefined as string | undefined, runs: 0, ended: 0 };
  const kit = sellerKit({
    broker: brokerUrl,
    owner: owner.accountId,
    onError: () => {},
    // The tests hand in what the kit holds themselves (kit.flush()).
    direct: { agentId: () => state.agentId, redeemIntervalMs: 3_600_000 },
    handler: async (input: unknown, { signal }: SellerCallContext) => {
      state.runs++;
      try {
        const { fail, untilAbandoned } = (input ?? {}) as { fail?: boolean; untilAbandoned?: boolean };
        if (untilAbandoned) await new Promise((resolve) => signal.addEventListener("abort", resolve));
        if (fail) throw new Error("upstream feed timed out");
        return { echo: input };
      } finally {
        state.ended++;
      }
    },
  });
  kits.push(kit);
  const seller = await startSeller(kit, "node");
  running.push(seller);
  const registered = await api("POST", "/agents/register", {
    key: owner.apiKey,
    body: {
      name: `Prepaid feed ${category}`,
      description: "Spot prices, called directly and paid up front",
      category,
      tags: ["prices"],
      api_endpoint: seller.url,
      pricing: { model: "per_call", price_per_call: PRICE },
    },
  });
  expect(registered.status).toBe(201);
  state.agentId = registered.json.agent_id as string;
  return { kit, url: seller.url, agentId: state.agentId, state };
}

/** Waits until the sweeper has settled `grantId` and returns the grant. */
const settled = (grantId: string, key: string) => settledGrant(brokerUrl, grantId, key);

beforeAll(async () => {
  market = await startTestMarket({
    name: "prepay-e2e",
    adminToken: ADMIN,
    clock,
    sweeper: { intervalMs: 50, grantGraceMs: GRACE_MS },
  });
  ({ store, url: brokerUrl } = market);
  owner = await signUp("Prepaid seller");
});

afterAll(async () => {
  await market.expectCleanAudit();
  await Promise.all(kits.map((kit) => kit.close()));
  await Promise.all(running.map((seller) => seller.close()));
  await market.close();
});

describe("one free call per grant (issue 16, item 5)", () => {
  it("30 grants, one call each on a voucher owing 0: the kit refuses every one before the handler runs, and nothing is served unpaid", async () => {
    const seller = await startDirectSeller("prepay-attack");
    const buyer = await signUp("Grant farmer", 10_000_000);
    const { json: access } = await api("POST", "/purchase", {
      key: buyer.apiKey,
      body: { agent_id: seller.agentId },
    });
    const earningsBefore = micros((await api("GET", "/balance", { key: owner.apiKey })).json.earnings_usd);
    const availableBefore = micros((await api("GET", "/balance", { key: buyer.apiKey })).json.available_usd);

    const grants: string[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const keys = await generateBuyerKeyPair();
      const opened = await api("POST", "/grants", {
        key: access.api_key,
        body: { agent_id: seller.agentId, budget_usd: "0.01", ttl_s: 60, buyer_public_key: keys.publicKey },
      });
      expect(opened.status).toBe(201);
      const grant = opened.json;
      grants.push(grant.grant_id);
      // What the SDK signed before vouchers were prepaid: the first call of a grant owes nothing.
      const voucher = await signVoucher(
        { grantId: grant.grant_id, sequence: 1, owedMicros: 0 },
        keys.privateKey,
      );
      const response = await fetch(seller.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [DIRECT_HEADERS.grant]: grant.token,
          [DIRECT_HEADERS.voucher]: voucher.header,
        },
        body: JSON.stringify({ input: { i }, call_id: directCallId(grant.grant_id, 1), timeout_ms: 5_000 }),
      });
      const body = (await response.json()) as { error?: { code: string; details: Record<string, unknown> } };
      statuses.push(response.status);
      if (response.status === 402) {
        // Refused with what the call costs: the first voucher of a grant pays for the first call.
        expect(body.error?.code).toBe("BUDGET_EXCEEDED");
        expect(body.error?.details).toMatchObject({ reason: "payment_behind", owed_usd: "0.003000" });
      }
    }
    expect(statuses).toEqual(Array(30).fill(402));
    expect(seller.state.runs).toBe(0);

    // The seller hands in whatever it holds, the buyer walks away from every grant (closing with
    // nothing owed), and the broker settles them all.
    await seller.kit.flush();
    for (const grantId of grants) {
      expect((await api("POST", `/grants/${grantId}/close`, { key: buyer.apiKey, body: {} })).status).toBe(
        200,
      );
    }
    let paidCalls = 0;
    for (const grantId of grants) {
      const done = await settled(grantId, buyer.apiKey);
      paidCalls += micros(done.captured_usd) / PRICE_MICROS;
    }
    // At most one call served unpaid over the buyer's whole life; here none at all.
    expect(seller.state.runs - paidCalls).toBeLessThanOrEqual(1);
    expect(seller.state.runs - paidCalls).toBe(0);
    expect(paidCalls).toBe(0);
    const availableAfter = micros((await api("GET", "/balance", { key: buyer.apiKey })).json.available_usd);
    expect(availableAfter).toBe(availableBefore);
    expect(micros((await api("GET", "/balance", { key: owner.apiKey })).json.earnings_usd)).toBe(
      earningsBefore,
    );
    await market.expectCleanAudit();
  }, 60_000);

  it("the SDK's call() in direct mode, with a failing call in the middle and a failing last call, pays exactly price × successes", async () => {
    const seller = await startDirectSeller("prepay-honest");
    const buyer = await signUp("Honest buyer", 10_000_000);
    const client = createClient({ baseUrl: brokerUrl, apiKey: buyer.apiKey });
    const availableBefore = micros((await api("GET", "/balance", { key: buyer.apiKey })).json.available_usd);
    const earningsBefore = micros((await api("GET", "/balance", { key: owner.apiKey })).json.earnings_usd);
    const options = { category: "prepay-honest", mode: "direct" as const, retries: 0 };

    const grants = new Set<string>();
    const outcomes: boolean[] = [];
    for (const fail of [false, false, true, false, false, true]) {
      try {
        const result = await client.call({ ...options, input: { fail } });
        expect(result.output).toEqual({ echo: { fail } });
        expect(result.costUsd).toBe("0.003000");
        if (result.mode === "direct") grants.add(result.grantId);
        outcomes.push(true);
      } catch (error) {
        expect((error as { code?: string }).code).toBe("ALL_CANDIDATES_FAILED");
        outcomes.push(false);
      }
    }
    expect(outcomes).toEqual([true, true, false, true, true, false]);
    expect(seller.state.runs).toBe(6);
    // One grant paid for all six calls: a failed call's prepayment carried over to the next.
    expect(grants.size).toBe(1);
    const [grantId] = [...grants] as [string];

    // The seller hands in its best voucher, that of the failed last call, which prepaid a fifth
    // success: an honest kit claims only the four it earned.
    await seller.kit.flush();
    const redeemed = (await api("GET", `/grants/${grantId}`, { key: buyer.apiKey })).json;
    expect(redeemed.redeemed_usd).toBe("0.012000");

    await client.close();
    const grant = await settled(grantId, buyer.apiKey);
    const charge = 4 * PRICE_MICROS;
    expect(micros(grant.captured_usd)).toBe(charge);
    const after = (await api("GET", "/balance", { key: buyer.apiKey })).json;
    expect(availableBefore - micros(after.available_usd)).toBe(charge);
    expect(after.held_usd).toBe("0.000000");
    const earned =
      micros((await api("GET", "/balance", { key: owner.apiKey })).json.earnings_usd) - earningsBefore;
    expect(earned).toBe(share(charge));
    expect(earned).toBe(charge - Math.floor(charge / 10));
    await market.expectCleanAudit();
  }, 60_000);

  it("a call the buyer gave up on before the answer came is not paid for: the honest kit claims only answers received", async () => {
    const seller = await startDirectSeller("prepay-abandoned");
    const buyer = await signUp("Impatient buyer", 10_000_000);
    const client = createClient({ baseUrl: brokerUrl, apiKey: buyer.apiKey });
    const session = client.openSession(seller.agentId, { budgetUsd: "0.30" });
    const first = await session.call({ n: 1 });
    // The buyer stops waiting while the handler runs: its voucher prepaid the call, the kit
    // finishes it, but nobody is there to receive the answer.
    const gaveUp = await session
      .call({ untilAbandoned: true }, { signal: AbortSignal.timeout(100) })
      .catch((e) => e);
    expect((gaveUp as Error).name).toBe("TimeoutError");
    await expect.poll(() => seller.state.ended, { timeout: 10_000 }).toBe(2);
    // The kit holds the prepaid voucher of the abandoned call, and claims the one answer received.
    await seller.kit.flush();
    expect((await api("GET", `/grants/${first.grantId}`, { key: buyer.apiKey })).json.redeemed_usd).toBe(
      "0.003000",
    );
    const summary = await session.close();
    expect(summary).toMatchObject({ calls: 1, successes: 1, spentUsd: "0.003000" });
    const grant = await settled(first.grantId, buyer.apiKey);
    expect(grant.captured_usd).toBe("0.003000");
    await client.close();
    await market.expectCleanAudit();
  }, 60_000);
});
