import { createServer } from "node:http";
import {
  DIRECT_HEADERS,
  ErrorEnvelopeSchema,
  formatUsd,
  parseUsd,
  RedeemGrantRequest,
  UsageReport,
  verifyVoucher,
} from "@mercato/protocol";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import * as z from "zod";
import type { SellerErrorContext, SellerKitOptions } from "../core/index.js";
import { type SellerKit, sellerKit } from "../kit/index.js";
import {
  AGENT_ID,
  type BrokerRequest,
  brokerKey,
  directRequest,
  type FakeBroker,
  fakeBroker,
  listen,
  NOW,
  PRICE_MICROS,
  type TestBrokerKey,
  type TestGrant,
  testGrant,
} from "../testing/index.js";

let key: TestBrokerKey;
beforeAll(async () => {
  key = await brokerKey("k1");
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  vi.restoreAllMocks();
});

/** The `Grant` the fake broker answers a redemption with; `settled` adds what settlement captured. */
function grantAnswer(
  grant: TestGrant,
  status: "open" | "closed" | "expired",
  settled?: { captured: string },
) {
  return {
    status: 200,
    body: {
      grant_id: grant.grantId,
      status,
      expires_at: grant.payload.expires_at,
      ...(settled ? { captured_usd: settled.captured, settled_at: new Date(NOW).toISOString() } : {}),
    },
  };
}

/** The broker's error envelope as an answer. */
function errorAnswer(status: number, code: string, message: string, details?: Record<string, unknown>) {
  return {
    status,
    body: { error: { code, message, ...(details ? { details } : {}), request_id: "req_broker" } },
  };
}

/** A fake broker answering redemptions `open` with what was redeemed, and usage reports `{accepted}`. */
async function openBroker(): Promise<FakeBroker> {
  const broker = await fakeBroker((request) => {
    if (request.path === "/usage/reports") {
      return {
        status: 200,
        body: { accepted: (request.body as { reports: unknown[] }).reports.length, ignored: 0 },
      };
    }
    const redeemed = (request.body as { earned_usd: string }).earned_usd;
    return { status: 200, body: { status: "open", redeemed_usd: redeemed } };
  });
  cleanups.push(() => broker.close());
  return broker;
}

interface Kit extends SellerKit {
  /** The time of the kit's clock, ms; tests move it. */
  clock: number;
  errors: [unknown, SellerErrorContext][];
}

/** A direct-mode kit for {@link AGENT_ID} on a movable clock, talking to `broker` over HTTP. */
function directKit(broker: FakeBroker, options: Partial<SellerKitOptions> = {}, direct = {}): Kit {
  const errors: [unknown, SellerErrorContext][] = [];
  const kit = {} as Kit;
  kit.clock = NOW;
  Object.assign(
    kit,
    sellerKit({
      broker: broker.url,
      jwks: key.jwks,
      now: () => kit.clock,
      handler: (input: unknown) => {
        if (input === "fail") throw new Error("no");
        return input;
      },
      onError: (error, context) => {
        errors.push([error, context]);
      },
      direct: { agentId: AGENT_ID, ...direct },
      ...options,
    } as SellerKitOptions),
    { errors },
  );
  cleanups.push(() => kit.close());
  return kit;
}

const encoder = new TextEncoder();

async function call(
  kit: SellerKit,
  grant: TestGrant,
  sequence: number,
  owedMicros: number,
  input: unknown = "x",
) {
  const request = await directRequest(grant, sequence, owedMicros, { input });
  const answer = await kit.handle({
    method: "POST",
    target: "/agent",
    headers: (name) => request.headers[name],
    body: encoder.encode(request.body),
  });
  return { status: answer.status, json: JSON.parse(answer.body) as unknown };
}

/**
 * Calls `grant` honestly `count` times from `first`, after `paid` successes, each voucher prepaying
 * its call; returns the successes.
 */
async function callHonestly(kit: SellerKit, grant: TestGrant, first: number, count: number, paid = 0) {
  let successes = paid;
  for (let sequence = first; sequence < first + count; sequence++) {
    const answer = await call(kit, grant, sequence, (successes + 1) * PRICE_MICROS);
    expect(answer.status).toBe(200);
    successes++;
  }
  return successes;
}

const redemptions = (broker: FakeBroker, grant?: TestGrant) =>
  broker.requests.filter(
    (request) =>
      request.path.endsWith("/redeem") &&
      (grant === undefined || request.path === `/grants/${grant.grantId}/redeem`),
  );
