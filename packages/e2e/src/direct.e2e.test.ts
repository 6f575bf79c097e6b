import type { Clock, Store } from "@mercato/broker";
import {
  DIRECT_HEADERS,
  directCallId,
  generateBuyerKeyPair,
  parseUsd,
  signVoucher,
  splitCharge,
} from "@mercato/protocol";
import { createClient, type MercatoClient } from "@mercato/sdk";
import { type SellerKit, sellerKit } from "@mercato/seller-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerRequest, settledGrant, signUpAccount } from "./broker-api.js";
import { type RunningSeller, startSeller } from "./sellers.js";
import { startTestMarket, type TestMarket } from "./test-market.js";

const ADMIN = "e2e-admin-token-direct01";
const PRICE = "0.002";
const PRICE_MICROS = 2_000;
const GRACE_MS = 1_000;
let market: TestMarket;
let store: Store;
let brokerUrl: string;
let offsetMs = 0;
const clock: Clock = { now: () => new Date(Date.now() + offsetMs) };
let owner: { accountId: string; apiKey: string };
let buyerAccount: { accountId: string; apiKey: string };
const running: RunningSeller[] = [];
const kits: SellerKit[] = [];

const api = (method: string, path: string, options: { key?: string; body?: unknown } = {}) =>
  brokerRequest(brokerUrl, method, path, options);
const micros = (usd: string) => Number(parseUsd(usd));
const balanceOf = async (key: string) => (await api("GET", "/balance", { key })).json;
/** The seller's share of a charge: the charge less the 10% fee, as the broker splits it. */
const share = (charge: number) => Number(splitCharge(BigInt(charge)).sellerShare);

