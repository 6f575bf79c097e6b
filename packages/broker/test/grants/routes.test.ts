import { type BuyerKeyPair, generateBuyerKeyPair, signVoucher, verifyGrant } from "@mercato/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { countSettledGrantReports } from "../../src/grants/reports.js";
import { settleDueGrants } from "../../src/grants/settle.js";
import { createTestBroker, type TestBroker } from "../support/harness.js";

const ADMIN = "admin-token-for-tests-only";
const PRICE = 20_000;
const GRACE_MS = 120_000;
let broker: TestBroker;
let buyer: { accountId: string; apiKey: string };
let seller: { accountId: string; apiKey: string };
let agentId: string;
let accessKey: string;
let buyerKey: BuyerKeyPair;

beforeEach(async () => {
  broker = await createTestBroker({ adminToken: ADMIN });
  buyer = await broker.signUp("Buyer");
  seller = await broker.signUp("Seller");
  agentId = await broker.register(seller.apiKey);
  await broker.store.credit({
    id: "topup:grants",
    accountId: buyer.accountId,
    amount: 10_000_000,
    reference: "test",
    at: now(),
  });
  const purchase = await broker.call("POST", "/purchase", { key: buyer.apiKey, body: { agent_id: agentId } });
  accessKey = purchase.json().api_key;
  buyerKey = await generateBuyerKeyPair();
});
afterEach(async () => {
  const audit = await broker.call("GET", "/admin/audit", { key: ADMIN });
  expect(audit.json()).toMatchObject({ ok: true, violations: [] });
  await broker.close();
});

function now(): string {
  return broker.clock.now().toISOString();
}
const balance = async (key: string) => (await broker.call("GET", "/balance", { key })).json();
const openGrant = async (body: Record<string, unknown> = {}, key = accessKey) =>
  broker.call("POST", "/grants", {
    key,
    body: {
      agent_id: agentId,
      budget_usd: "1.00",
      ttl_s: 600,
      buyer_public_key: buyerKey.publicKey,
      ...body,
    },
  });
const voucherBody = async (grantId: string, sequence: number, owedMicros: number, key = buyerKey) => {
  const voucher = await signVoucher({ grantId, sequence, owedMicros }, key.privateKey);
  return { sequence, owed_usd: (owedMicros / 1e6).toFixed(6), signature: voucher.signature };
};
/** A redemption: the voucher and what the seller earned (by default all the voucher owes). */
const redeemBody = async (
  grantId: string,
  sequence: number,
  owedMicros: number,
  earnedMicros = owedMicros,
  key = buyerKey,
) => ({
  ...(await voucherBody(grantId, sequence, owedMicros, key)),
  earned_usd: (earnedMicros / 1e6).toFixed(6),
});
const settle = (afterMs: number) => {
  broker.clock.advance(afterMs);
  return settleDueGrants(broker.store, now(), GRACE_MS);
};

