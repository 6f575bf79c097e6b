import { afterEach, describe, expect, it } from "vitest";
import { createDevProvider } from "../../src/payments/dev-provider.js";
import type { PaymentProvider } from "../../src/payments/provider.js";
import { createStripeProvider } from "../../src/payments/stripe-provider.js";
import { FAKE_WEBHOOK_SECRET, type FakeStripe, startFakeStripe } from "../support/fake-stripe.js";
import { createTestBroker, type TestBroker } from "../support/harness.js";

const ADMIN = "admin-token-for-tests-only";
const CONNECTED = "acct_1SellerConnected";
let broker: TestBroker;
let stripe: FakeStripe | undefined;

afterEach(async () => {
  expect((await broker.store.audit()).ok).toBe(true);
  expect(stripe?.unhandled ?? []).toEqual([]);
  await broker.close();
  await stripe?.close();
  stripe = undefined;
});

async function withStripe(wrap: (provider: PaymentProvider) => PaymentProvider = (p) => p) {
  stripe = await startFakeStripe();
  const provider = createStripeProvider({
    stripe: stripe.client,
    webhookSecret: FAKE_WEBHOOK_SECRET,
    publicUrl: () => "http://127.0.0.1:4020",
  });
  broker = await createTestBroker({ adminToken: ADMIN, payments: wrap(provider) });
  return stripe;
}

const now = () => broker.clock.now().toISOString();
const nextDay = () => broker.clock.advance(24 * 60 * 60 * 1000);
const transfersPosted = () =>
  stripe?.requests.filter((r) => r.method === "POST" && r.path === "/v1/transfers") ?? [];

/** A buyer who tops up and a seller who earns `captured − 10%` from one charge per amount. */
async function sellerEarning(...captures: number[]) {
  const buyer = await broker.signUp("Buyer");
  const seller = await broker.signUp("Seller");
  const agentId = await broker.register(seller.apiKey);
  await broker.store.credit({
    id: `seed:${buyer.accountId}`,
    accountId: buyer.accountId,
    amount: 100_000_000,
    reference: "test",
    at: now(),
  });
  for (const [i, amount] of captures.entries()) {
    const id = `txn_${seller.accountId}_${i}`;
    const expiresAt = new Date(broker.clock.now().getTime() + 60_000).toISOString();
    await broker.store.hold({
      id,
      buyerId: buyer.accountId,
      sellerAccountId: seller.accountId,
      agentId,
      amount,
      expiresAt,
      at: now(),
    });
    await broker.store.capture({ id: `${id}:capture`, holdId: id, amount, at: now() });
  }
  return seller;
}

const run = (query = "") => broker.call("POST", `/admin/settlements/run${query}`, { key: ADMIN });
const settlementsOf = async (apiKey: string) =>
  (await broker.call("GET", "/settlements", { key: apiKey })).json().data as Array<Record<string, unknown>>;