/** A seller behind the kit in direct mode whose handler fails every `failEvery`-th call. */
async function startDirectSeller(
  options: {
    failEvery?: number;
    redeemIntervalMs?: number;
    now?: () => number;
    serves?: string;
    /** The owner's account key: the kit then reports outcomes too. */
    apiKey?: string;
  } = {},
) {
  const state = { agentId: options.serves, served: 0 };
  const kit = sellerKit({
    broker: brokerUrl,
    onError: () => {},
    ...(options.now && { now: options.now }),
    direct: {
      agentId: () => state.agentId,
      ...(options.redeemIntervalMs !== undefined && { redeemIntervalMs: options.redeemIntervalMs }),
      ...(options.apiKey !== undefined && { apiKey: options.apiKey }),
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
  if (options.serves) return { kit, url: seller.url, agentId: options.serves, state };
  const registered = await api("POST", "/agents/register", {
    key: owner.apiKey,
    body: {
      name: "Direct price feed",
      description: "Spot prices, called directly",
      category: "direct-e2e",
      tags: ["prices"],
      api_endpoint: seller.url,
      pricing: { model: "per_call", price_per_call: PRICE },
    },
  });
  state.agentId = registered.json.agent_id as string;
  return { kit, url: seller.url, agentId: state.agentId, state };
}

const signUp = (name: string) => signUpAccount(brokerUrl, name);

/** Waits until the sweeper has settled `grantId` and returns the grant. */
const settled = (grantId: string, key: string) => settledGrant(brokerUrl, grantId, key);

beforeAll(async () => {
  market = await startTestMarket({
    name: "direct-e2e",
    adminToken: ADMIN,
    clock,
    sweeper: { intervalMs: 100, grantGraceMs: GRACE_MS },
  });
  ({ store, url: brokerUrl } = market);
  owner = await signUp("Direct seller");
  buyerAccount = await signUp("Direct buyer");
  await store.credit({
    id: "topup:direct-e2e",
    accountId: buyerAccount.accountId,
    amount: 100_000_000,
    reference: "e2e",
    at: clock.now().toISOString(),
  });
});

afterAll(async () => {
  await market.expectCleanAudit();
  await Promise.all(kits.map((kit) => kit.close()));
  await Promise.all(running.map((seller) => seller.close()));
  await market.close();
});

describe("direct mode, end to end", () => {
  it("1,000 direct calls to a seller that fails some: the buyer pays price × successes, the seller 90%", async () => {
    const seller = await startDirectSeller({ failEvery: 7, apiKey: owner.apiKey });
    const buyer: MercatoClient = createClient({ baseUrl: brokerUrl, apiKey: buyerAccount.apiKey });
    const before = await balanceOf(buyerAccount.apiKey);
    const earningsBefore = micros((await balanceOf(owner.apiKey)).earnings_usd);
    const session = buyer.openSession(seller.agentId, { budgetUsd: "5" });
    let successes = 0;
    let failures = 0;
    const grants = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      try {
        const result = await session.call({ i });
        expect(result.output).toMatchObject({ echo: { i } });
        grants.add(result.grantId);
        successes++;
      } catch (error) {
        expect((error as { code?: string }).code).toBe("SELLER_ERROR");
        failures++;
      }
    }
    expect(successes + failures).toBe(1000);
    expect(failures).toBe(Math.floor(1000 / 7));
    expect(seller.state.served).toBe(1000);
    // One grant paid for all of them: the budget covers 2,500 calls, and failures cost nothing.
    expect(grants.size).toBe(1);
    const [grantId] = [...grants] as [string];
    // While the grant is open the seller holds prepaid vouchers paying for every success, and
    // claims exactly those: not the prepayment of a failed call.
    await seller.kit.flush();
    const open = (await api("GET", `/grants/${grantId}`, { key: buyerAccount.apiKey })).json;
    expect(open.status).toBe("open");
    expect(micros(open.redeemed_usd)).toBe(successes * PRICE_MICROS);
    expect((await balanceOf(buyerAccount.apiKey)).held_usd).toBe("5.000000");

    const summary = await session.close();
    expect(summary.successes).toBe(successes);
    const grant = await settled(grantId, buyerAccount.apiKey);
    const charge = successes * PRICE_MICROS;
    expect(micros(grant.captured_usd)).toBe(charge);
    const after = await balanceOf(buyerAccount.apiKey);
    expect(micros(before.available_usd) - micros(after.available_usd)).toBe(charge);
    expect(after.held_usd).toBe("0.000000");
    const earnings = micros((await balanceOf(owner.apiKey)).earnings_usd) - earningsBefore;
    expect(earnings).toBe(share(charge));
    expect(earnings).toBe(charge - Math.floor(charge / 10));

    // The outcomes reached the agent's metrics through the usage reports of both sides, each call
    // counted once.
    await buyer.close();
    await seller.kit.flush();
    await expect
      .poll(async () => (await api("GET", `/agents/${seller.agentId}`)).json.metrics.total_calls, {
        timeout: 15_000,
      })
      .toBe(1000);
  }, 300_000); // 1,000 calls one after the other: seconds alone, a minute or more while every package's tests share 2 cores

  it("refuses a forged voucher, a replayed one, one over budget and an expired grant, and charges nothing for them", async () => {
    const seller = await startDirectSeller();
    const { json: access } = await api("POST", "/purchase", {
      key: buyerAccount.apiKey,
      body: { agent_id: seller.agentId },
    });
    const buyerKey = await generateBuyerKeyPair();
    const { json: grant } = await api("POST", "/grants", {
      key: access.api_key,
      body: { agent_id: seller.agentId, budget_usd: "0.01", ttl_s: 60, buyer_public_key: buyerKey.publicKey },
    });
    const call = async (sequence: number, owedMicros: number, key = buyerKey, url = seller.url) => {
      const voucher = await signVoucher({ grantId: grant.grant_id, sequence, owedMicros }, key.privateKey);
      const response = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [DIRECT_HEADERS.grant]: grant.token,
          [DIRECT_HEADERS.voucher]: voucher.header,
        },
        body: JSON.stringify({
          input: { sequence },
          call_id: directCallId(grant.grant_id, sequence),
          timeout_ms: 5_000,
        }),
      });
      const json = (await response.json()) as { error: { details: Record<string, unknown> } };
      return { status: response.status, json };
    };
    // A first call that does not pay for itself is refused, with what it costs.
    const unpaid = await call(1, 0);
    expect(unpaid.status).toBe(402);
    expect(unpaid.json.error.details).toMatchObject({ reason: "payment_behind", owed_usd: "0.002000" });
    expect((await call(2, PRICE_MICROS)).status).toBe(200);
    const forged = await call(3, 2 * PRICE_MICROS, await generateBuyerKeyPair());
    expect(forged.status).toBe(401);
    expect(forged.json.error.details.reason).toBe("voucher_bad_signature");
    const replayed = await call(2, PRICE_MICROS);
    expect(replayed.status).toBe(409);
    expect(replayed.json.error.details.reason).toBe("voucher_replayed");
    const over = await call(3, 10_002);
    expect(over.status).toBe(402);
    expect(over.json.error.details.reason).toBe("voucher_over_budget");
    // A buyer that stops paying is refused before its first unpaid call runs, with what it owes.
    expect((await call(4, 2 * PRICE_MICROS)).status).toBe(200);
    const behind = await call(5, 2 * PRICE_MICROS);
    expect(behind.status).toBe(402);
    expect(behind.json.error.details).toMatchObject({ reason: "payment_behind", owed_usd: "0.002000" });
    // The same grant at a second process of the seller whose clock is past the grant's expiry.
    const later = await startDirectSeller({ now: () => Date.now() + 61_000, serves: seller.agentId });
    const expired = await call(6, 3 * PRICE_MICROS, buyerKey, later.url);
    expect(expired.status).toBe(401);
    expect(expired.json.error.details.reason).toBe("grant_expired");
    expect(seller.state.served).toBe(2);
    expect(later.state.served).toBe(0);

    // The seller redeems what it holds; the buyer never closes: the grant settles at expiry, and
    // both calls served were paid for.
    await seller.kit.flush();
    offsetMs += 61_000 + GRACE_MS;
    const done = await settled(grant.grant_id, buyerAccount.apiKey);
    expect(done).toMatchObject({ status: "expired", captured_usd: "0.004000" });
  });

  it("pays a seller that never redeems from the buyer's close, and a buyer that never closes through the seller's redemptions", async () => {
    const lazy = await startDirectSeller({ redeemIntervalMs: 3_600_000 });
    const buyer = createClient({ baseUrl: brokerUrl, apiKey: buyerAccount.apiKey });
    const earningsBefore = micros((await balanceOf(owner.apiKey)).earnings_usd);
    const closing = buyer.openSession(lazy.agentId, { budgetUsd: "1" });
    for (let i = 0; i < 25; i++) await closing.call({ i });
    const closedGrant = (await closing.call({ i: 25 })).grantId;
    await closing.close();
    const fromClose = await settled(closedGrant, buyerAccount.apiKey);
    expect(micros(fromClose.captured_usd)).toBe(26 * PRICE_MICROS);

    const diligent = await startDirectSeller();
    const leaving = buyer.openSession(diligent.agentId, { budgetUsd: "1", ttlS: 60 });
    for (let i = 0; i < 9; i++) await leaving.call({ i });
    const abandoned = (await leaving.call({ i: 9 })).grantId;
    // The buyer goes away without closing; the seller redeems its best voucher, which prepaid the
    // last call too: all 10 calls paid.
    await diligent.kit.flush();
    offsetMs += 61_000 + GRACE_MS;
    const fromRedeem = await settled(abandoned, buyerAccount.apiKey);
    expect(fromRedeem.status).toBe("expired");
    expect(micros(fromRedeem.captured_usd)).toBe(10 * PRICE_MICROS);
    const earned = micros((await balanceOf(owner.apiKey)).earnings_usd) - earningsBefore;
    expect(earned).toBe(share(26 * PRICE_MICROS) + share(10 * PRICE_MICROS));
  });
});