const reports = (broker: FakeBroker) =>
  broker.requests.filter((request) => request.path === "/usage/reports");

describe("direct mode: redemption", () => {
  it("redeems a grant's best voucher with what the seller earned, once, and again only when its earnings grew", async () => {
    const broker = await openBroker();
    const kit = directKit(broker);
    const grant = await testGrant(key);
    // Three successes, then call 4, prepaid by a voucher owing 0.08 USD, fails: 0.06 USD earned.
    await callHonestly(kit, grant, 1, 3);
    expect((await call(kit, grant, 4, 4 * PRICE_MICROS, "fail")).status).toBe(500);
    expect(await kit.flush()).toEqual({ redeemed: 1, failed: 0, reported: 0 });

    const [sent] = redemptions(broker) as [BrokerRequest];
    expect(sent.method).toBe("POST");
    expect(sent.path).toBe(`/grants/${grant.grantId}/redeem`);
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.headers["content-type"]).toBe("application/json");
    expect(sent.headers["x-request-id"]).toMatch(/^req_[0-9a-f]{32}$/);
    const body = RedeemGrantRequest.parse(sent.body);
    expect(body).toEqual({
      sequence: 4,
      owed_usd: "0.080000",
      signature: expect.any(String),
      earned_usd: "0.060000",
    });
    // The prepaid unit of the failed call is not claimed.
    expect(sent.body).toMatchObject({ earned_usd: formatUsd(3 * PRICE_MICROS) });
    // The broker can check it: the buyer's signature over exactly this sequence and amount.
    const owedMicros = Number(parseUsd(body.owed_usd));
    await expect(verifyVoucher({ ...body, owedMicros }, grant.payload)).resolves.toMatchObject({
      sequence: 4,
      owedMicros: 80_000,
    });

    // Nothing grew: nothing to send.
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 0, reported: 0 });
    expect(redemptions(broker)).toHaveLength(1);

    // Call 5 carries the prepaid unit over and succeeds: 0.08 USD earned.
    expect((await call(kit, grant, 5, 4 * PRICE_MICROS)).status).toBe(200);
    expect(await kit.flush()).toMatchObject({ redeemed: 1 });
    // Call 6 fails: its voucher owes more, but the seller earned nothing more: nothing to send.
    expect((await call(kit, grant, 6, 5 * PRICE_MICROS, "fail")).status).toBe(500);
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 0, reported: 0 });
    expect(redemptions(broker).map((request) => request.body)).toMatchObject([
      { sequence: 4, owed_usd: "0.080000", earned_usd: "0.060000" },
      { sequence: 5, owed_usd: "0.080000", earned_usd: "0.080000" },
    ]);
    // Only the two failed calls' handler errors: no redemption failed.
    expect(kit.errors.map(([, context]) => context.stage)).toEqual(["handler", "handler"]);
  });

  it("never redeems a grant that earned nothing, and redeems several grants in one round", async () => {
    const broker = await openBroker();
    const kit = directKit(broker);
    const idle = await testGrant(key);
    expect((await call(kit, idle, 1, 0)).status).toBe(402);
    expect((await call(kit, idle, 2, PRICE_MICROS, "fail")).status).toBe(500);
    expect((await call(kit, idle, 3, PRICE_MICROS, "fail")).status).toBe(500);
    const busy = await testGrant(key);
    const other = await testGrant(key);
    await callHonestly(kit, busy, 1, 3);
    await callHonestly(kit, other, 1, 2);
    expect(await kit.flush()).toEqual({ redeemed: 2, failed: 0, reported: 0 });
    expect(redemptions(broker, idle)).toEqual([]);
    expect(redemptions(broker, busy).map((request) => request.body)).toMatchObject([
      { owed_usd: "0.060000", earned_usd: "0.060000" },
    ]);
    expect(redemptions(broker, other).map((request) => request.body)).toMatchObject([
      { owed_usd: "0.040000", earned_usd: "0.040000" },
    ]);
  });

  it("closes the grant in the ledger when the broker answers it closed: later calls are refused grant_closed", async () => {
    const broker = await openBroker();
    const kit = directKit(broker);
    const grant = await testGrant(key);
    await callHonestly(kit, grant, 1, 3);
    broker.reply = () => grantAnswer(grant, "closed");
    expect(await kit.flush()).toEqual({ redeemed: 1, failed: 0, reported: 0 });
    const refused = await call(kit, grant, 4, 4 * PRICE_MICROS);
    expect(refused.status).toBe(401);
    expect(ErrorEnvelopeSchema.parse(refused.json).error.details).toMatchObject({ reason: "grant_closed" });
    // Refused before the ledger kept it: the voucher of call 4 is not redeemed.
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 0, reported: 0 });
    expect(redemptions(broker)).toHaveLength(1);
  });

  it("stops redeeming a grant the broker says is settled (409 grant_settled)", async () => {
    const broker = await openBroker();
    const kit = directKit(broker);
    const grant = await testGrant(key);
    await callHonestly(kit, grant, 1, 2);
    broker.reply = () => errorAnswer(409, "CONFLICT", "The grant is settled", { reason: "grant_settled" });
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 0, reported: 0 });
    // The voucher was not accepted, yet it is not sent again: the grant is settled for good.
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 0, reported: 0 });
    expect(redemptions(broker)).toHaveLength(1);
    const refused = await call(kit, grant, 3, 3 * PRICE_MICROS);
    expect(ErrorEnvelopeSchema.parse(refused.json).error.details).toMatchObject({ reason: "grant_closed" });
    expect(kit.errors).toEqual([]);
  });

  it("reports a failed redemption to onError and retries it at the next round", async () => {
    const broker = await openBroker();
    const kit = directKit(broker);
    const grant = await testGrant(key);
    await callHonestly(kit, grant, 1, 2);
    broker.reply = () => errorAnswer(503, "SERVICE_UNAVAILABLE", "db down");
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 1, reported: 0 });
    expect(kit.errors).toHaveLength(1);
    const [error, context] = kit.errors[0] as [Error, SellerErrorContext];
    expect(error.message).toMatch(/redeem with HTTP 503: db down/);
    expect(context).toMatchObject({ stage: "redeem", grantId: grant.grantId, callId: undefined });
    expect(context.requestId).toBe(redemptions(broker)[0]?.headers["x-request-id"]);

    broker.reply = (request) => ({ status: 200, body: { status: "open", ...(request.body as object) } });
    expect(await kit.flush()).toEqual({ redeemed: 1, failed: 0, reported: 0 });
    expect(redemptions(broker).map((request) => request.body)).toMatchObject([
      { sequence: 2, owed_usd: "0.040000", earned_usd: "0.040000" },
      { sequence: 2, owed_usd: "0.040000", earned_usd: "0.040000" },
    ]);
  });

  it("reports an unreachable broker, and does not send again a voucher the broker refused for good", async () => {
    const broker = await openBroker();
    // A port just freed: nothing listens there (a low one like 9 is a fetch "bad port" instead).
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as { port: number };
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = directKit(broker, { broker: `http://127.0.0.1:${port}` });
    const grant = await testGrant(key);
    await callHonestly(unreachable, grant, 1, 2);
    expect(await unreachable.flush()).toEqual({ redeemed: 0, failed: 1, reported: 0 });
    expect(unreachable.errors[0]?.[1]).toMatchObject({ stage: "redeem" });

    const kit = directKit(broker);
    const refused = await testGrant(key);
    await callHonestly(kit, refused, 1, 2);
    broker.reply = () => errorAnswer(401, "UNAUTHENTICATED", "bad voucher");
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 1, reported: 0 });
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 0, reported: 0 });
    expect(redemptions(broker)).toHaveLength(1);
    // A better claim is tried again.
    expect((await call(kit, refused, 3, 3 * PRICE_MICROS)).status).toBe(200);
    expect(await kit.flush()).toMatchObject({ failed: 1 });
    expect(redemptions(broker)).toHaveLength(2);
  });

  it("forgets a grant once it expired and its best voucher was redeemed, or it was settled", async () => {
    const broker = await openBroker();
    const kit = directKit(broker);
    const expiry = { expires_at: new Date(NOW + 3_600_000).toISOString() };
    const redeemed = await testGrant(key, expiry);
    const settled = await testGrant(key, expiry);
    const unpaid = await testGrant(key, expiry);
    await callHonestly(kit, redeemed, 1, 3);
    await callHonestly(kit, settled, 1, 2);
    await callHonestly(kit, unpaid, 1, 2);
    expect(kit.stats().direct?.grants).toBe(3);
    broker.reply = (request) => {
      if (request.path.includes(settled.grantId))
        return grantAnswer(settled, "closed", { captured: "0.020000" });
      if (request.path.includes(unpaid.grantId)) return { status: 502, body: {} };
      return grantAnswer(redeemed, "open");
    };
    expect(await kit.flush()).toEqual({ redeemed: 2, failed: 1, reported: 0 });
    expect(kit.stats().direct?.grants).toBe(3); // not expired yet

    kit.clock = NOW + 3_600_000;
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 1, reported: 0 });
    // Its best voucher was never redeemed: the unpaid grant is kept, and redeemed once the broker is back.
    expect(kit.stats().direct?.grants).toBe(1);
    broker.reply = () => grantAnswer(unpaid, "expired");
    expect(await kit.flush()).toEqual({ redeemed: 1, failed: 0, reported: 0 });
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 0, reported: 0 });
    expect(kit.stats().direct?.grants).toBe(0);
    expect(redemptions(broker, redeemed)).toHaveLength(1);
    expect(redemptions(broker, settled)).toHaveLength(1);
    expect(redemptions(broker, unpaid)).toHaveLength(3);
  });

  it("redeems an expired grant's last voucher before forgetting it", async () => {
    const broker = await openBroker();
    const kit = directKit(broker);
    const grant = await testGrant(key, { expires_at: new Date(NOW + 3_600_000).toISOString() });
    await callHonestly(kit, grant, 1, 2);
    kit.clock = NOW + 3_600_000;
    expect(await kit.flush()).toMatchObject({ redeemed: 1 });
    expect(kit.stats().direct?.grants).toBe(1);
    expect(await kit.flush()).toMatchObject({ redeemed: 0 });
    expect(kit.stats().direct?.grants).toBe(0);
    expect(redemptions(broker)).toHaveLength(1);
  });
});

