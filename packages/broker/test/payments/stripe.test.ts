import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createStripeProvider } from "../../src/payments/stripe-provider.js";
import { FAKE_WEBHOOK_SECRET, type FakeStripe, startFakeStripe } from "../support/fake-stripe.js";
import { createTestBroker, type TestBroker } from "../support/harness.js";

let stripe: FakeStripe;
let broker: TestBroker;
let buyer: { accountId: string; apiKey: string };
let logs: Array<{ level: number; msg: string; [key: string]: unknown }>;

beforeEach(async () => {
  stripe = await startFakeStripe();
  logs = [];
  const logger = pino({ level: "info" }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const payments = createStripeProvider({
    stripe: stripe.client,
    webhookSecret: FAKE_WEBHOOK_SECRET,
    publicUrl: () => "https://mercato.example/",
  });
  broker = await createTestBroker({ payments, logger });
  buyer = await broker.signUp("Buyer");
});

afterEach(async () => {
  expect((await broker.store.audit()).ok).toBe(true);
  expect(stripe.unhandled).toEqual([]);
  await broker.close();
  await stripe.close();
});

const now = () => broker.clock.now().toISOString();
const available = async () => (await broker.store.getBalance(buyer.accountId, now())).available;
/** Signatures are dated by the broker's clock, as Stripe's would be by the real one. */
const signedNow = () => Math.floor(broker.clock.now().getTime() / 1000);

async function startTopup(amount: string | number = "25.50") {
  const response = await broker.call("POST", "/topups", { key: buyer.apiKey, body: { amount_usd: amount } });
  expect(response.statusCode, response.body).toBe(201);
  const topup = response.json() as { topup_id: string; checkout_url: string };
  const sessionId = [...stripe.sessions.values()].find((s) => s.client_reference_id === topup.topup_id)?.id;
  if (typeof sessionId !== "string") throw new Error("no checkout session for the top-up");
  return { ...topup, sessionId };
}

function deliver(event: { payload: string; signature: string }, headers: Record<string, string> = {}) {
  return broker.app.inject({
    method: "POST",
    url: "/webhooks/stripe",
    headers: { "content-type": "application/json", "stripe-signature": event.signature, ...headers },
    payload: event.payload,
  });
}

describe("top-ups through Stripe Checkout", () => {
  it("creates a Checkout Session in whole cents and answers a pending top-up with its URL", async () => {
    const response = await broker.call("POST", "/topups", {
      key: buyer.apiKey,
      body: { amount_usd: "25.50" },
    });
    expect(response.statusCode).toBe(201);
    const topup = response.json();
    expect(topup).toMatchObject({
      account_id: buyer.accountId,
      amount_usd: "25.500000",
      currency: "USD",
      status: "pending",
      provider: "stripe",
      created_at: now(),
      completed_at: null,
    });
    expect(topup.topup_id).toMatch(/^topup_[a-z0-9]{20}$/);
    expect(topup).not.toHaveProperty("note");

    expect(stripe.requests).toHaveLength(1);
    const [request] = stripe.requests;
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/v1/checkout/sessions");
    expect(request?.headers["idempotency-key"]).toBe(`checkout:${topup.topup_id}`);
    expect(request?.form).toMatchObject({
      mode: "payment",
      client_reference_id: topup.topup_id,
      "metadata[topup_id]": topup.topup_id,
      "metadata[account_id]": buyer.accountId,
      "line_items[0][quantity]": "1",
      "line_items[0][price_data][currency]": "usd",
      "line_items[0][price_data][unit_amount]": "2550",
      success_url: `https://mercato.example/checkout/return?topup_id=${topup.topup_id}&outcome=success`,
      cancel_url: `https://mercato.example/checkout/return?topup_id=${topup.topup_id}&outcome=cancel`,
    });
    const session = [...stripe.sessions.values()][0];
    expect(topup.checkout_url).toBe(session?.url);

    const fetched = await broker.call("GET", `/topups/${topup.topup_id}`, { key: buyer.apiKey });
    expect(fetched.json()).toEqual(topup);
    expect(await available()).toBe(0);
  });

  it("credits the wallet exactly once however often checkout.session.completed is delivered", async () => {
    const topup = await startTopup("25.50");
    const event = stripe.sessionEvent(topup.sessionId, { timestamp: signedNow() });

    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await deliver(event);
      expect(response.statusCode).toBe(200);
      outcomes.push(response.json().outcome);
    }
    expect(outcomes).toEqual([
      "credited",
      "already_credited",
      "already_credited",
      "already_credited",
      "already_credited",
    ]);

    const concurrent = await Promise.all(Array.from({ length: 5 }, () => deliver(event)));
    expect(concurrent.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);

    expect(await available()).toBe(25_500_000);
    const audit = await broker.store.audit();
    expect(audit.totals.toppedUp).toBe(25_500_000);
    const fetched = (await broker.call("GET", `/topups/${topup.topup_id}`, { key: buyer.apiKey })).json();
    expect(fetched).toMatchObject({ status: "succeeded", checkout_url: null, completed_at: now() });
  });

  it("credits exactly once when the first deliveries all arrive at the same time", async () => {
    const topup = await startTopup("10");
    const event = stripe.sessionEvent(topup.sessionId, { timestamp: signedNow() });
    const responses = await Promise.all(Array.from({ length: 5 }, () => deliver(event)));
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
    for (let i = 0; i < 5; i++) expect((await deliver(event)).json().outcome).toBe("already_credited");
    expect(await available()).toBe(10_000_000);
    expect((await broker.store.audit()).totals.toppedUp).toBe(10_000_000);
  });

  it("answers a bad signature with 400 and credits nothing", async () => {
    const topup = await startTopup();
    const good = stripe.sessionEvent(topup.sessionId, { timestamp: signedNow() });
    const cases = {
      "wrong secret": deliver(
        stripe.sessionEvent(topup.sessionId, { secret: "whsec_other", timestamp: signedNow() }),
      ),
      "tampered body": deliver({
        ...good,
        payload: good.payload.replace('"amount_total":2550', '"amount_total":999999'),
      }),
      "no signature": broker.app.inject({
        method: "POST",
        url: "/webhooks/stripe",
        headers: { "content-type": "application/json" },
        payload: good.payload,
      }),
      "garbage signature": deliver({ ...good, signature: "t=1,v1=deadbeef" }),
      "too old": deliver(stripe.sessionEvent(topup.sessionId, { timestamp: signedNow() - 301 })),
      "empty body": deliver({ ...good, payload: "" }),
    };
    for (const [name, pending] of Object.entries(cases)) {
      const response = await pending;
      expect(response.statusCode, name).toBe(400);
      expect(response.json().error.code, name).toBe("VALIDATION_ERROR");
      expect(response.json().error.request_id, name).toBe(response.headers["x-request-id"]);
    }
    expect(await available()).toBe(0);
    const fetched = (await broker.call("GET", `/topups/${topup.topup_id}`, { key: buyer.apiKey })).json();
    expect(fetched.status).toBe("pending");
    // The untouched delivery still credits: a rejected forgery spoils nothing.
    expect((await deliver(good)).json().outcome).toBe("credited");
  });

  it("answers 200 to a paid session of no known top-up, logs it, and credits nothing", async () => {
    const stranger = stripe.sessionEvent("cs_test_not_ours", {
      timestamp: signedNow(),
      session: { amount_total: 5000, currency: "usd", client_reference_id: "topup_unknown" },
    });
    const response = await deliver(stranger);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ received: true, outcome: "unknown_topup" });
    const logged = logs.find((line) => line.msg === "payment event for no known top-up: ignored");
    expect(logged).toMatchObject({ level: 40, provider: "stripe", providerRef: "cs_test_not_ours" });
    expect((await broker.store.audit()).totals.toppedUp).toBe(0);
  });

  it("never credits a session paid for another amount, or one for a top-up that expired", async () => {
    const first = await startTopup("20");
    const wrongAmount = stripe.sessionEvent(first.sessionId, {
      timestamp: signedNow(),
      session: { amount_total: 1000 },
    });
    expect((await deliver(wrongAmount)).json().outcome).toBe("rejected");
    expect(
      logs.some((l) => l.level === 50 && l.msg === "paid amount differs from the top-up: not credited"),
    ).toBe(true);

    const second = await startTopup("30");
    const expired = stripe.sessionEvent(second.sessionId, {
      type: "checkout.session.expired",
      timestamp: signedNow(),
    });
    expect((await deliver(expired)).json().outcome).toBe("marked_failed");
    const fetched = (await broker.call("GET", `/topups/${second.topup_id}`, { key: buyer.apiKey })).json();
    expect(fetched.status).toBe("failed");
    const late = stripe.sessionEvent(second.sessionId, { timestamp: signedNow() });
    expect((await deliver(late)).json().outcome).toBe("rejected");
    expect(await available()).toBe(0);
  });

  it("waits for a delayed payment: a completed but unpaid session credits only once it is paid", async () => {
    const topup = await startTopup("15");
    const unpaid = stripe.sessionEvent(topup.sessionId, {
      timestamp: signedNow(),
      session: { payment_status: "unpaid" },
    });
    expect((await deliver(unpaid)).json().outcome).toBe("ignored");
    expect(await available()).toBe(0);
    const paid = stripe.sessionEvent(topup.sessionId, {
      type: "checkout.session.async_payment_succeeded",
      timestamp: signedNow(),
    });
    expect((await deliver(paid)).json().outcome).toBe("credited");
    expect(await available()).toBe(15_000_000);
  });

  it("acknowledges event types it does not use without acting on them", async () => {
    const topup = await startTopup();
    const other = stripe.sessionEvent(topup.sessionId, {
      type: "payment_intent.created",
      timestamp: signedNow(),
    });
    expect((await deliver(other)).json()).toEqual({ received: true, outcome: "ignored" });
    expect(await available()).toBe(0);
  });

  it("answers 502 and stores nothing when Stripe cannot create the session", async () => {
    stripe.failNext("/v1/checkout/sessions", { status: 500, type: "api_error", message: "Stripe is down" });
    const response = await broker.call("POST", "/topups", { key: buyer.apiKey, body: { amount_usd: "50" } });
    expect(response.statusCode).toBe(502);
    expect(response.json().error.code).toBe("PAYMENT_PROVIDER_ERROR");
    expect(response.json().error.message).not.toContain("Stripe is down");
    expect(stripe.sessions.size).toBe(0);
    // The same request works once Stripe is back.
    expect(
      (await broker.call("POST", "/topups", { key: buyer.apiKey, body: { amount_usd: "50" } })).statusCode,
    ).toBe(201);
  });

  it("reads only the webhook's body raw: other media types, oversize bodies and other providers are refused", async () => {
    const topup = await startTopup();
    const event = stripe.sessionEvent(topup.sessionId, { timestamp: signedNow() });
    expect((await deliver(event, { "content-type": "text/plain" })).statusCode).toBe(415);
    const huge = await deliver({ ...event, payload: `{"pad":"${"x".repeat(300 * 1024)}"}` });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe("PAYLOAD_TOO_LARGE");
    const other = await broker.app.inject({
      method: "POST",
      url: "/webhooks/paypal",
      headers: { "content-type": "application/json", "stripe-signature": event.signature },
      payload: event.payload,
    });
    expect(other.statusCode).toBe(404);
    expect(other.json().error.code).toBe("NOT_FOUND");
    // JSON routes keep the broker's parser and its protections.
    const badJson = await broker.app.inject({
      method: "POST",
      url: "/topups",
      headers: { authorization: `Bearer ${buyer.apiKey}`, "content-type": "application/json" },
      payload: "{not json",
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.code).toBe("INVALID_JSON");
    expect((await deliver(event, { "content-type": "application/json; charset=utf-8" })).json().outcome).toBe(
      "credited",
    );
  });

  it("shows a top-up to its owner only", async () => {
    const topup = await startTopup();
    const stranger = await broker.signUp("Stranger");
    const response = await broker.call("GET", `/topups/${topup.topup_id}`, { key: stranger.apiKey });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe("NOT_FOUND");
    expect((await broker.call("GET", "/topups/topup_nope", { key: buyer.apiKey })).statusCode).toBe(404);
    expect((await broker.call("GET", `/topups/${topup.topup_id}`)).statusCode).toBe(401);
  });

  it("sends the buyer back from Checkout to a static page", async () => {
    const success = await broker.call("GET", "/checkout/return?topup_id=<script>&outcome=success");
    expect(success.statusCode).toBe(200);
    expect(success.headers["content-type"]).toContain("text/html");
    expect(success.headers["content-security-policy"]).toBe("default-src 'none'");
    expect(success.body).toContain("the payment went through");
    expect(success.body).not.toContain("<script>");
    const cancel = await broker.call("GET", "/checkout/return?outcome=cancel");
    expect(cancel.body).toContain("cancelled");
  });
});
