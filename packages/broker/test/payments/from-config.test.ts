import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Stripe from "stripe";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/app/config.js";
import { startBroker } from "../../src/app/start.js";
import { paymentProviderFromConfig } from "../../src/payments/from-config.js";
import { createStripeProvider } from "../../src/payments/stripe-provider.js";
import { FAKE_WEBHOOK_SECRET, startFakeStripe } from "../support/fake-stripe.js";

const dir = mkdtempSync(join(tmpdir(), "mercato-payments-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ADMIN = "admin-token-for-tests-only";
const stripeEnv = { STRIPE_SECRET_KEY: "sk_test_51AbCdEf", STRIPE_WEBHOOK_SECRET: "whsec_abcdef" };

describe("paymentProviderFromConfig", () => {
  it("picks Stripe when its keys are set, the dev provider in dev mode, none otherwise", () => {
    const url = () => "http://127.0.0.1:4020";
    expect(paymentProviderFromConfig(parseConfig([], stripeEnv), url)?.name).toBe("stripe");
    expect(paymentProviderFromConfig(parseConfig(["--dev"], stripeEnv), url)?.name).toBe("stripe");
    expect(paymentProviderFromConfig(parseConfig(["--dev"], {}), url)?.name).toBe("dev");
    expect(paymentProviderFromConfig(parseConfig([], {}), url)).toBeUndefined();
  });
});

describe("startBroker with payments", () => {
  let files = 0;
  const config = (argv: string[]) =>
    parseConfig(
      [
        "--port",
        "0",
        "--log-level",
        "silent",
        "--admin-token",
        ADMIN,
        "--db",
        join(dir, `b${++files}.db`),
        ...argv,
      ],
      {},
    );
  async function expectAuditOk(url: string) {
    const audit = await fetch(`${url}/admin/audit`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(await audit.json()).toMatchObject({ ok: true, violations: [] });
  }

  async function signUp(url: string) {
    const response = await fetch(`${url}/accounts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Buyer" }),
    });
    return ((await response.json()) as { api_key: string }).api_key;
  }
  const topUp = (url: string, key: string) =>
    fetch(`${url}/topups`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ amount_usd: "10.00" }),
    });

  it("takes dev top-ups in dev mode, runs its background jobs, and stops them on close", async () => {
    const broker = await startBroker(config(["--dev"]));
    expect(broker.payments).toBe("dev");
    const response = await topUp(broker.url, await signUp(broker.url));
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ status: "succeeded", provider: "dev" });
    await expectAuditOk(broker.url);
    await broker.close();
  });

  it("answers top-ups with 503 when no provider is configured", async () => {
    const broker = await startBroker(config([]), { scheduler: false });
    expect(broker.payments).toBeNull();
    expect((await topUp(broker.url, await signUp(broker.url))).status).toBe(503);
    await expectAuditOk(broker.url);
    await broker.close();
  });

  it("credits a Stripe top-up from a webhook sent over the network as raw bytes", async () => {
    const stripe = await startFakeStripe();
    const payments = createStripeProvider({
      stripe: stripe.client,
      webhookSecret: FAKE_WEBHOOK_SECRET,
      publicUrl: () => "https://mercato.example",
    });
    const broker = await startBroker(config([]), { payments, scheduler: false });
    expect(broker.payments).toBe("stripe");
    const key = await signUp(broker.url);
    const topup = (await (await topUp(broker.url, key)).json()) as { topup_id: string; status: string };
    expect(topup.status).toBe("pending");
    const session = [...stripe.sessions.values()][0];
    // Stripe sends pretty-printed JSON: the signature covers those exact bytes, not a re-serialization.
    const pretty = JSON.stringify(JSON.parse(stripe.sessionEvent(String(session?.id)).payload), null, 2);
    const signature = Stripe.webhooks.generateTestHeaderString({
      payload: pretty,
      secret: FAKE_WEBHOOK_SECRET,
    });
    const delivered = await fetch(`${broker.url}/webhooks/stripe`, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": signature },
      body: pretty,
    });
    expect(delivered.status).toBe(200);
    expect(await delivered.json()).toEqual({ received: true, outcome: "credited" });
    const fetched = await fetch(`${broker.url}/topups/${topup.topup_id}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(await fetched.json()).toMatchObject({ status: "succeeded" });
    await expectAuditOk(broker.url);
    await broker.close();
    await stripe.close();
  });
});