describe("direct mode: timers", () => {
  it("starts no timer for a kit that only serves proxied calls", async () => {
    const broker = await openBroker();
    const setInterval = vi.spyOn(globalThis, "setInterval");
    const kit = directKit(broker, {}, { redeemIntervalMs: 20 });
    await kit.handle({
      method: "GET",
      target: "/agent/health",
      headers: () => undefined,
      body: new Uint8Array(),
    });
    expect(setInterval).not.toHaveBeenCalled();
    await kit.close();
    expect(broker.requests).toEqual([]);
  });

  it("redeems every redeemIntervalMs on an unref'd timer; close() stops it and flushes", async () => {
    const broker = await openBroker();
    const setInterval = vi.spyOn(globalThis, "setInterval");
    const clearInterval = vi.spyOn(globalThis, "clearInterval");
    const kit = directKit(broker, {}, { redeemIntervalMs: 40 });
    const grant = await testGrant(key);
    await callHonestly(kit, grant, 1, 2);
    expect(setInterval).toHaveBeenCalledTimes(1);
    const timer = setInterval.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false); // it never keeps the process alive
    await vi.waitFor(() => expect(redemptions(broker)).toHaveLength(1), { timeout: 60_000 });
    expect(redemptions(broker)[0]?.body).toMatchObject({ sequence: 2, owed_usd: "0.040000" });

    await call(kit, grant, 3, 3 * PRICE_MICROS);
    await kit.close();
    expect(clearInterval).toHaveBeenCalledWith(timer);
    // close() flushed the last voucher…
    expect(redemptions(broker).map((request) => request.body)).toMatchObject([
      { sequence: 2 },
      { sequence: 3, owed_usd: "0.060000", earned_usd: "0.060000" },
    ]);
    // A call after close() starts the timer again; closing once more stops it and flushes: nothing runs after.
    await callHonestly(kit, grant, 4, 1, 3);
    expect(setInterval).toHaveBeenCalledTimes(2);
    await kit.close();
    expect(redemptions(broker).at(-1)?.body).toMatchObject({ sequence: 4, owed_usd: "0.080000" });
    const count = broker.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(broker.requests).toHaveLength(count);
  });

  it("redeems a grant early when it expires within two intervals", async () => {
    const broker = await openBroker();
    const kit = directKit(broker, {}, { redeemIntervalMs: 60_000 });
    const far = await testGrant(key, { expires_at: new Date(NOW + 3_600_000).toISOString() });
    const near = await testGrant(key, { expires_at: new Date(NOW + 100_000).toISOString() });
    const setTimeout = vi.spyOn(globalThis, "setTimeout");
    await callHonestly(kit, far, 1, 2);
    await callHonestly(kit, near, 1, 2);
    // The early redemption's timer (a second at most; each call's own timer runs for its 5 s
    // timeout_ms), like the round's, never keeps the process alive.
    const early = setTimeout.mock.calls.flatMap(([, delay], index) =>
      typeof delay === "number" && delay <= 1_000
        ? [setTimeout.mock.results[index]?.value as NodeJS.Timeout]
        : [],
    );
    setTimeout.mockRestore();
    expect(early.length).toBeGreaterThan(0);
    for (const timer of early) expect(timer.hasRef()).toBe(false);
    // Within about a second (30 s allowed for a busy machine), long before the 60 s round.
    await vi.waitFor(() => expect(redemptions(broker)).toHaveLength(1), { timeout: 30_000, interval: 50 });
    expect(redemptions(broker, near)).toHaveLength(1);
    expect(redemptions(broker, far)).toHaveLength(0);
  });
});

