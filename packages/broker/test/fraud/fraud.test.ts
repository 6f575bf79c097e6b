import { afterEach, describe, expect, it } from "vitest";
import type { AlertEvent, AlertNotifier } from "../../src/alerts/types.js";
import { createDevProvider } from "../../src/payments/dev-provider.js";
import type { FraudSettings } from "../../src/platform/settings.js";
import { createTestBroker, type TestBroker } from "../support/harness.js";
import { startTestSeller, type TestSeller } from "../support/test-sellers.js";

let broker: TestBroker;
let seller: TestSeller;

/** An alert notifier that keeps what it is told. */
function recordingAlerts(): AlertNotifier & { events: AlertEvent[] } {
  const events: AlertEvent[] = [];
  return { events, notify: (event) => void events.push(event), drain: async () => {} };
}

async function start(options: { alerts?: AlertNotifier; fraud?: Partial<FraudSettings> } = {}) {
  // The floor these scenarios are written for (the default is higher).
  broker = await createTestBroker({
    dev: true,
    payments: createDevProvider(),
    ...options,
    fraud: { burstFloorPerMinute: 120, ...options.fraud },
  });
  seller = await startTestSeller();
}

afterEach(async () => {
  await broker.close();
  await seller.close();
});

/** A seller, a buyer with `topup` USD and an access key to an agent of `price` USD a call. */
async function setUp(options: { price?: number; topup?: number } = {}) {
  const owner = await broker.signUp("Seller");
  const buyer = await broker.signUp("Buyer");
  const agentId = await broker.register(owner.apiKey, {
    api_endpoint: `${seller.url}/agent`,
    pricing: { model: "per_call", price_per_call: options.price ?? 0.001 },
  });
  const topup = await broker.call("POST", "/topups", {
    key: buyer.apiKey,
    body: { amount_usd: options.topup ?? 10 },
  });
  expect(topup.statusCode).toBe(201);
  return { owner, buyer, agentId, ...(await purchase(buyer.apiKey, agentId)) };
}

async function purchase(apiKey: string, agentId: string) {
  const response = await broker.call("POST", "/purchase", { key: apiKey, body: { agent_id: agentId } });
  expect(response.statusCode, response.body).toBe(201);
  const json = response.json() as { api_key: string; key: { key_id: string } };
  return { accessKey: json.api_key, keyId: json.key.key_id };
}

const invoke = (agentId: string, key: string) =>
  broker.call("POST", `/agents/${agentId}/invoke`, { key, body: { input: { symbol: "BTC" } } });

/** Makes `count` calls spread evenly over one minute; returns their status codes and error codes. */
async function minuteOf(agentId: string, key: string, count: number) {
  const answers: Array<{ status: number; code: string | undefined }> = [];
  for (let i = 0; i < count; i++) {
    const response = await invoke(agentId, key);
    answers.push({
      status: response.statusCode,
      code: response.statusCode === 200 ? undefined : response.json().error.code,
    });
    broker.clock.advance(60_000 / count);
  }
  return answers;
}

async function keyOf(apiKey: string, keyId: string) {
  const keys = (await broker.call("GET", "/keys", { key: apiKey })).json().data as Array<{
    key_id: string;
    suspended_at: string | null;
    suspend_reason: string | null;
  }>;
  return keys.find((key) => key.key_id === keyId);
}