describe("POST /grants", () => {
  it("is rate-limited per key as an invoke is: a refused opening holds nothing", async () => {
    const limited = await createTestBroker({ adminToken: ADMIN, invoke: { defaultRateLimit: 5 } });
    try {
      const farmer = await limited.signUp("Grant farmer");
      const owner = await limited.signUp("Owner");
      const agent = await limited.register(owner.apiKey);
      await limited.store.credit({
        id: "topup:farmer",
        accountId: farmer.accountId,
        amount: 10_000_000,
        reference: "test",
        at: limited.clock.now().toISOString(),
      });
      const key = (
        await limited.call("POST", "/purchase", { key: farmer.apiKey, body: { agent_id: agent } })
      ).json().api_key;
      const open = () =>
        limited.call("POST", "/grants", {
          key,
          body: { agent_id: agent, budget_usd: "0.02", ttl_s: 60, buyer_public_key: buyerKey.publicKey },
        });
      for (let i = 0; i < 5; i++) expect((await open()).statusCode).toBe(201);
      const refused = await open();
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe("RATE_LIMITED");
      expect(refused.headers["retry-after"]).toBeDefined();
      expect((await limited.call("GET", "/balance", { key: farmer.apiKey })).json()).toMatchObject({
        held_usd: "0.100000",
      });
      limited.clock.advance(60_000);
      expect((await open()).statusCode).toBe(201);
      expect((await limited.call("GET", "/admin/audit", { key: ADMIN })).json()).toMatchObject({ ok: true });
    } finally {
      await limited.close();
    }
  });

  it("holds the budget and answers a token the broker's keys verify", async () => {
    const response = await openGrant();
    expect(response.statusCode).toBe(201);
    const grant = response.json();
    expect(grant).toMatchObject({
      agent_id: agentId,
      buyer_id: buyer.accountId,
      endpoint: "https://api.example.com/agent/abc123",
      price_per_call_usd: "0.020000",
      budget_usd: "1.000000",
      status: "open",
      redeemed_usd: "0.000000",
    });
    expect(Date.parse(grant.expires_at) - Date.parse(grant.issued_at)).toBe(600_000);
    const jwks = (await broker.call("GET", "/.well-known/jwks.json")).json();
    const payload = await verifyGrant(grant.token, jwks, { now: broker.clock.now() });
    expect(payload).toMatchObject({
      grant_id: grant.grant_id,
      seller_account_id: seller.accountId,
      buyer_public_key: buyerKey.publicKey,
      budget_usd: "1.000000",
    });
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "9.000000", held_usd: "1.000000" });
    // The buyer and the agent's owner may read it; anyone else sees nothing.
    expect(
      (await broker.call("GET", `/grants/${grant.grant_id}`, { key: seller.apiKey })).json().status,
    ).toBe("open");
    const stranger = await broker.signUp("Stranger");
    expect((await broker.call("GET", `/grants/${grant.grant_id}`, { key: stranger.apiKey })).statusCode).toBe(
      404,
    );
  });

  it("refuses what it cannot pay for and changes nothing", async () => {
    const poor = await openGrant({ budget_usd: "10.01" });
    expect(poor.statusCode).toBe(402);
    expect(poor.json().error.code).toBe("INSUFFICIENT_FUNDS");
    const tiny = await openGrant({ budget_usd: "0.01" });
    expect(tiny.statusCode).toBe(400);
    expect(tiny.json().error.message).toContain("at least one call");
    const other = await broker.register(seller.apiKey, { name: "Another agent" });
    const wrongAgent = await openGrant({ agent_id: other });
    expect(wrongAgent.json().error.code).toBe("AGENT_NOT_PURCHASED");
    const shortLived = await openGrant({ ttl_s: 10 });
    expect(shortLived.statusCode).toBe(400);
    const badKey = await openGrant({ buyer_public_key: "not-a-key" });
    expect(badKey.statusCode).toBe(400);
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "10.000000", held_usd: "0.000000" });
  });

  it("counts the budget against the access key's spend cap", async () => {
    const capped = await broker.call("POST", "/purchase", {
      key: buyer.apiKey,
      body: { agent_id: agentId, spend_cap_usd: "0.50" },
    });
    const refused = await openGrant({}, capped.json().api_key);
    expect(refused.statusCode).toBe(402);
    expect(refused.json().error.code).toBe("SPEND_CAP_EXCEEDED");
    expect((await openGrant({ budget_usd: "0.50" }, capped.json().api_key)).statusCode).toBe(201);
  });

  it("opens one grant per Idempotency-Key, holding the budget once however often it is retried", async () => {
    const body = { agent_id: agentId, budget_usd: "1.00", ttl_s: 600, buyer_public_key: buyerKey.publicKey };
    const headers = { "idempotency-key": "open-grant-1" };
    const first = await broker.call("POST", "/grants", { key: accessKey, body, headers });
    const again = await broker.call("POST", "/grants", { key: accessKey, body, headers });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json().grant_id).toBe(first.json().grant_id);
    expect(again.json().token).toBe(first.json().token);
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "9.000000", held_usd: "1.000000" });
    const other = await broker.call("POST", "/grants", {
      key: accessKey,
      body: { ...body, budget_usd: "2.00" },
      headers,
    });
    expect(other.statusCode).toBe(409);
    expect(other.json().error.details.grant_id).toBe(first.json().grant_id);
    const bad = await broker.call("POST", "/grants", {
      key: accessKey,
      body,
      headers: { "idempotency-key": "" },
    });
    expect(bad.statusCode).toBe(400);
    expect(await balance(buyer.apiKey)).toMatchObject({ held_usd: "1.000000" });
  });

  it("does not remember a refused open: the same Idempotency-Key opens the grant once the buyer can pay", async () => {
    const body = { agent_id: agentId, budget_usd: "15.00", ttl_s: 600, buyer_public_key: buyerKey.publicKey };
    const headers = { "idempotency-key": "open-after-topup" };
    const poor = await broker.call("POST", "/grants", { key: accessKey, body, headers });
    expect(poor.statusCode).toBe(402);
    expect(poor.json().error.code).toBe("INSUFFICIENT_FUNDS");
    await broker.store.credit({
      id: "topup:grants-2",
      accountId: buyer.accountId,
      amount: 10_000_000,
      reference: "test",
      at: now(),
    });
    const opened = await broker.call("POST", "/grants", { key: accessKey, body, headers });
    expect(opened.statusCode, opened.body).toBe(201);
    expect(opened.headers["idempotent-replayed"]).toBeUndefined();
    const again = await broker.call("POST", "/grants", { key: accessKey, body, headers });
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json().grant_id).toBe(opened.json().grant_id);
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "5.000000", held_usd: "15.000000" });
  });

  it("opens with an account key too", async () => {
    expect((await openGrant({}, buyer.apiKey)).statusCode).toBe(201);
  });
});

