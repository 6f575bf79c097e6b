import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createBroker } from "../../src/app/create-broker.js";
import { createPostgresStore } from "../../src/app/postgres-store.js";
import { createSqliteStore } from "../../src/app/sqlite-store.js";
import type { Store } from "../../src/app/store.js";
import { createStripeProvider } from "../../src/payments/stripe-provider.js";
import { createManualClock } from "../../src/platform/clock.js";
import { FAKE_WEBHOOK_SECRET, type FakeStripe, startFakeStripe } from "../support/fake-stripe.js";
import { publicResolver } from "../support/harness.js";
import { createTestSchema } from "../support/postgres.js";

/*
 * Deliveries of one paid Checkout event, sent at once to every broker of a deployment: the wallet
 * is credited once, and only the delivery that credited it says so (answer and log).
 */

interface Deployment {
  /** The brokers' stores, one per broker (several on one database for PostgreSQL). */
  stores: Store[];
  close(): Promise<void>;
}

const engines: Array<[string, () => Promise<Deployment>]> = [
  [
    "SQLite (one broker)",
    async () => {
      const store = createSqliteStore({ path: ":memory:" });
      return { stores: [store], close: () => store.close() };
    },
  ],
  [
    "PostgreSQL (two brokers)",
    async () => {
      const target = createTestSchema();
      const first = await createPostgresStore({ url: target.url, schema: target.schema, poolSize: 8 });
      const second = await createPostgresStore({ url: target.url, schema: target.schema, poolSize: 8 });
      return {
        stores: [first, second],
        async close() {
          await first.close();
          await second.close();
          await target.drop();
        },
      };
    },
  ],
];

describe.each(engines)("Stripe webhooks on %s", (_engine, deploy) => {
  let stripe: FakeStripe;
  let deployment: Deployment;
  let apps: FastifyInstance[];
  let logs: Array<{ msg: string; topupId?: string }>;
  const clock = createManualClock(new Date("2026-03-01T12:00:00.000Z"));

  beforeEach(async () => {
    stripe = await startFakeStripe();
    deployment = await deploy();
    logs = [];
    const logger = pino({ level: "info" }, { write: (line: string) => logs.push(JSON.parse(line)) });
    apps = deployment.stores.map((store) =>
      createBroker({
        store,
        clock,
        logger,
        resolveHost: publicResolver,
        payments: createStripeProvider({
          stripe: stripe.client,
          webhookSecret: FAKE_WEBHOOK_SECRET,
          publicUrl: () => "https://mercato.example/",
        }),
        validateResponses: true,
      }),
    );
    await Promise.all(apps.map((app) => app.ready()));
  });

  afterEach(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await deployment.close();
    await stripe.close();
  });

  it("answers and logs credited for the one delivery that credited, already_credited for the others", async () => {
    const [app] = apps as [FastifyInstance];
    const signUp = await app.inject({ method: "POST", url: "/accounts", payload: { name: "Buyer" } });
    const buyer = signUp.json() as { account_id: string; api_key: string };
    const created = await app.inject({
      method: "POST",
      url: "/topups",
      headers: { authorization: `Bearer ${buyer.api_key}` },
      payload: { amount_usd: "10" },
    });
    expect(created.statusCode, created.body).toBe(201);
    const topupId = (created.json() as { topup_id: string }).topup_id;
    const sessionId = [...stripe.sessions.values()].find((s) => s.client_reference_id === topupId)?.id;
    const event = stripe.sessionEvent(String(sessionId), {
      timestamp: Math.floor(clock.now().getTime() / 1000),
    });

    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        (apps[n % apps.length] as FastifyInstance).inject({
          method: "POST",
          url: "/webhooks/stripe",
          headers: { "content-type": "application/json", "stripe-signature": event.signature },
          payload: event.payload,
        }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    const outcomes = responses.map((r) => (r.json() as { outcome: string }).outcome);
    expect(outcomes.filter((o) => o === "credited")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "already_credited")).toHaveLength(19);
    expect(logs.filter((l) => l.msg === "top-up credited" && l.topupId === topupId)).toHaveLength(1);

    const store = deployment.stores[0] as Store;
    expect((await store.getBalance(buyer.account_id, clock.now().toISOString())).available).toBe(10_000_000);
    const audit = await store.audit();
    expect(audit.violations).toEqual([]);
    expect(audit.ok).toBe(true);
    expect(audit.totals.toppedUp).toBe(10_000_000);
  });
});
