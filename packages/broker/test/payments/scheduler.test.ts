import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createScheduler, type Scheduler } from "../../src/payments/scheduler.js";
import { systemClock } from "../../src/platform/clock.js";
import { createTestBroker, type TestBroker } from "../support/harness.js";

let broker: TestBroker;
let scheduler: Scheduler | undefined;
const log = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };

beforeEach(async () => {
  // Only timers and Date are faked: the store's group commit runs on the real setImmediate.
  vi.useFakeTimers({
    toFake: ["setTimeout", "clearTimeout", "Date"],
    now: new Date("2026-03-01T23:59:00.000Z"),
  });
  broker = await createTestBroker({ clock: systemClock });
  for (const fn of Object.values(log)) fn.mockClear();
});

afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
  vi.useRealTimers();
  expect((await broker.store.audit()).ok).toBe(true);
  await broker.close();
});

/** Lets jobs started by a fake timer finish their real-I/O store writes. */
async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A buyer's hold of 1 USD on a seller's agent that expires in `ms`, and a captured charge. */
async function marketplace(expiresInMs: number) {
  const buyer = await broker.signUp("Buyer");
  const seller = await broker.signUp("Seller");
  const agentId = await broker.register(seller.apiKey);
  const at = new Date().toISOString();
  await broker.store.credit({
    id: "seed",
    accountId: buyer.accountId,
    amount: 50_000_000,
    reference: "test",
    at,
  });
  const later = (ms: number) => new Date(Date.now() + ms).toISOString();
  const base = { buyerId: buyer.accountId, sellerAccountId: seller.accountId, agentId, at };
  await broker.store.hold({ ...base, id: "txn_paid", amount: 2_000_000, expiresAt: later(60_000) });
  await broker.store.capture({ id: "txn_paid:capture", holdId: "txn_paid", amount: 2_000_000, at });
  await broker.store.hold({ ...base, id: "txn_open", amount: 1_000_000, expiresAt: later(expiresInMs) });
  return { buyer, seller };
}

function start(options: { sweepIntervalMs?: number; grantGraceMs?: number } = {}) {
  scheduler = createScheduler({
    store: broker.store,
    clock: systemClock,
    payments: undefined,
    log,
    ...options,
  });
  scheduler.start();
  return scheduler;
}

describe("the background jobs", () => {
  it("void expired holds every few seconds", async () => {
    await marketplace(3_000);
    start();
    await vi.advanceTimersByTimeAsync(4_999);
    await settle();
    expect((await broker.store.getCharge("txn_open"))?.status).toBe("pending");
    await vi.advanceTimersByTimeAsync(1);
    await settle();
    expect((await broker.store.getCharge("txn_open"))?.status).toBe("voided");
    expect(log.info).toHaveBeenCalledWith({ expired: 1 }, "voided expired holds");
  });

  it("settle direct-mode grants a grace period after their close, with what their vouchers owe", async () => {
    const { buyer, seller } = await marketplace(3_600_000);
    const agentId = (await broker.store.getCharge("txn_paid"))?.agentId as string;
    const at = new Date().toISOString();
    await broker.store.hold({
      id: "grt_schedulertest01",
      buyerId: buyer.accountId,
      sellerAccountId: seller.accountId,
      agentId,
      amount: 1_000_000,
      expiresAt: new Date(Date.now() + 90_000_000).toISOString(),
      at,
    });
    await broker.store.insertGrant({
      id: "grt_schedulertest01",
      agentId,
      buyerId: buyer.accountId,
      sellerAccountId: seller.accountId,
      keyId: null,
      endpoint: "https://api.example.com/agent/abc123",
      priceMicros: 20_000,
      budgetMicros: 1_000_000,
      buyerPublicKey: "A".repeat(43),
      token: "a.b.c",
      issuedAt: at,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await broker.store.recordGrantVoucher("grt_schedulertest01", {
      sequence: 4,
      owedMicros: 80_000,
      signature: "s",
      claimMicros: 60_000,
    });
    await broker.store.closeGrant("grt_schedulertest01", at);
    start({ sweepIntervalMs: 1_000, grantGraceMs: 10_000 });
    await vi.advanceTimersByTimeAsync(9_000);
    await settle();
    expect((await broker.store.getGrant("grt_schedulertest01"))?.settledAt).toBeNull();
    await vi.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(await broker.store.getGrant("grt_schedulertest01")).toMatchObject({ capturedMicros: 60_000 });
    expect(await broker.store.getCharge("grt_schedulertest01")).toMatchObject({
      status: "completed",
      captured: 60_000,
      fee: 6_000,
    });
    expect(log.info).toHaveBeenCalledWith({ settled: 1 }, "settled direct-mode grants");
  });

  it("settle every seller just after midnight UTC, dated the new day, and again the next night", async () => {
    const { seller } = await marketplace(3_600_000);
    start({ sweepIntervalMs: 3_600_000 });
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    await settle();
    expect(await broker.store.listSettlements(seller.accountId)).toEqual([]);
    await vi.advanceTimersByTimeAsync(60_000);
    await settle();
    const [settlement] = await broker.store.listSettlements(seller.accountId);
    expect(settlement).toMatchObject({
      settlementDate: "2026-03-02",
      amount: 1_800_000,
      provider: "manual",
      status: "paid",
    });
    await vi.advanceTimersByTimeAsync(24 * 60 * 60_000);
    await settle();
    // No new earnings: the next night's run creates nothing.
    expect(await broker.store.listSettlements(seller.accountId)).toHaveLength(1);
    expect(log.info).toHaveBeenCalledWith(
      expect.objectContaining({ date: "2026-03-03", created: 0 }),
      "settlement run",
    );
  });

  it("stop: nothing runs after it, and it waits for the job in flight", async () => {
    await marketplace(1_000);
    const sweeps = vi.spyOn(broker.store, "expireHolds");
    start({ sweepIntervalMs: 5_000 });
    await vi.advanceTimersByTimeAsync(5_000);
    await scheduler?.stop();
    expect(sweeps).toHaveBeenCalledTimes(1);
    expect((await broker.store.getCharge("txn_open"))?.status).toBe("voided");
    await vi.advanceTimersByTimeAsync(24 * 60 * 60_000);
    await settle();
    expect(sweeps).toHaveBeenCalledTimes(1);
  });

  it("log a failed job and go on", async () => {
    await marketplace(8_000);
    const failure = new Error("disk full");
    vi.spyOn(broker.store, "expireHolds").mockRejectedValueOnce(failure);
    start();
    await vi.advanceTimersByTimeAsync(5_000);
    await settle();
    expect(log.error).toHaveBeenCalledWith({ err: failure }, "hold expiry sweep failed");
    await vi.advanceTimersByTimeAsync(5_000);
    await settle();
    expect((await broker.store.getCharge("txn_open"))?.status).toBe("voided");
  });
});