describe("burst suspension", () => {
  it("suspends a key whose calls burst far above its baseline, alerts its owner, and lets it work again once the owner reinstates it", async () => {
    const alerts = recordingAlerts();
    await start({ alerts });
    const { buyer, agentId, accessKey, keyId } = await setUp();

    // An hour at 30 calls a minute: the key's baseline is 30 a minute, its limit 10× that.
    for (let minute = 0; minute < 60; minute++) {
      const answers = await minuteOf(agentId, accessKey, 30);
      expect(answers.every((answer) => answer.status === 200)).toBe(true);
    }
    const burstStart = broker.clock.now().toISOString();
    const burst = await minuteOf(agentId, accessKey, 2_000);

    const firstRefused = burst.findIndex((answer) => answer.status !== 200);
    expect(firstRefused).toBe(300);
    // The call that crossed the line and every one after it: refused, never sent to the seller.
    expect(new Set(burst.slice(firstRefused).map((answer) => `${answer.status} ${answer.code}`))).toEqual(
      new Set(["403 KEY_SUSPENDED"]),
    );
    expect(seller.calls).toHaveLength(60 * 30 + firstRefused);

    const suspendedAt = new Date(Date.parse(burstStart) + firstRefused * 30).toISOString();
    const listed = await keyOf(buyer.apiKey, keyId);
    expect(listed?.suspended_at).toBe(suspendedAt);
    expect(listed?.suspend_reason).toBe(
      "301 calls within a minute, above 120 and 10× the key's usual 30.0 calls per minute",
    );
    expect(alerts.events).toEqual([
      {
        kind: "key_suspended",
        accountId: buyer.accountId,
        keyId,
        agentId,
        at: suspendedAt,
        reason: listed?.suspend_reason,
      },
    ]);
    const refused = (await invoke(agentId, accessKey)).json();
    expect(refused.error).toMatchObject({
      code: "KEY_SUSPENDED",
      details: { key_id: keyId, suspended_at: suspendedAt, reinstate: `POST /keys/${keyId}/reinstate` },
    });
    expect(refused.error.message).toContain(`POST /keys/${keyId}/reinstate`);
    // Account routes keep working: the owner reads the balance and reinstates the key.
    expect((await broker.call("GET", "/balance", { key: buyer.apiKey })).statusCode).toBe(200);

    const reinstated = await broker.call("POST", `/keys/${keyId}/reinstate`, { key: buyer.apiKey });
    expect(reinstated.statusCode, reinstated.body).toBe(200);
    expect(reinstated.json()).toMatchObject({ key_id: keyId, suspended_at: null, suspend_reason: null });
    expect((await keyOf(buyer.apiKey, keyId))?.suspended_at).toBeNull();
    // Judged as a new key from here: the floor alone.
    const after = await minuteOf(agentId, accessKey, 100);
    expect(after.every((answer) => answer.status === 200)).toBe(true);
    expect(alerts.events).toHaveLength(1);

    const audit = await broker.store.audit();
    expect(audit.violations).toEqual([]);
    expect(audit.totals.held).toBe(0);
  });

  it("lets a new key's first burst under the floor through, and suspends one over it", async () => {
    const alerts = recordingAlerts();
    await start({ alerts });
    const { buyer, agentId, accessKey, keyId } = await setUp();
    const small = await minuteOf(agentId, accessKey, 120);
    expect(small.every((answer) => answer.status === 200)).toBe(true);
    expect((await keyOf(buyer.apiKey, keyId))?.suspended_at).toBeNull();

    const other = await purchase(buyer.apiKey, agentId);
    const big = await minuteOf(agentId, other.accessKey, 200);
    expect(big.findIndex((answer) => answer.status !== 200)).toBe(120);
    expect((await keyOf(buyer.apiKey, other.keyId))?.suspended_at).not.toBeNull();
    expect(alerts.events.map((event) => event.kind === "key_suspended" && event.keyId)).toEqual([
      other.keyId,
    ]);
    // The first key was not touched.
    expect((await invoke(agentId, accessKey)).statusCode).toBe(200);
  });

  it("reinstates only the owner's suspended keys", async () => {
    await start();
    const { buyer, agentId, accessKey, keyId } = await setUp();
    const stranger = await broker.signUp("Stranger");
    expect(
      (await broker.call("POST", `/keys/${keyId}/reinstate`, { key: buyer.apiKey })).json().error.code,
    ).toBe("CONFLICT");
    await minuteOf(agentId, accessKey, 121);
    const notYours = await broker.call("POST", `/keys/${keyId}/reinstate`, { key: stranger.apiKey });
    expect(notYours.statusCode).toBe(404);
    const withAccessKey = await broker.call("POST", `/keys/${keyId}/reinstate`, { key: accessKey });
    expect(withAccessKey.statusCode).toBe(403);
    expect((await broker.call("POST", `/keys/${keyId}/reinstate`, { key: buyer.apiKey })).statusCode).toBe(
      200,
    );
    expect((await broker.call("POST", `/keys/${keyId}/reinstate`, { key: buyer.apiKey })).statusCode).toBe(
      409,
    );
    expect(
      (await broker.call("POST", "/keys/key_nonexistent/reinstate", { key: buyer.apiKey })).statusCode,
    ).toBe(404);
  });

  it("keeps a suspension through a rotation", async () => {
    await start();
    const { buyer, agentId, accessKey, keyId } = await setUp();
    await minuteOf(agentId, accessKey, 121);
    const rotated = await broker.call("POST", `/keys/${keyId}/rotate`, { key: buyer.apiKey });
    expect(rotated.statusCode).toBe(201);
    const replacement = rotated.json() as { api_key: string; key_id: string; suspended_at: string | null };
    expect(replacement.suspended_at).not.toBeNull();
    expect((await invoke(agentId, replacement.api_key)).json().error.code).toBe("KEY_SUSPENDED");
    await broker.call("POST", `/keys/${replacement.key_id}/reinstate`, { key: buyer.apiKey });
    expect((await invoke(agentId, replacement.api_key)).statusCode).toBe(200);
  });
});

