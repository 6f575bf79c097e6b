import { verifyReceipt } from "@mercato/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestBroker, type TestBroker } from "../support/harness.js";

const ADMIN = "admin-token-for-tests-only";
let broker: TestBroker;
let buyer: { accountId: string; apiKey: string };
let seller: { accountId: string; apiKey: string };
let agentId: string;

beforeEach(async () => {
  broker = await createTestBroker({ adminToken: ADMIN });
  buyer = await broker.signUp("Buyer");
  seller = await broker.signUp("Seller");
  agentId = await broker.register(seller.apiKey);
});
afterEach(async () => {
  const audit = await broker.call("GET", "/admin/audit", { key: ADMIN });
  expect(audit.json()).toMatchObject({ ok: true, violations: [] });
  await broker.close();
});

const now = () => broker.clock.now().toISOString();
const inMinutes = (minutes: number) =>
  new Date(broker.clock.now().getTime() + minutes * 60_000).toISOString();
const topUp = (micros: number, id = `topup:test-${micros}`) =>
  broker.store.credit({ id, accountId: buyer.accountId, amount: micros, reference: "test", at: now() });
const charge = async (id: string, held: number, captured: number | null) => {
  await broker.store.hold({
    id,
    buyerId: buyer.accountId,
    sellerAccountId: seller.accountId,
    agentId,
    amount: held,
    expiresAt: inMinutes(1),
    at: now(),
  });
  if (captured !== null)
    await broker.store.capture({ id: `${id}:capture`, holdId: id, amount: captured, at: now() });
};

describe("balance and transactions", () => {
  it("shows available, held and earnings exactly, as decimal strings", async () => {
    expect((await broker.call("GET", "/balance", { key: buyer.apiKey })).json()).toMatchObject({
      available_usd: "0.000000",
      held_usd: "0.000000",
      earnings_usd: "0.000000",
      currency: "USD",
      monthly_cap_usd: null,
    });
    await topUp(10_000_000);
    await charge("txn_done", 20_000, 20_000);
    await charge("txn_running", 20_000, null);

    expect((await broker.call("GET", "/balance", { key: buyer.apiKey })).json()).toMatchObject({
      available_usd: "9.960000",
      held_usd: "0.020000",
      spent_this_month_usd: "0.020000",
    });
    expect((await broker.call("GET", "/balance", { key: seller.apiKey })).json()).toMatchObject({
      available_usd: "0.000000",
      earnings_usd: "0.018000",
    });
  });

  it("lists charges newest first to buyer and seller, in the Transaction shape with fee and share", async () => {
    await topUp(10_000_000);
    await charge("txn_first", 20_000, 15_000);
    broker.clock.advance(1000);
    await charge("txn_second", 20_000, null);

    const list = (await broker.call("GET", "/transactions", { key: buyer.apiKey })).json();
    expect(list.data.map((t: { id: string }) => t.id)).toEqual(["txn_second", "txn_first"]);
    const first = (await broker.call("GET", "/transactions/txn_first", { key: seller.apiKey })).json();
    expect(first).toMatchObject({
      id: "txn_first",
      buyer_id: buyer.accountId,
      seller_id: agentId,
      seller_account_id: seller.accountId,
      amount: 0.015,
      currency: "USD",
      status: "completed",
      held_usd: "0.020000",
      amount_usd: "0.015000",
      fee_usd: "0.001500",
      seller_share_usd: "0.013500",
    });
    const paged = (
      await broker.call("GET", "/transactions?limit=1&role=seller", { key: seller.apiKey })
    ).json();
    expect(paged.data).toHaveLength(1);
    const next = (
      await broker.call("GET", `/transactions?limit=1&role=seller&cursor=${paged.next_cursor}`, {
        key: seller.apiKey,
      })
    ).json();
    expect(next.data[0].id).toBe("txn_first");
    expect(next.next_cursor).toBeNull();
    expect(
      (await broker.call("GET", "/transactions?role=seller", { key: buyer.apiKey })).json().data,
    ).toEqual([]);
  });

  it("hides other accounts' charges", async () => {
    await topUp(10_000_000);
    await charge("txn_private", 20_000, 20_000);
    const stranger = await broker.signUp("Stranger");
    const response = await broker.call("GET", "/transactions/txn_private", { key: stranger.apiKey });
    expect(response.statusCode).toBe(404);
    expect(
      (await broker.call("GET", "/transactions/txn_private/receipt", { key: stranger.apiKey })).statusCode,
    ).toBe(404);
  });
});