describe("redeeming, closing and settling", () => {
  it("pays the seller its share of the highest claim when the buyer closes, and releases the rest", async () => {
    const grant = (await openGrant()).json();
    // The seller redeems what it holds: the voucher of call 5, which prepaid it (0.08 USD), and
    // failed: it earned 3 successes.
    const redeemed = await broker.call("POST", `/grants/${grant.grant_id}/redeem`, {
      body: await redeemBody(grant.grant_id, 5, 4 * PRICE, 3 * PRICE),
    });
    expect(redeemed.statusCode).toBe(200);
    expect(redeemed.json()).toMatchObject({ status: "open", redeemed_usd: "0.060000" });
    // A replay or an older voucher gains nothing.
    await broker.call("POST", `/grants/${grant.grant_id}/redeem`, {
      body: await redeemBody(grant.grant_id, 4, 3 * PRICE, 2 * PRICE),
    });
    // A claim above what the voucher owes is refused (400) and changes nothing.
    const overClaim = await broker.call("POST", `/grants/${grant.grant_id}/redeem`, {
      body: await redeemBody(grant.grant_id, 5, 4 * PRICE, 4 * PRICE + 1),
    });
    expect(overClaim.statusCode).toBe(400);
    expect(overClaim.json().error).toMatchObject({
      code: "VALIDATION_ERROR",
      details: { issues: [{ path: "earned_usd" }] },
    });
    expect(
      (await broker.call("GET", `/grants/${grant.grant_id}`, { key: buyer.apiKey })).json().redeemed_usd,
    ).toBe("0.060000");
    // The buyer closes with its final voucher: 4 successes.
    const closed = await broker.call("POST", `/grants/${grant.grant_id}/close`, {
      key: accessKey,
      body: await voucherBody(grant.grant_id, 7, 4 * PRICE),
    });
    expect(closed.json()).toMatchObject({ status: "closed", redeemed_usd: "0.080000" });
    // The seller learns of the close from its next redemption.
    const late = await broker.call("POST", `/grants/${grant.grant_id}/redeem`, {
      body: await redeemBody(grant.grant_id, 5, 4 * PRICE, 3 * PRICE),
    });
    expect(late.json()).toMatchObject({ status: "closed", redeemed_usd: "0.080000" });

    expect(await settle(GRACE_MS - 1)).toBe(0);
    expect(await settle(1)).toBe(1);
    const settled = (await broker.call("GET", `/grants/${grant.grant_id}`, { key: buyer.apiKey })).json();
    expect(settled).toMatchObject({ status: "closed", captured_usd: "0.080000" });
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "9.920000", held_usd: "0.000000" });
    expect((await balance(seller.apiKey)).earnings_usd).toBe("0.072000");
    const charge = (
      await broker.call("GET", `/transactions/${grant.grant_id}`, { key: buyer.apiKey })
    ).json();
    expect(charge).toMatchObject({ status: "completed", amount_usd: "0.080000", fee_usd: "0.008000" });

    const tooLate = await broker.call("POST", `/grants/${grant.grant_id}/redeem`, {
      body: await redeemBody(grant.grant_id, 9, 6 * PRICE, 5 * PRICE),
    });
    expect(tooLate.statusCode).toBe(409);
    expect(tooLate.json().error.details).toMatchObject({ reason: "grant_settled", captured_usd: "0.080000" });
  });

  it("pays the seller from its redemptions when the buyer never closes", async () => {
    const grant = (await openGrant()).json();
    // The voucher of call 12 prepaid it; the call failed: 11 successes earned.
    await broker.call("POST", `/grants/${grant.grant_id}/redeem`, {
      body: await redeemBody(grant.grant_id, 12, 12 * PRICE, 11 * PRICE),
    });
    expect(await settle(600_000 + GRACE_MS - 1)).toBe(0);
    expect(await settle(1)).toBe(1);
    expect(
      (await broker.call("GET", `/grants/${grant.grant_id}`, { key: seller.apiKey })).json(),
    ).toMatchObject({
      status: "expired",
      captured_usd: "0.220000",
    });
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "9.780000", held_usd: "0.000000" });
    expect((await balance(seller.apiKey)).earnings_usd).toBe("0.198000");
  });

  it("captures the higher of the seller's claim and the buyer's final voucher, never more than the buyer signed", async () => {
    // Three grants, each of 3 successes and a failed 4th call whose voucher prepaid it (0.08 USD).
    const honest = (await openGrant()).json();
    const underpaid = (await openGrant()).json();
    const tampered = (await openGrant()).json();
    const redeem = async (grantId: string, earned: number) =>
      broker.call("POST", `/grants/${grantId}/redeem`, {
        body: await redeemBody(grantId, 4, 4 * PRICE, earned),
      });
    const close = async (grantId: string, owed: number) =>
      broker.call("POST", `/grants/${grantId}/close`, {
        key: accessKey,
        body: await voucherBody(grantId, 5, owed),
      });
    // Both honest: the seller claims its 3 successes, the buyer's final voucher owes them.
    await redeem(honest.grant_id, 3 * PRICE);
    await close(honest.grant_id, 3 * PRICE);
    // A buyer closing low does not lower what the seller earned within the voucher it signed.
    await redeem(underpaid.grant_id, 3 * PRICE);
    await close(underpaid.grant_id, PRICE);
    // A seller that tampers with its kit claims the failed call's prepayment: one price more, the
    // most it can take, since the buyer signed it.
    await redeem(tampered.grant_id, 4 * PRICE);
    await close(tampered.grant_id, 3 * PRICE);
    expect(await settle(GRACE_MS)).toBe(3);
    const captured = async (grantId: string) =>
      (await broker.call("GET", `/grants/${grantId}`, { key: buyer.apiKey })).json().captured_usd;
    expect(await captured(honest.grant_id)).toBe("0.060000");
    expect(await captured(underpaid.grant_id)).toBe("0.060000");
    expect(await captured(tampered.grant_id)).toBe("0.080000");
    expect(await balance(buyer.apiKey)).toMatchObject({ available_usd: "9.800000", held_usd: "0.000000" });
    expect((await balance(seller.apiKey)).earnings_usd).toBe("0.180000");
  });

  it("takes at most 120 redemptions of a grant a minute", async () => {
    const grant = (await openGrant()).json();
    const body = await redeemBody(grant.grant_id, 2, PRICE);
    for (let i = 0; i < 120; i++) {
      const answer = await broker.call("POST", `/grants/${grant.grant_id}/redeem`, { body });
      expect(answer.statusCode).toBe(200);
    }
    const limited = await broker.call("POST", `/grants/${grant.grant_id}/redeem`, { body });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.message).toContain("Redemptions of this grant may make 120 calls per minute");
    expect(limited.headers["retry-after"]).toBeDefined();
    broker.clock.advance(60_000);
    expect((await broker.call("POST", `/grants/${grant.grant_id}/redeem`, { body })).statusCode).toBe(200);
  });

  it("refuses forged, foreign and over-budget vouchers, and changes nothing", async () => {
    const grant = (await openGrant()).json();
    const thief = await generateBuyerKeyPair();
    const forged = await broker.call("POST", `/grants/${grant.grant_id}/redeem`, {
      body: await redeemBody(grant.grant_id, 2, PRICE, PRICE, thief),
    });
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error.details.reason).toBe("voucher_bad_signature");
    const other = (await openGrant()).json();
    const foreign = await broker.call("POST", `/grants/${grant.grant_id}/redeem`, {
      body: await redeemBody(other.grant_id, 2, PRICE),
    });
    expect(foreign.json().error.details.reason).toBe("voucher_bad_signature");
    const over = await broker.call("POST", `/grants/${grant.grant_id}/redeem`, {
      body: await redeemBody(grant.grant_id, 2, 1_000_001, PRICE),
    });
    expect(over.statusCode).toBe(402);
    expect(over.json().error.details.reason).toBe("voucher_over_budget");
    const missing = await broker.call("POST", "/grants/grt_nosuchgrant00/redeem", {
      body: await redeemBody(grant.grant_id, 2, PRICE),
    });
    expect(missing.statusCode).toBe(404);
    const malformed = await broker.call("POST", `/grants/${grant.grant_id}/redeem`, {
      body: { sequence: 0, owed_usd: "x", signature: "short", earned_usd: "0" },
    });
    expect(malformed.statusCode).toBe(400);
    // A voucher without what the seller earned is not a claim.
    const bare = await broker.call("POST", `/grants/${grant.grant_id}/redeem`, {
      body: await voucherBody(grant.grant_id, 2, PRICE),
    });
    expect(bare.statusCode).toBe(400);
    expect(
      (await broker.call("GET", `/grants/${grant.grant_id}`, { key: buyer.apiKey })).json().redeemed_usd,
    ).toBe("0.000000");
    // Only the buyer closes it.
    const bySeller = await broker.call("POST", `/grants/${grant.grant_id}/close`, {
      key: seller.apiKey,
      body: {},
    });
    expect(bySeller.statusCode).toBe(404);
    // Closing with nothing owed releases the whole budget at settlement.
    const closed = await broker.call("POST", `/grants/${grant.grant_id}/close`, { key: accessKey, body: {} });
    expect(closed.json()).toMatchObject({ status: "closed", redeemed_usd: "0.000000" });
    await settle(GRACE_MS);
    expect(await balance(buyer.apiKey)).toMatchObject({ held_usd: "1.000000" }); // the other grant
    expect(
      (await broker.call("GET", `/grants/${grant.grant_id}`, { key: buyer.apiKey })).json().captured_usd,
    ).toBe("0.000000");
  });
});