describe("direct mode: usage reports", () => {
  it("reports each settled direct call with the api key (and redeems without it)", async () => {
    const broker = await openBroker();
    const kit = directKit(broker, {}, { apiKey: "mk_test_seller" });
    const grant = await testGrant(key);
    kit.clock = NOW;
    await call(kit, grant, 1, PRICE_MICROS);
    await call(kit, grant, 2, 2 * PRICE_MICROS, "fail");
    await call(kit, grant, 3, 2 * PRICE_MICROS);
    await call(kit, grant, 4, 2 * PRICE_MICROS); // refused: payment_behind; not a call, not reported
    expect(await kit.flush()).toEqual({ redeemed: 1, failed: 0, reported: 3 });

    const [sent] = reports(broker) as [BrokerRequest];
    expect(sent.method).toBe("POST");
    expect(sent.headers.authorization).toBe("Bearer mk_test_seller");
    const { reports: outcomes } = UsageReport.parse(sent.body);
    expect(outcomes).toEqual([
      {
        agent_id: AGENT_ID,
        grant_id: grant.grantId,
        sequence: 1,
        success: true,
        response_time_ms: 0,
        at: new Date(NOW).toISOString(),
      },
      {
        agent_id: AGENT_ID,
        grant_id: grant.grantId,
        sequence: 2,
        success: false,
        response_time_ms: 0,
        at: new Date(NOW).toISOString(),
      },
      {
        agent_id: AGENT_ID,
        grant_id: grant.grantId,
        sequence: 3,
        success: true,
        response_time_ms: 0,
        at: new Date(NOW).toISOString(),
      },
    ]);
    expect(redemptions(broker)[0]?.headers.authorization).toBeUndefined();
    // Redeemed before the reports: the broker counts a success only once a voucher it holds pays for it.
    expect(broker.requests.indexOf(redemptions(broker)[0] as BrokerRequest)).toBeLessThan(
      broker.requests.indexOf(sent),
    );
    // Sent once.
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 0, reported: 0 });
    expect(reports(broker)).toHaveLength(1);
  });

  it("reports input the kit refused as invalid as a client error, not as its failure", async () => {
    const broker = await openBroker();
    const kit = directKit(
      broker,
      { input: z.object({ symbol: z.string() }), handler: (input: unknown) => input },
      { apiKey: "mk_test_seller" },
    );
    const grant = await testGrant(key);
    expect((await call(kit, grant, 1, PRICE_MICROS, { symbol: "BTC" })).status).toBe(200);
    expect((await call(kit, grant, 2, 2 * PRICE_MICROS, { symbol: 7 })).status).toBe(400);
    // Not owed: the refused call's prepayment carries over to call 3.
    expect((await call(kit, grant, 3, 2 * PRICE_MICROS, { symbol: "ETH" })).status).toBe(200);
    await kit.flush();
    const outcomes = reports(broker).flatMap((request) => UsageReport.parse(request.body).reports);
    expect(outcomes.map(({ sequence, success, outcome }) => ({ sequence, success, outcome }))).toEqual([
      { sequence: 1, success: true, outcome: undefined },
      { sequence: 2, success: false, outcome: "client_error" },
      { sequence: 3, success: true, outcome: undefined },
    ]);
  });

  it("measures response_time_ms with the kit's clock", async () => {
    const broker = await openBroker();
    let kit: Kit;
    kit = directKit(
      broker,
      {
        handler: () => {
          kit.clock += 37.6;
          return "ok";
        },
      },
      { apiKey: "mk_test_seller" },
    );
    await call(kit, await testGrant(key), 1, PRICE_MICROS);
    await kit.flush();
    expect(UsageReport.parse(reports(broker)[0]?.body).reports[0]?.response_time_ms).toBe(38);
  });

  it("sends at most 1,000 outcomes a request", async () => {
    const broker = await openBroker();
    // No round during the 1,001 calls (they take half a minute on a busy machine): only a full
    // batch and flush() send reports, so the batches are exactly 1,000 and 1.
    const kit = directKit(broker, {}, { apiKey: "mk_test_seller", redeemIntervalMs: 3_600_000 });
    const grant = await testGrant(key, { budget_usd: "100.000000" });
    await callHonestly(kit, grant, 1, 1_001);
    // The 1,000th outcome sent a full batch at once, without waiting for the round; flush sends the
    // rest (and counts the full batch too if it is still under way).
    expect([1, 1_001]).toContain((await kit.flush()).reported);
    const batches = reports(broker).map((request) => UsageReport.parse(request.body).reports);
    expect(batches.map((batch) => batch.length).sort((a, b) => b - a)).toEqual([1_000, 1]);
    const sequences = batches.flat().map((outcome) => outcome.sequence);
    expect(sequences.sort((a, b) => a - b)).toEqual(Array.from({ length: 1_001 }, (_v, index) => index + 1));
  });

  it("reports a failed send to onError and drops it", async () => {
    const broker = await openBroker();
    const kit = directKit(broker, {}, { apiKey: "mk_test_seller" });
    broker.reply = (request) =>
      request.path === "/usage/reports"
        ? errorAnswer(500, "INTERNAL_ERROR", "oops")
        : { status: 200, body: { status: "open" } };
    await call(kit, await testGrant(key), 1, PRICE_MICROS);
    // The redemption goes through; the report does not.
    expect(await kit.flush()).toEqual({ redeemed: 1, failed: 0, reported: 0 });
    expect(kit.errors.map(([, context]) => context.stage)).toEqual(["report"]);
    expect(kit.errors[0]?.[0]).toMatchObject({ code: "INTERNAL_ERROR", status: 500 });
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 0, reported: 0 });
    expect(reports(broker)).toHaveLength(1);
  });

  it("sends no reports without an api key", async () => {
    const broker = await openBroker();
    const kit = directKit(broker);
    await callHonestly(kit, await testGrant(key), 1, 3);
    expect(await kit.flush()).toEqual({ redeemed: 1, failed: 0, reported: 0 });
    expect(reports(broker)).toEqual([]);
  });
});