describe("receipts", () => {
  it("signs captured charges; the receipt verifies offline against the published keys", async () => {
    await topUp(10_000_000);
    await charge("txn_receipt", 20_000, 20_000);
    const response = await broker.call("GET", "/transactions/txn_receipt/receipt", { key: buyer.apiKey });
    expect(response.statusCode).toBe(200);
    const receipt = response.json();
    const jwks = (await broker.call("GET", "/.well-known/jwks.json")).json();
    expect(jwks.keys).toHaveLength(1);
    const payload = await verifyReceipt(receipt, jwks);
    expect(payload).toMatchObject({
      transaction_id: "txn_receipt",
      buyer_id: buyer.accountId,
      seller_id: agentId,
      amount_usd: "0.020000",
      fee_usd: "0.002000",
      seller_share_usd: "0.018000",
      captured_at: now(),
    });

    const forged = { ...receipt, payload: { ...receipt.payload, amount_usd: "0.010000" } };
    await expect(verifyReceipt(forged, jwks)).rejects.toThrow(/payload other than the one signed/);
    const [header, body, signature] = receipt.jws.split(".");
    const flipped = `${header}.${body}.${signature.startsWith("A") ? `B${signature.slice(1)}` : `A${signature.slice(1)}`}`;
    await expect(verifyReceipt(flipped, jwks)).rejects.toThrow(/does not verify/);
    await expect(verifyReceipt(receipt, { keys: [] })).rejects.toThrow(/unknown key/);

    const again = (
      await broker.call("GET", "/transactions/txn_receipt/receipt", { key: seller.apiKey })
    ).json();
    expect(again.jws).toBe(receipt.jws);
  });

  it("has no receipt for a charge that was not captured", async () => {
    await topUp(10_000_000);
    await charge("txn_pending", 20_000, null);
    const response = await broker.call("GET", "/transactions/txn_pending/receipt", { key: buyer.apiKey });
    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe("CONFLICT");
  });
});

describe("spend caps", () => {
  it("sets, shows and enforces a monthly cap counting holds in flight", async () => {
    await topUp(10_000_000);
    const set = await broker.call("PUT", "/accounts/me/limits", {
      key: buyer.apiKey,
      body: { monthly_cap_usd: "0.05" },
    });
    expect(set.json()).toEqual({ account_id: buyer.accountId, monthly_cap_usd: "0.050000" });
    await charge("txn_a", 20_000, 20_000);
    await charge("txn_b", 20_000, null);
    const refused = await charge("txn_c", 20_000, null).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: "SPEND_CAP_EXCEEDED" });
    expect((await broker.call("GET", "/balance", { key: buyer.apiKey })).json()).toMatchObject({
      monthly_cap_usd: "0.050000",
      spent_this_month_usd: "0.020000",
      held_usd: "0.020000",
      available_usd: "9.960000",
    });
    await broker.call("PUT", "/accounts/me/limits", { key: buyer.apiKey, body: { monthly_cap_usd: null } });
    await charge("txn_c", 20_000, null);
  });

  it("refuses a malformed cap and changes nothing", async () => {
    for (const cap of [-1, "0.0000001", "lots", 0.1 + 0.2]) {
      const response = await broker.call("PUT", "/accounts/me/limits", {
        key: buyer.apiKey,
        body: { monthly_cap_usd: cap },
      });
      expect(response.statusCode, String(cap)).toBe(400);
    }
    expect((await broker.call("GET", "/balance", { key: buyer.apiKey })).json().monthly_cap_usd).toBeNull();
  });
});

describe("admin audit", () => {
  it("needs the admin token, and reports totals", async () => {
    await topUp(10_000_000);
    await charge("txn_x", 20_000, 20_000);
    expect((await broker.call("GET", "/admin/audit")).statusCode).toBe(401);
    expect((await broker.call("GET", "/admin/audit", { key: "wrong-token-wrong-token" })).statusCode).toBe(
      401,
    );
    expect((await broker.call("GET", "/admin/audit", { key: buyer.apiKey })).statusCode).toBe(401);
    const audit = (await broker.call("GET", "/admin/audit", { key: ADMIN })).json();
    expect(audit).toMatchObject({
      ok: true,
      totals: {
        topped_up_usd: "10.000000",
        paid_out_usd: "0.000000",
        wallets_usd: "9.980000",
        held_usd: "0.000000",
        earnings_usd: "0.018000",
        revenue_usd: "0.002000",
      },
      violations: [],
    });
  });

  it("is off without an admin token", async () => {
    const plain = await createTestBroker();
    const response = await plain.call("GET", "/admin/audit", { key: ADMIN });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe("FORBIDDEN");
    await plain.close();
  });
});