describe("POST /usage/reports", () => {
  const reportOf =
    (grantId: string) =>
    (sequence: number, outcome: "success" | "failure" | "client_error", responseTimeMs = 40) => ({
      agent_id: agentId,
      grant_id: grantId,
      sequence,
      outcome,
      response_time_ms: responseTimeMs,
      at: now(),
    });
  const send = (key: string, reports: unknown[]) =>
    broker.call("POST", "/usage/reports", { key, body: { reports } }).then((answer) => answer.json());
  const figures = async () => (await broker.call("GET", `/agents/${agentId}`)).json().metrics;
  /** Waits for the outcome recorder (1 s interval) to write `calls` calls. */
  const untilCalls = (calls: number) =>
    vi.waitFor(
      async () => {
        expect((await figures()).total_calls).toBe(calls);
      },
      { timeout: 60_000, interval: 100 },
    );

  it("counts a success only once the grant's vouchers pay for it, and a call once, the seller's report deciding", async () => {
    const grant = (await openGrant({ budget_usd: "0.10" })).json();
    const report = reportOf(grant.grant_id);
    // The buyer first: successes wait for the evidence, its failure is not its to report.
    expect(
      await send(accessKey, [
        report(1, "success"),
        report(2, "failure"),
        report(3, "success"),
        report(3, "success"),
      ]),
    ).toEqual({ accepted: 0, pending: 2, ignored: 2 });
    // The kit redeems call 4's prepaid voucher (three prices) with what it earned, two successes,
    // then reports: its reports decide calls 1 to 3.
    const redeemed = await broker.call("POST", `/grants/${grant.grant_id}/redeem`, {
      body: await redeemBody(grant.grant_id, 4, 3 * PRICE, 2 * PRICE),
    });
    expect(redeemed.statusCode).toBe(200);
    expect(
      await send(seller.apiKey, [
        report(1, "success"),
        report(2, "failure"),
        report(3, "success"),
        report(4, "success"),
      ]),
    ).toEqual({ accepted: 3, pending: 1, ignored: 0 });
    const stranger = await broker.signUp("Stranger");
    expect(await send(stranger.apiKey, [report(5, "failure")])).toEqual({
      accepted: 0,
      pending: 0,
      ignored: 1,
    });
    await untilCalls(3);
    expect(await figures()).toMatchObject({ total_calls: 3 });
    // The buyer's final voucher pays for call 4: counted when the grant settles.
    await broker.call("POST", `/grants/${grant.grant_id}/close`, {
      key: accessKey,
      body: await voucherBody(grant.grant_id, 5, 3 * PRICE),
    });
    expect(await settle(GRACE_MS)).toBe(1);
    expect(await countSettledGrantReports(broker.store, now())).toBe(1);
    expect(await countSettledGrantReports(broker.store, now())).toBe(0);
    await untilCalls(4);
    expect(await broker.store.getGrant(grant.grant_id)).toMatchObject({
      reportedSuccesses: 3,
      reportedFailures: 1,
    });
  });

  it("counts no success of a grant nobody paid, from either side, and no failure from the buyer", async () => {
    const grant = (await openGrant({ budget_usd: "1.00" })).json();
    const report = reportOf(grant.grant_id);
    const successes = Array.from({ length: 50 }, (_, i) => report(i + 1, "success", 1));
    expect(await send(accessKey, successes)).toEqual({ accepted: 0, pending: 50, ignored: 0 });
    expect(await send(seller.apiKey, successes)).toEqual({ accepted: 0, pending: 50, ignored: 0 });
    const failures = Array.from({ length: 50 }, (_, i) => report(100 + i, "failure", 60_000));
    expect(await send(accessKey, failures)).toEqual({ accepted: 0, pending: 0, ignored: 50 });
    await broker.call("POST", `/grants/${grant.grant_id}/close`, { key: accessKey, body: {} });
    await settle(GRACE_MS);
    expect(await countSettledGrantReports(broker.store, now())).toBe(0);
    expect(await broker.store.getGrant(grant.grant_id)).toMatchObject({
      reportedSuccesses: 0,
      reportedFailures: 0,
    });
    expect((await figures()).total_calls).toBe(0);
  });

  it("takes a full batch of 1,000 reports in one request", async () => {
    const grant = (await openGrant({ budget_usd: "5.00" })).json();
    const reports = Array.from({ length: 1000 }, (_, i) => ({
      agent_id: agentId,
      grant_id: grant.grant_id,
      sequence: 1_000_000 + i,
      ...(i % 2 === 0 ? { success: false } : { outcome: "client_error" }),
      response_time_ms: 3_599_999,
      at: now(),
    }));
    const answer = await broker.call("POST", "/usage/reports", { key: seller.apiKey, body: { reports } });
    expect(answer.statusCode).toBe(200);
    // budget / price = 250 failures and 250 client errors.
    expect(answer.json()).toEqual({ accepted: 500, pending: 0, ignored: 500 });
    expect(await broker.store.getGrant(grant.grant_id)).toMatchObject({
      reportedFailures: 250,
      reportedClientErrors: 250,
    });
  });

  it("refuses a report whose outcome and success disagree, and changes nothing", async () => {
    const grant = (await openGrant()).json();
    const answer = await broker.call("POST", "/usage/reports", {
      key: seller.apiKey,
      body: { reports: [{ ...reportOf(grant.grant_id)(1, "client_error"), success: true }] },
    });
    expect(answer.statusCode).toBe(400);
    expect(answer.json().error.code).toBe("VALIDATION_ERROR");
    expect(await broker.store.getGrant(grant.grant_id)).toMatchObject({ reportedClientErrors: 0 });
  });

  it("stops counting a grant's reports a day after it settled", async () => {
    const grant = (await openGrant()).json();
    await broker.call("POST", `/grants/${grant.grant_id}/close`, { key: accessKey, body: {} });
    await settle(GRACE_MS);
    const report = reportOf(grant.grant_id);
    expect(await send(seller.apiKey, [report(1, "failure")])).toEqual({
      accepted: 1,
      pending: 0,
      ignored: 0,
    });
    broker.clock.advance(24 * 60 * 60_000);
    expect(await send(seller.apiKey, [report(2, "failure")])).toEqual({
      accepted: 0,
      pending: 0,
      ignored: 1,
    });
  });

  it("does not count calls between accounts of one owner", async () => {
    const own = await broker.call("POST", "/grants", {
      key: seller.apiKey,
      body: { agent_id: agentId, budget_usd: "0.10", buyer_public_key: buyerKey.publicKey },
    });
    expect(own.statusCode).toBe(402); // the seller has no funds: nothing held
    await broker.store.credit({
      id: "topup:own",
      accountId: seller.accountId,
      amount: 1_000_000,
      reference: "t",
      at: now(),
    });
    const grant = (
      await broker.call("POST", "/grants", {
        key: seller.apiKey,
        body: { agent_id: agentId, budget_usd: "0.10", buyer_public_key: buyerKey.publicKey },
      })
    ).json();
    const answer = await broker.call("POST", "/usage/reports", {
      key: seller.apiKey,
      body: {
        reports: [
          {
            agent_id: agentId,
            grant_id: grant.grant_id,
            sequence: 1,
            success: true,
            response_time_ms: 1,
            at: now(),
          },
        ],
      },
    });
    expect(answer.json()).toEqual({ accepted: 0, pending: 0, ignored: 1 });
  });
});