describe("settlements through Stripe Connect", () => {
  it("moves a seller's earnings into a settlement and transfers them in cents, keyed by the settlement id", async () => {
    await withStripe();
    const seller = await sellerEarning(1_000_000, 500_000);
    const payout = await broker.call("PUT", "/accounts/me/payout", {
      key: seller.apiKey,
      body: { stripe_account_id: CONNECTED },
    });
    expect(payout.json()).toEqual({
      account_id: seller.accountId,
      stripe_account_id: CONNECTED,
      updated_at: now(),
    });

    const response = await run();
    expect(response.statusCode).toBe(200);
    const result = response.json();
    expect(result).toMatchObject({ settlement_date: "2026-03-01", created: 1, paid: 1, failed: 0 });
    const [settlement] = result.settlements;
    expect(settlement).toMatchObject({
      account_id: seller.accountId,
      settlement_date: "2026-03-01",
      amount_usd: "1.350000",
      currency: "USD",
      status: "paid",
      provider: "stripe",
      failure: null,
      paid_at: now(),
    });
    expect(settlement.settlement_id).toMatch(/^stl_[a-z0-9]{20}$/);

    const posted = transfersPosted();
    expect(posted).toHaveLength(1);
    expect(posted[0]?.headers["idempotency-key"]).toBe(settlement.settlement_id);
    expect(posted[0]?.form).toMatchObject({
      amount: "135",
      currency: "usd",
      destination: CONNECTED,
      transfer_group: settlement.settlement_id,
      "metadata[settlement_id]": settlement.settlement_id,
      "metadata[account_id]": seller.accountId,
    });
    expect(settlement.provider_ref).toBe(stripe?.transfers[0]?.id);

    expect(await settlementsOf(seller.apiKey)).toEqual([settlement]);
    const balance = await broker.store.getBalance(seller.accountId, now());
    expect(balance.earnings).toBe(0);
    expect((await broker.store.audit()).totals.paidOut).toBe(1_350_000);
  });

  it("settles once per seller per date, and a second run the same day pays nothing twice", async () => {
    await withStripe();
    const seller = await sellerEarning(1_000_000);
    await broker.call("PUT", "/accounts/me/payout", {
      key: seller.apiKey,
      body: { stripe_account_id: CONNECTED },
    });
    expect((await run()).json()).toMatchObject({ created: 1, paid: 1 });
    expect((await run()).json()).toMatchObject({ created: 0, paid: 0, failed: 0, settlements: [] });
    expect(transfersPosted()).toHaveLength(1);
    expect(await settlementsOf(seller.apiKey)).toHaveLength(1);
  });

  it("without a connected account, fails with a note the seller can act on, then pays on the next run", async () => {
    await withStripe();
    const seller = await sellerEarning(2_000_000);
    const first = (await run()).json();
    expect(first).toMatchObject({ created: 1, paid: 0, failed: 1 });
    expect(first.settlements[0]).toMatchObject({ status: "failed", provider_ref: null, paid_at: null });
    expect(first.settlements[0].failure).toMatch(/PUT \/accounts\/me\/payout/);
    expect(transfersPosted()).toHaveLength(0);
    expect((await settlementsOf(seller.apiKey))[0]).toMatchObject({ status: "failed" });

    await broker.call("PUT", "/accounts/me/payout", {
      key: seller.apiKey,
      body: { stripe_account_id: CONNECTED },
    });
    nextDay();
    const second = (await run()).json();
    expect(second).toMatchObject({ settlement_date: "2026-03-02", created: 0, paid: 1, failed: 0 });
    expect(second.settlements[0]).toMatchObject({
      settlement_id: first.settlements[0].settlement_id,
      settlement_date: "2026-03-01",
      status: "paid",
      failure: null,
    });
    expect(transfersPosted().map((r) => r.form.amount)).toEqual(["180"]);
  });

  it("retries a transfer Stripe refused once Stripe has dropped its idempotency key, and pays it once", async () => {
    const fake = await withStripe();
    const seller = await sellerEarning(1_000_000);
    await broker.call("PUT", "/accounts/me/payout", {
      key: seller.apiKey,
      body: { stripe_account_id: CONNECTED },
    });
    fake.failNext("/v1/transfers", {
      status: 400,
      type: "invalid_request_error",
      message: "Insufficient funds in Stripe account.",
      code: "balance_insufficient",
    });
    const first = (await run()).json();
    expect(first.settlements[0].status).toBe("failed");
    expect(first.settlements[0].failure).toBe(
      "Stripe refused the transfer (StripeInvalidRequestError): Insufficient funds in Stripe account.",
    );
    // Within the key's life Stripe answers the saved failure again: still failed, nothing paid.
    const sameDay = (await run()).json();
    expect(sameDay).toMatchObject({ created: 0, paid: 0, failed: 1 });
    expect(sameDay.settlements[0].failure).toBe(first.settlements[0].failure);
    fake.expireIdempotencyKeys();
    nextDay();
    const second = (await run()).json();
    expect(second).toMatchObject({ created: 0, paid: 1 });
    expect(fake.transfers).toHaveLength(1);
  });

  it("finds a transfer Stripe made whose answer was lost, and never makes a second", async () => {
    let loseAnswer = true;
    const fake = await withStripe((provider) => ({
      ...provider,
      async payout(request) {
        const result = await provider.payout(request);
        if (!loseAnswer) return result;
        loseAnswer = false;
        return { status: "failed", failure: "connection reset" };
      },
    }));
    const seller = await sellerEarning(1_000_000);
    await broker.call("PUT", "/accounts/me/payout", {
      key: seller.apiKey,
      body: { stripe_account_id: CONNECTED },
    });
    expect((await run()).json().settlements[0].status).toBe("failed");
    expect(fake.transfers).toHaveLength(1);

    nextDay();
    nextDay();
    const retried = (await run()).json();
    expect(retried.settlements[0]).toMatchObject({ status: "paid", provider_ref: fake.transfers[0]?.id });
    expect(fake.transfers).toHaveLength(1);
    expect(transfersPosted()).toHaveLength(1);
  });

  it("pays whole cents and keeps the sub-cent remainder in earnings for a later run", async () => {
    await withStripe();
    const seller = await sellerEarning(20_000, 20_000);
    await broker.call("PUT", "/accounts/me/payout", {
      key: seller.apiKey,
      body: { stripe_account_id: CONNECTED },
    });
    const result = (await run()).json();
    expect(result.settlements[0]).toMatchObject({ amount_usd: "0.030000", status: "paid" });
    expect(transfersPosted()).toHaveLength(1);
    expect(transfersPosted()[0]?.form).toMatchObject({ amount: "3", currency: "usd" });
    const balance = (await broker.call("GET", "/balance", { key: seller.apiKey })).json();
    expect(balance.earnings_usd).toBe("0.006000");
  });
});