describe("new-account daily limit", () => {
  it("refuses the hold that would pass a new account's daily limit, from the next UTC day lets it spend again, and does not limit an old account", async () => {
    await start({ fraud: { newAccountDailyLimitMicros: 50_000 } });
    const { buyer, agentId, accessKey } = await setUp({ price: 0.02 });
    expect((await invoke(agentId, accessKey)).statusCode).toBe(200);
    expect((await invoke(agentId, accessKey)).statusCode).toBe(200);
    const refused = await invoke(agentId, accessKey);
    expect(refused.statusCode).toBe(402);
    expect(refused.json().error).toMatchObject({
      code: "SPEND_CAP_EXCEEDED",
      details: { daily_limit_usd: "0.050000", spent_today_usd: "0.040000", required_usd: "0.020000" },
    });
    expect(seller.calls).toHaveLength(2);

    // The account was created at noon: midnight UTC starts a new day.
    broker.clock.advance(12 * 3_600_000);
    expect((await invoke(agentId, accessKey)).statusCode).toBe(200);
    expect((await invoke(agentId, accessKey)).statusCode).toBe(200);
    expect((await invoke(agentId, accessKey)).statusCode).toBe(402);

    // Seven days after sign-up the account is no longer new.
    broker.clock.advance(6 * 86_400_000 + 12 * 3_600_000 - 1);
    expect((await invoke(agentId, accessKey)).statusCode).toBe(200);
    expect((await invoke(agentId, accessKey)).statusCode).toBe(200);
    expect((await invoke(agentId, accessKey)).statusCode).toBe(402);
    broker.clock.advance(1);
    for (let i = 0; i < 5; i++) expect((await invoke(agentId, accessKey)).statusCode).toBe(200);
    const spent = (await broker.call("GET", "/balance", { key: buyer.apiKey })).json();
    expect(spent.available_usd).toBe("9.780000");
    expect((await broker.store.audit()).violations).toEqual([]);
  });

  it("is off with a null limit", async () => {
    await start({ fraud: { newAccountDailyLimitMicros: null } });
    const { agentId, accessKey } = await setUp({ price: 5, topup: 200 });
    for (let i = 0; i < 30; i++) expect((await invoke(agentId, accessKey)).statusCode).toBe(200);
  });
});