describe("access keys", () => {
  it("act only on their own agent's grants: another agent's grant of the same account is not found, and stays as it is", async () => {
    const otherAgent = await broker.register(seller.apiKey, { name: "Another agent" });
    const purchase = await broker.call("POST", "/purchase", {
      key: buyer.apiKey,
      body: { agent_id: otherAgent },
    });
    const otherKey = purchase.json().api_key;
    const grant = (await openGrant({ agent_id: otherAgent }, otherKey)).json();
    expect(grant.status).toBe("open");
    const read = await broker.call("GET", `/grants/${grant.grant_id}`, { key: accessKey });
    expect(read.statusCode).toBe(404);
    expect(read.json().error).toMatchObject({ code: "NOT_FOUND", message: `No grant ${grant.grant_id}` });
    const close = await broker.call("POST", `/grants/${grant.grant_id}/close`, {
      key: accessKey,
      body: await voucherBody(grant.grant_id, 2, PRICE),
    });
    expect(close.statusCode).toBe(404);
    const reported = await broker.call("POST", "/usage/reports", {
      key: accessKey,
      body: {
        reports: [
          {
            agent_id: otherAgent,
            grant_id: grant.grant_id,
            sequence: 1,
            success: true,
            response_time_ms: 1,
            at: now(),
          },
        ],
      },
    });
    expect(reported.json()).toEqual({ accepted: 0, pending: 0, ignored: 1 });
    // Nothing changed: the grant's own key and the account key still see it open, unpaid, unreported.
    for (const key of [otherKey, buyer.apiKey]) {
      const seen = await broker.call("GET", `/grants/${grant.grant_id}`, { key });
      expect(seen.statusCode).toBe(200);
      expect(seen.json()).toMatchObject({ status: "open", redeemed_usd: "0.000000" });
    }
    expect(await broker.store.getGrant(grant.grant_id)).toMatchObject({
      closedAt: null,
      reportedSuccesses: 0,
    });
    // The account key acts on every grant of the account, the grant's own access key on its agent's.
    expect(
      (await broker.call("POST", `/grants/${grant.grant_id}/close`, { key: otherKey, body: {} })).statusCode,
    ).toBe(200);
    const second = (await openGrant()).json();
    expect(
      (await broker.call("POST", `/grants/${second.grant_id}/close`, { key: buyer.apiKey, body: {} })).json()
        .status,
    ).toBe("closed");
  });
});
