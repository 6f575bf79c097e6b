import { cappedBuyerWeights, scoreFromWindows } from "@mercato/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore } from "../../src/app/postgres-store.js";
import type { Store } from "../../src/app/store.js";
import { minuteOf, windowStart } from "../../src/metrics/metrics-math.js";
import type { CallOutcome } from "../../src/metrics/port.js";
import type { AgentRecord } from "../../src/registry/port.js";
import { createTestSchema } from "../support/postgres.js";
import { apiKeyRecord } from "../support/records.js";

// Several brokers on one database: the races the registry and metrics must survive.
const MINUTE = 60_000;
const T0 = Date.parse("2026-03-01T00:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();

describe("postgres store, several brokers at once", () => {
  const target = createTestSchema();
  let brokers: Store[] = [];
  const agents: AgentRecord[] = [];

  beforeAll(async () => {
    brokers = await Promise.all(
      Array.from({ length: 3 }, () =>
        createPostgresStore({ url: target.url, schema: target.schema, poolSize: 3 }),
      ),
    );
    const [first] = brokers as [Store];
    await first.createAccount(
      { id: "acct_race00001", name: "Racer", email: null, createdAt: iso(T0) },
      apiKeyRecord({ id: "key_race00001", accountId: "acct_race00001" }),
    );
    for (let i = 0; i < 6; i++) {
      agents.push(
        await first.insertAgent({
          id: `agent_race${String(i).padStart(5, "0")}`,
          ownerId: "acct_race00001",
          name: `Racer ${i}`,
          description: "Races",
          category: "racing",
          tags: ["race"],
          version: "1.0.0",
          apiEndpoint: "https://race.example.com",
          status: "active",
          pricing: { model: "per_call", priceMicros: 10_000, currency: "USD", tier: "basic", minCalls: 1 },
          createdAt: iso(T0),
        }),
      );
    }
  });
  afterAll(async () => {
    await Promise.all(brokers.map((broker) => broker.close()));
    await target.drop();
  });

  it("keeps buckets, windows, counters and figures exact while brokers flush, roll up, refresh and re-price", async () => {
    interface Call {
      agentId: string;
      buyerId: string;
      at: number;
      success: boolean;
      ms: number;
    }
    const calls: Call[] = [];
    const checks: Array<{ agentId: string; at: number; healthy: boolean }> = [];
    // Each broker flushes every 7 minutes over 3 days (so minutes keep leaving the 24-hour window),
    // batches of several agents in its own order, with a refresh every 10 flushes.
    const flushes = (3 * 24 * 60) / 7;
    await Promise.all(
      brokers.map(async (broker, b) => {
        for (let i = 0; i < flushes; i++) {
          const at = T0 + i * 7 * MINUTE + b * 1_000;
          const batch = agents.filter((_, a) => (a + i + b) % 3 !== 0).reverse();
          const outcomes = batch.flatMap((agent, a) =>
            Array.from(
              { length: 1 + ((a + i) % 3) },
              (_, k): CallOutcome => ({
                agentId: agent.id,
                // Three buyers of no account (each call a quarter call), one of them far busier.
                buyerId: `acct_racebuyer${(i + k) % 5 < 3 ? 0 : (i + k) % 5}`,
                outcome: (i + k + b) % 4 !== 0 ? "success" : "failure",
                responseTimeMs: 20 + ((i * 7 + k * 13 + b) % 500),
              }),
            ),
          );
          await broker.recordCallOutcomes(outcomes, iso(at));
          for (const o of outcomes)
            calls.push({
              agentId: o.agentId,
              buyerId: o.buyerId,
              at,
              success: o.outcome === "success",
              ms: o.responseTimeMs,
            });
          const healthy = (i + b) % 5 !== 0;
          await broker.recordHealthChecks(
            batch.map((agent) => ({ agentId: agent.id, healthy })),
            iso(at),
          );
          for (const agent of batch) checks.push({ agentId: agent.id, at, healthy });
          if (i % 10 === b) await broker.refreshScores(iso(at));
          if (b === 0 && i === Math.floor(flushes / 2)) {
            const agent = agents[0] as AgentRecord;
            await broker.updateAgent(
              agent.id,
              { pricing: { ...agent.pricing, priceMicros: 25_000 } },
              iso(at),
            );
          }
        }
      }),
    );

    const now = T0 + flushes * 7 * MINUTE;
    await (brokers[1] as Store).refreshScores(iso(now));
    const nowMinute = minuteOf(iso(now));
    for (const agent of agents) {
      const mine = calls.filter((call) => call.agentId === agent.id);
      const month = await (brokers[2] as Store).getAgentMetrics(agent.id, "30d", iso(now));
      const inMonth = mine.filter((call) => call.at >= Date.parse(month.from));
      expect(month.calls).toBe(inMonth.length);
      expect(month.successes).toBe(inMonth.filter((call) => call.success).length);
      const dayStart = windowStart("24h", nowMinute) * MINUTE;
      const day = await (brokers[0] as Store).getAgentMetrics(agent.id, "24h", iso(now));
      const checksToday = checks.filter((check) => check.agentId === agent.id && check.at >= dayStart);
      expect(day.healthChecks).toBe(checksToday.length);

      const stored = (await (brokers[1] as Store).getAgent(agent.id)) as AgentRecord;
      expect(stored.counters.calls).toBe(mine.length);
      expect(stored.counters.healthChecks).toBe(checks.filter((check) => check.agentId === agent.id).length);
      // The figures are those of the windows as they stand, at the price as it stands.
      const totalMs = inMonth.reduce((sum, call) => sum + Math.round(call.ms * 1000), 0) / 1000;
      // Each buyer's weight summed by hand: a quarter call each (no account), capped per buyer.
      const byBuyer = new Map<string, { calls: number; units: number; successUnits: number }>();
      for (const call of inMonth) {
        const buyer = byBuyer.get(call.buyerId) ?? { calls: 0, units: 0, successUnits: 0 };
        buyer.calls++;
        buyer.units++;
        if (call.success) buyer.successUnits++;
        byBuyer.set(call.buyerId, buyer);
      }
      const ranked = cappedBuyerWeights(inMonth.length, inMonth.filter((call) => call.success).length, [
        ...byBuyer.values(),
      ]);
      expect(month.ranked?.calls).toBeCloseTo(ranked.calls, 9);
      expect(month.ranked?.successes).toBeCloseTo(ranked.successes, 9);
      const expected = scoreFromWindows(
        stored.pricing.priceMicros,
        { calls: inMonth.length, successes: month.successes, totalResponseTimeMs: totalMs },
        { healthChecks: checksToday.length, healthyChecks: checksToday.filter((c) => c.healthy).length },
        ranked,
      );
      const { measured, ...figures } = expected;
      for (const [figure, value] of Object.entries(figures)) {
        expect(stored.scores[figure as keyof typeof figures]).toBeCloseTo(value, 9);
      }
      for (const [figure, value] of Object.entries(measured)) {
        const actual = stored.scores.measured[figure as keyof typeof measured];
        if (value === null) expect(actual).toBeNull();
        else expect(actual).toBeCloseTo(value, 9);
      }
    }
    expect((await (brokers[0] as Store).getAgent((agents[0] as AgentRecord).id))?.pricing.priceMicros).toBe(
      25_000,
    );
  });

  it("flips an agent's health once when brokers race, and never revives a deactivated agent", async () => {
    const [agent, other] = agents as [AgentRecord, AgentRecord];
    const downs = await Promise.all(
      brokers.flatMap((broker) => [1, 2].map(() => broker.setAgentHealthStatus(agent.id, "down", iso(T0)))),
    );
    expect(downs.filter(Boolean)).toHaveLength(1);
    const ups = await Promise.all(
      brokers.map((broker) => broker.setAgentHealthStatus(agent.id, "active", iso(T0))),
    );
    expect(ups.filter(Boolean)).toHaveLength(1);

    // The owner deactivates while the health checker marks the agent up and down.
    await Promise.all([
      (brokers[0] as Store).updateAgent(other.id, { status: "inactive" }, iso(T0)),
      ...brokers.map((broker, b) =>
        broker.setAgentHealthStatus(other.id, b % 2 === 0 ? "down" : "active", iso(T0)),
      ),
    ]);
    expect((await (brokers[2] as Store).getAgent(other.id))?.status).toBe("inactive");
    expect(await (brokers[1] as Store).setAgentHealthStatus(other.id, "active", iso(T0))).toBe(false);
  });
});

describe("postgres store, several brokers claiming health checks and registering at once", () => {
  const target = createTestSchema();
  let brokers: Store[] = [];

  beforeAll(async () => {
    brokers = await Promise.all(
      Array.from({ length: 3 }, () =>
        createPostgresStore({ url: target.url, schema: target.schema, poolSize: 4 }),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all(brokers.map((broker) => broker.close()));
    await target.drop();
  });

  it("grant one endpoint's check once per interval, and one host's checks at most perHost times, between them", async () => {
    const claim = (broker: Store, endpoint: string, at: number) =>
      broker.claimHealthCheck({ endpoint, host: "race.example.com", at, intervalMs: 30_000, perHost: 5 });
    for (let round = 0; round < 3; round++) {
      const at = T0 + round * 30_000;
      const same = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          claim(brokers[i % 3] as Store, "https://race.example.com/a/health", at),
        ),
      );
      expect(same.filter((result) => result === "granted")).toHaveLength(1);
      const paths = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          claim(brokers[i % 3] as Store, `https://race.example.com/p${i % 12}/health`, at + 1_000),
        ),
      );
      // The shared endpoint took one of the host's five checks of the window. An endpoint's very
      // first claims (no row to lock yet) may lose a host check to their race, never grant one more.
      const granted = paths.filter((result) => result === "granted").length;
      if (round === 0) expect(granted).toBeGreaterThanOrEqual(1);
      if (round === 0) expect(granted).toBeLessThanOrEqual(4);
      else expect(granted).toBe(4);
    }
  });

  it("let an account's registrations through all three past its limit by none", async () => {
    const [first] = brokers as [Store];
    await first.createAccount(
      { id: "acct_limit0001", name: "Flooder", email: null, createdAt: iso(T0) },
      apiKeyRecord({ id: "key_limit0001", accountId: "acct_limit0001" }),
    );
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        (brokers[i % 3] as Store).insertAgent(
          {
            id: `agent_limit${String(i).padStart(5, "0")}`,
            ownerId: "acct_limit0001",
            name: `Flood ${i}`,
            description: "",
            category: "flood",
            tags: [],
            version: "1.0.0",
            apiEndpoint: "https://victim.example.com",
            status: "active",
            pricing: { model: "per_call", priceMicros: 10_000, currency: "USD", tier: "basic", minCalls: 1 },
            createdAt: iso(T0),
          },
          { maxListings: 7 },
        ),
      ),
    );
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(7);
    const listed = await first.searchAgents({ category: "flood", sort: "price_asc", limit: 100 });
    expect(listed.agents).toHaveLength(7);
  });
});