describe("direct mode over HTTP", () => {
  it("serves direct calls through kit.node and redeems what they owe", async () => {
    const broker = await openBroker();
    const kit = sellerKit({
      broker: broker.url,
      jwks: key.jwks,
      handler: (input: unknown) => ({ echo: input }),
      direct: { agentId: AGENT_ID },
    });
    cleanups.push(() => kit.close());
    const seller = await listen(createServer(kit.node));
    cleanups.push(() => seller.close());
    const now = Date.now();
    const grant = await testGrant(key, {
      issued_at: new Date(now - 1_000).toISOString(),
      expires_at: new Date(now + 600_000).toISOString(),
    });
    for (let sequence = 1; sequence <= 3; sequence++) {
      const { headers, body } = await directRequest(grant, sequence, sequence * PRICE_MICROS, {
        input: sequence,
      });
      const response = await fetch(`${seller.url}/agent`, { method: "POST", headers, body });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ output: { echo: sequence } });
    }
    const replay = await directRequest(grant, 3, 3 * PRICE_MICROS);
    const refused = await fetch(`${seller.url}/agent`, { method: "POST", ...replay });
    expect(refused.status).toBe(409);
    expect(ErrorEnvelopeSchema.parse(await refused.json()).error.details?.reason).toBe("voucher_replayed");
    const noGrant = await fetch(`${seller.url}/agent`, {
      method: "POST",
      headers: { [DIRECT_HEADERS.voucher]: replay.headers[DIRECT_HEADERS.voucher] as string },
      body: replay.body,
    });
    // Without a grant it is a proxied call, and it is not signed.
    expect(ErrorEnvelopeSchema.parse(await noGrant.json()).error.details?.reason).toBe("missing");

    expect(await kit.flush()).toEqual({ redeemed: 1, failed: 0, reported: 0 });
    expect(redemptions(broker)[0]?.body).toMatchObject({
      sequence: 3,
      owed_usd: "0.060000",
      earned_usd: "0.060000",
    });
  });
});