describe("settlements without Stripe", () => {
  it("are recorded by the manual provider when the broker has no payment provider", async () => {
    broker = await createTestBroker({ adminToken: ADMIN });
    const seller = await sellerEarning(1_000_000);
    const result = (await run()).json();
    expect(result.settlements).toEqual([
      expect.objectContaining({
        status: "paid",
        provider: "manual",
        provider_ref: null,
        amount_usd: "0.900000",
      }),
    ]);
    expect(await settlementsOf(seller.apiKey)).toHaveLength(1);
  });

  it("are recorded by the dev provider in dev mode", async () => {
    broker = await createTestBroker({ adminToken: ADMIN, dev: true, payments: createDevProvider() });
    await sellerEarning(1_000_000);
    const [settlement] = (await run()).json().settlements;
    expect(settlement).toMatchObject({ status: "paid", provider: "dev" });
    expect(settlement.provider_ref).toBe(`dev:${settlement.settlement_id}`);
  });

  it("are the seller's own: another account sees none", async () => {
    broker = await createTestBroker({ adminToken: ADMIN });
    await sellerEarning(1_000_000);
    await run();
    const other = await broker.signUp("Other");
    expect(await settlementsOf(other.apiKey)).toEqual([]);
    expect((await broker.call("GET", "/settlements")).statusCode).toBe(401);
  });
});

describe("POST /admin/settlements/run", () => {
  it("needs the admin token, and is off without one", async () => {
    broker = await createTestBroker({ adminToken: ADMIN });
    const seller = await broker.signUp();
    expect((await broker.call("POST", "/admin/settlements/run")).statusCode).toBe(401);
    expect((await broker.call("POST", "/admin/settlements/run", { key: seller.apiKey })).statusCode).toBe(
      401,
    );
    await broker.close();
    broker = await createTestBroker();
    const off = await broker.call("POST", "/admin/settlements/run", { key: ADMIN });
    expect(off.statusCode).toBe(403);
  });

  it("takes a past date, and refuses a malformed or future one", async () => {
    broker = await createTestBroker({ adminToken: ADMIN });
    await sellerEarning(1_000_000);
    for (const query of [
      "?date=2026-13-01",
      "?date=2026-02-30",
      "?date=yesterday",
      "?date=2026-03-02",
      "?when=now",
    ]) {
      const response = await run(query);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.code, query).toBe("VALIDATION_ERROR");
    }
    expect((await broker.store.audit()).totals.paidOut).toBe(0);
    const past = (await run("?date=2026-02-27")).json();
    expect(past).toMatchObject({ settlement_date: "2026-02-27", created: 1, paid: 1 });
  });
});

describe("the payout account", () => {
  it("is set, shown and removed by its account only, with a valid Stripe account id", async () => {
    broker = await createTestBroker();
    const seller = await broker.signUp();
    expect((await broker.call("GET", "/accounts/me/payout", { key: seller.apiKey })).json()).toEqual({
      account_id: seller.accountId,
      stripe_account_id: null,
      updated_at: null,
    });
    for (const bad of ["acct_", "cus_123456789", "acct_12345;drop", 42, ""]) {
      const response = await broker.call("PUT", "/accounts/me/payout", {
        key: seller.apiKey,
        body: { stripe_account_id: bad },
      });
      expect(response.statusCode, String(bad)).toBe(400);
    }
    await broker.call("PUT", "/accounts/me/payout", {
      key: seller.apiKey,
      body: { stripe_account_id: CONNECTED },
    });
    broker.clock.advance(1000);
    const changed = await broker.call("PUT", "/accounts/me/payout", {
      key: seller.apiKey,
      body: { stripe_account_id: "acct_1OtherConnected" },
    });
    expect(changed.json()).toEqual({
      account_id: seller.accountId,
      stripe_account_id: "acct_1OtherConnected",
      updated_at: now(),
    });
    const other = await broker.signUp("Other");
    expect(
      (await broker.call("GET", "/accounts/me/payout", { key: other.apiKey })).json().stripe_account_id,
    ).toBeNull();
    const removed = await broker.call("PUT", "/accounts/me/payout", {
      key: seller.apiKey,
      body: { stripe_account_id: null },
    });
    expect(removed.json()).toEqual({
      account_id: seller.accountId,
      stripe_account_id: null,
      updated_at: null,
    });
    expect(
      (await broker.call("PUT", "/accounts/me/payout", { body: { stripe_account_id: null } })).statusCode,
    ).toBe(401);
  });
});
