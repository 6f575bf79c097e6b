import {
  cappedBuyerWeights,
  EMPTY_COUNTERS,
  RANKING,
  scoreAgent,
  scoreFromWindows,
  smoothedRate,
  successLowerBound,
  TRUST_PRIOR,
} from "@mercato/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AccountRecord, ApiKeyRecord } from "../../src/accounts/port.js";
import type { Store } from "../../src/app/store.js";
import type { AgentWindowMetrics, CallOutcome, MetricsWindow } from "../../src/metrics/port.js";
import type { AgentRecord, NewAgent } from "../../src/registry/port.js";
import { establishedBuyers, spreadOverBuyers } from "../support/buyers.js";
import { apiKeyRecord } from "../support/records.js";

/** Options of {@link describeMetricsConformance}. */
export interface MetricsConformanceOptions {
  /**
   * Counts an agent's stored minute and hour buckets in the store made last, to prove storage stays
   * bounded; the storage test only checks the sums without it.
   */
  countBuckets?: (
    agentId: string,
  ) => { minutes: number; hours: number } | Promise<{ minutes: number; hours: number }>;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WINDOW_MS: Record<MetricsWindow, number> = { "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY };

/** A measured call at a time, as the tests keep them to sum windows by hand. */
interface TimedCall {
  at: number;
  success: boolean;
  responseTimeMs: number;
}

/**
 * The metrics conformance suite: time buckets, window queries, rollups and the ranking figures
 * derived from windows. Every `Store` implementation must pass it beside `describeStoreConformance`.
 * Time is injected through the `at` and `now` arguments only.
 *
 * @example
 * describeMetricsConformance("sqlite", () => createSqliteStore({ path: ":memory:" }));
 */
export function describeMetricsConformance(
  name: string,
  makeStore: () => Store | Promise<Store>,
  options: MetricsConformanceOptions = {},
): void {
  describe(`Metrics conformance: ${name}`, () => {
    let store: Store;
    let n = 0;
    // 40 days after the registrations, 30 s into a minute: windows are tested away from round times.
    const T0 = Date.parse("2026-01-01T00:00:00.000Z");
    const NOW = T0 + 40 * DAY + 30_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    const PRICE = 20_000;

    /** 60 established buyers, made on first use: calls spread over them are never capped. */
    let buyers: string[] | undefined;
    /** Records calls spread over the established buyers (a success, or a seller failure). */
    const recordOld = async (
      calls: ReadonlyArray<{ agentId: string; success: boolean; responseTimeMs: number }>,
      at: string,
    ) => {
      buyers ??= await establishedBuyers(store, 60);
      await store.recordCallOutcomes(spreadOverBuyers(buyers, calls), at);
    };

    beforeEach(async () => {
      buyers = undefined;
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    const account = (): AccountRecord => {
      const id = `acct_metric${String(++n).padStart(8, "0")}`;
      return { id, name: id, email: null, createdAt: iso(T0) };
    };
    const key = (accountId: string): ApiKeyRecord => {
      const id = `key_metric${String(++n).padStart(8, "0")}`;
      return apiKeyRecord({
        id,
        accountId,
        hash: id.padEnd(64, "0").replace(/[^0-9a-f]/g, "b"),
        createdAt: iso(T0),
      });
    };
    const newAgent = (ownerId: string, overrides: Partial<NewAgent> = {}): NewAgent => ({
      id: `agent_metric${String(++n).padStart(8, "0")}`,
      ownerId,
      name: "Price oracle",
      description: "Token prices",
      category: "crypto",
      tags: ["prices"],
      version: "1.0.0",
      apiEndpoint: "https://oracle.example.com/agent",
      status: "active",
      pricing: { model: "per_call", priceMicros: PRICE, currency: "USD", tier: "basic", minCalls: 1 },
      createdAt: iso(T0),
      ...overrides,
    });
    const withAgents = async (count = 1, overrides: Partial<NewAgent> = {}): Promise<AgentRecord[]> => {
      const owner = account();
      await store.createAccount(owner, key(owner.id));
      const agents: AgentRecord[] = [];
      for (let i = 0; i < count; i++) agents.push(await store.insertAgent(newAgent(owner.id, overrides)));
      return agents;
    };
    const agentOf = async (id: string): Promise<AgentRecord> => {
      const agent = await store.getAgent(id);
      if (!agent) throw new Error(`no agent ${id}`);
      return agent;
    };

    /** Records `calls` one flush per distinct time, as the outcome recorder would. */
    const recordCalls = async (agentId: string, calls: TimedCall[]): Promise<void> => {
      const byTime = new Map<number, Array<{ agentId: string; success: boolean; responseTimeMs: number }>>();
      for (const call of calls) {
        const list = byTime.get(call.at) ?? [];
        list.push({ agentId, success: call.success, responseTimeMs: call.responseTimeMs });
        byTime.set(call.at, list);
      }
      for (const [at, outcomes] of [...byTime].sort(([a], [b]) => a - b)) {
        await recordOld(outcomes, iso(at));
      }
    };
    const metrics = (agentId: string, window: MetricsWindow, now = NOW) =>
      store.getAgentMetrics(agentId, window, iso(now));
    /** What a window should hold: the calls from its reported start to `now`, summed by hand. */
    const expectedSums = (calls: TimedCall[], from: string, now: number) => {
      const inside = calls.filter((call) => call.at >= Date.parse(from) && call.at <= now);
      const total = inside.reduce((sum, call) => sum + call.responseTimeMs, 0);
      return {
        calls: inside.length,
        successes: inside.filter((call) => call.success).length,
        meanResponseTimeMs: inside.length === 0 ? null : total / inside.length,
      };
    };
    const sumsOf = (m: AgentWindowMetrics) => ({
      calls: m.calls,
      successes: m.successes,
      meanResponseTimeMs: m.meanResponseTimeMs,
    });

    describe("buckets and windows", () => {
      it("records calls and health checks and answers a window's raw figures", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        await recordOld(
          [
            { agentId: id, success: true, responseTimeMs: 100 },
            { agentId: id, success: false, responseTimeMs: 300 },
            { agentId: id, success: true, responseTimeMs: 200 },
            { agentId: "agent_unknown", success: true, responseTimeMs: 1 },
          ],
          iso(NOW - 5 * MINUTE),
        );
        await store.recordHealthChecks(
          [
            { agentId: id, healthy: true },
            { agentId: id, healthy: false },
            { agentId: "agent_unknown", healthy: true },
          ],
          iso(NOW - 2 * MINUTE),
        );
        const day = await metrics(id, "24h");
        expect(day).toMatchObject({
          agentId: id,
          window: "24h",
          to: iso(NOW),
          calls: 3,
          successes: 2,
          meanResponseTimeMs: 200,
          healthChecks: 2,
          healthyChecks: 1,
        });
        // The 1,440 minutes ending with the current one.
        expect(day.from).toBe(iso(NOW - 30_000 - 1_439 * MINUTE));
        expect(day.p50ResponseTimeMs).toBeGreaterThan(100);
        expect(day.p50ResponseTimeMs).toBeLessThanOrEqual(400);
        for (const window of ["7d", "30d"] as const) {
          expect(await metrics(id, window)).toMatchObject({
            window,
            calls: 3,
            successes: 2,
            healthChecks: 2,
          });
        }
      });

      it("answers zeros for an agent without figures or an unknown agent, with null times", async () => {
        const [agent] = await withAgents();
        for (const id of [(agent as AgentRecord).id, "agent_nosuchagent"]) {
          const m = await metrics(id, "7d");
          expect(m).toMatchObject({
            agentId: id,
            window: "7d",
            to: iso(NOW),
            calls: 0,
            successes: 0,
            meanResponseTimeMs: null,
            p50ResponseTimeMs: null,
            p95ResponseTimeMs: null,
            healthChecks: 0,
            healthyChecks: 0,
          });
        }
      });

      it("is exact at the edges: a call 24 h + 1 min ago is outside 24h and inside 7d", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        const at = (ago: number, success = true) => ({ at: NOW - ago, success, responseTimeMs: 100 });
        const calls = [
          at(DAY + MINUTE),
          at(DAY - MINUTE),
          at(DAY),
          at(7 * DAY + HOUR + MINUTE, false),
          at(7 * DAY - HOUR, false),
          at(30 * DAY + HOUR + MINUTE, false),
          at(30 * DAY - HOUR, false),
          at(0),
        ];
        await recordCalls(id, calls);
        const check = async () => {
          // In 24h: 24 h − 1 min ago and now; 24 h ago exactly falls in the minute just before.
          expect(sumsOf(await metrics(id, "24h"))).toMatchObject({ calls: 2, successes: 2 });
          expect(sumsOf(await metrics(id, "7d"))).toMatchObject({ calls: 5, successes: 4 });
          expect(sumsOf(await metrics(id, "30d"))).toMatchObject({ calls: 7, successes: 4 });
          // A minute later, the call 24 h − 1 min ago is 24 h old and out.
          expect((await metrics(id, "24h", NOW + MINUTE)).calls).toBe(1);
          // Whatever the rollup did, a window holds the calls from its reported start, and it starts
          // at most an hour after its nominal start.
          for (const window of ["24h", "7d", "30d"] as const) {
            const m = await metrics(id, window);
            expect(sumsOf(m)).toEqual(expectedSums(calls, m.from, NOW));
            const late = Date.parse(m.from) - (NOW - WINDOW_MS[window]);
            expect(late).toBeGreaterThan(0);
            expect(late).toBeLessThanOrEqual(HOUR);
          }
        };
        await check();
        await store.refreshScores(iso(NOW));
        await check();
      });

      it("ignores figures after `now`: a window ends at its `to`", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        await recordCalls(id, [
          { at: NOW - HOUR, success: true, responseTimeMs: 50 },
          { at: NOW + 2 * MINUTE, success: true, responseTimeMs: 50 },
        ]);
        expect((await metrics(id, "24h")).calls).toBe(1);
        expect((await metrics(id, "24h", NOW + 2 * MINUTE)).calls).toBe(2);
      });

      it("keeps sums exact through rollups as the windows slide, hour by hour over three days", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        const start = NOW - 3 * DAY;
        const calls: TimedCall[] = [];
        for (let t = start, i = 0; t <= NOW; t += 7 * MINUTE + 13_000, i++) {
          calls.push({ at: t, success: i % 5 !== 0, responseTimeMs: 20 + ((i * 37) % 900) });
          if (i % 3 === 0) calls.push({ at: t, success: true, responseTimeMs: 4_000 });
        }
        await recordCalls(id, calls);
        const before = await Promise.all((["24h", "7d", "30d"] as const).map((w) => metrics(id, w)));
        await store.refreshScores(iso(NOW));
        const after = await Promise.all((["24h", "7d", "30d"] as const).map((w) => metrics(id, w)));
        // The rollup moves figures between buckets without changing any window, percentiles included.
        expect(after).toEqual(before);
        for (const m of after) expect(sumsOf(m)).toEqual(expectedSums(calls, m.from, NOW));
        for (let now = NOW; now <= NOW + 5 * DAY; now += 5 * HOUR + 11 * MINUTE) {
          await store.refreshScores(iso(now));
          for (const window of ["24h", "7d", "30d"] as const) {
            const m = await metrics(id, window, now);
            const expected = expectedSums(calls, m.from, now);
            expect(m.calls, `${window} at ${iso(now)}`).toBe(expected.calls);
            expect(m.successes).toBe(expected.successes);
            if (expected.meanResponseTimeMs === null) expect(m.meanResponseTimeMs).toBeNull();
            else expect(m.meanResponseTimeMs).toBeCloseTo(expected.meanResponseTimeMs, 9);
          }
        }
      });

      it("keeps storage bounded after 31 days of data, with the 30-day sums exact", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        const calls: TimedCall[] = [];
        // One call an hour for 31 days, then one call and one health check a minute for the last 26 hours.
        for (let t = NOW - 31 * DAY; t < NOW - 26 * HOUR; t += HOUR) {
          calls.push({ at: t, success: true, responseTimeMs: 120 });
        }
        for (let t = NOW - 26 * HOUR, i = 0; t <= NOW; t += MINUTE, i++) {
          calls.push({ at: t, success: i % 3 !== 0, responseTimeMs: 80 + (i % 7) });
        }
        for (const call of calls) {
          await recordOld([{ agentId: id, ...call }], iso(call.at));
          if (call.at >= NOW - 26 * HOUR)
            await store.recordHealthChecks([{ agentId: id, healthy: true }], iso(call.at));
          // The refresher's daily-ish passes along the way.
          if ((call.at - T0) % DAY < HOUR && call.at < NOW - 26 * HOUR)
            await store.refreshScores(iso(call.at));
        }
        await store.refreshScores(iso(NOW));
        const month = await metrics(id, "30d");
        expect(sumsOf(month)).toEqual(expectedSums(calls, month.from, NOW));
        expect((await metrics(id, "24h")).healthChecks).toBe(1_440);
        if (options.countBuckets) {
          const counts = await options.countBuckets(id);
          expect(counts.minutes).toBeLessThanOrEqual(1_440);
          expect(counts.minutes).toBeGreaterThan(1_400);
          expect(counts.hours).toBeLessThanOrEqual(720);
          expect(counts.hours).toBeGreaterThan(690);
        }
        // Lifetime counters keep everything.
        expect((await agentOf(id)).counters.calls).toBe(calls.length);
      });

      it("computes p50 and p95 from the histogram within bucket accuracy", async () => {
        const [fixed, mixed, uniform] = await withAgents(3);
        const at = NOW - HOUR;
        // Every call the same: both percentiles within a factor 2 of it (bucket bounds are ≤ 2× apart).
        await recordOld(
          Array.from({ length: 40 }, () => ({
            agentId: (fixed as AgentRecord).id,
            success: true,
            responseTimeMs: 250,
          })),
          iso(at),
        );
        const same = await metrics((fixed as AgentRecord).id, "24h");
        for (const p of [same.p50ResponseTimeMs, same.p95ResponseTimeMs]) {
          expect(p).toBeGreaterThan(125);
          expect(p).toBeLessThanOrEqual(500);
        }
        expect(same.meanResponseTimeMs).toBe(250);
        // 50 calls at 10 ms, 45 at 100 ms, 5 at 2,000 ms: p50 is 10 ms, p95 100 ms.
        const spread = [
          ...Array.from({ length: 50 }, () => 10),
          ...Array.from({ length: 45 }, () => 100),
          ...Array.from({ length: 5 }, () => 2_000),
        ];
        await recordOld(
          spread.map((ms) => ({ agentId: (mixed as AgentRecord).id, success: true, responseTimeMs: ms })),
          iso(at),
        );
        const m = await metrics((mixed as AgentRecord).id, "24h");
        expect(m.p50ResponseTimeMs).toBeGreaterThan(5);
        expect(m.p50ResponseTimeMs).toBeLessThanOrEqual(20);
        expect(m.p95ResponseTimeMs).toBeGreaterThan(50);
        expect(m.p95ResponseTimeMs).toBeLessThanOrEqual(200);
        expect(m.meanResponseTimeMs).toBeCloseTo((50 * 10 + 45 * 100 + 5 * 2_000) / 100, 9);
        // 1..1,000 ms, spread over several minutes and hours: p50 ≈ 500, p95 ≈ 950.
        const uniformId = (uniform as AgentRecord).id;
        await recordCalls(
          uniformId,
          Array.from({ length: 1_000 }, (_, i) => ({
            at: NOW - 2 * DAY + (i % 40) * HOUR,
            success: true,
            responseTimeMs: i + 1,
          })),
        );
        await store.refreshScores(iso(NOW));
        const u = await metrics(uniformId, "7d");
        expect(u.calls).toBe(1_000);
        expect(u.p50ResponseTimeMs).toBeGreaterThan(250);
        expect(u.p50ResponseTimeMs).toBeLessThanOrEqual(1_000);
        expect(u.p95ResponseTimeMs).toBeGreaterThan(475);
        expect(u.p95ResponseTimeMs).toBeLessThanOrEqual(1_900);
        expect(u.p50ResponseTimeMs as number).toBeLessThanOrEqual(u.p95ResponseTimeMs as number);
      });

      it("measures uptime per window from the health checks", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        for (let i = 0; i < 10; i++) {
          await store.recordHealthChecks([{ agentId: id, healthy: true }], iso(NOW - i * 5 * MINUTE));
          await store.recordHealthChecks(
            [{ agentId: id, healthy: false }],
            iso(NOW - 2 * DAY - i * 5 * MINUTE),
          );
          await store.recordHealthChecks([{ agentId: id, healthy: false }], iso(NOW - 10 * DAY - i * HOUR));
        }
        await store.refreshScores(iso(NOW));
        expect(await metrics(id, "24h")).toMatchObject({ healthChecks: 10, healthyChecks: 10, calls: 0 });
        expect(await metrics(id, "7d")).toMatchObject({ healthChecks: 20, healthyChecks: 10 });
        expect(await metrics(id, "30d")).toMatchObject({ healthChecks: 30, healthyChecks: 10 });
        // The ranking uses the last 24 hours only.
        expect((await agentOf(id)).scores.uptime).toBeCloseTo(smoothedRate(10, 10, TRUST_PRIOR.uptime), 12);
        // Two days on, the healthy checks have left the 24-hour window: uptime is the prior again.
        await store.refreshScores(iso(NOW + 2 * DAY));
        expect((await agentOf(id)).scores.uptime).toBe(TRUST_PRIOR.uptime);
      });
    });

    describe("ranking figures from windows", () => {
      it("scores success rate and mean time over 30 days and uptime over 24 hours", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        const calls: TimedCall[] = [
          // Out of every window: must not count.
          ...Array.from({ length: 30 }, () => ({
            at: NOW - 35 * DAY,
            success: false,
            responseTimeMs: 5_000,
          })),
          ...Array.from({ length: 40 }, (_, i) => ({
            at: NOW - 10 * DAY,
            success: i < 30,
            responseTimeMs: 300,
          })),
          ...Array.from({ length: 40 }, (_, i) => ({ at: NOW - HOUR, success: i < 38, responseTimeMs: 100 })),
        ];
        await recordCalls(id, calls);
        await store.recordHealthChecks(
          [
            ...Array.from({ length: 8 }, () => ({ agentId: id, healthy: true })),
            ...Array.from({ length: 2 }, () => ({ agentId: id, healthy: false })),
          ],
          iso(NOW - 3 * HOUR),
        );
        await store.recordHealthChecks(
          Array.from({ length: 10 }, () => ({ agentId: id, healthy: false })),
          iso(NOW - 3 * DAY),
        );
        await store.refreshScores(iso(NOW));
        const { scores } = await agentOf(id);
        // 68 of 80 calls, 16,000 ms in all; 8 of 10 checks.
        const successRate = (68 + 0.95 * 20) / (80 + 20);
        const avgResponseTimeMs = (16_000 + 500 * 20) / (80 + 20);
        const uptime = (8 + 0.95 * 20) / (10 + 20);
        expect(scores.successRate).toBeCloseTo(successRate, 12);
        expect(scores.avgResponseTimeMs).toBeCloseTo(avgResponseTimeMs, 9);
        expect(scores.uptime).toBeCloseTo(uptime, 12);
        expect(scores.trustScore).toBeCloseTo(
          successRate * 0.5 + Math.min(1, Math.max(0, 1 - avgResponseTimeMs / 1000)) * 0.2 + uptime * 0.3,
          12,
        );
        // Ranked on the conservative estimate; measured figures raw.
        expect(scores.costPerSuccessMicros).toBe(PRICE / successLowerBound(68, 80, RANKING.fallbackPrior));
        expect(scores.measured).toEqual({ successRate: 68 / 80, avgResponseTimeMs: 200, uptime: 0.8 });
        expect(scores).toEqual(
          scoreFromWindows(
            PRICE,
            { calls: 80, successes: 68, totalResponseTimeMs: 16_000 },
            { healthChecks: 10, healthyChecks: 8 },
          ),
        );
        // The window answers agree with the ranking figures.
        const month = await metrics(id, "30d");
        const day = await metrics(id, "24h");
        expect(month).toMatchObject({ calls: 80, successes: 68, meanResponseTimeMs: 200 });
        expect(day).toMatchObject({ healthChecks: 10, healthyChecks: 8 });
        // Total calls stay lifetime.
        expect((await agentOf(id)).counters.calls).toBe(110);
      });

      it("rescores the touched agents on every write, without waiting for a refresh", async () => {
        const [agent, other] = await withAgents(2);
        const id = (agent as AgentRecord).id;
        await recordOld(
          [
            { agentId: id, success: true, responseTimeMs: 100 },
            { agentId: id, success: false, responseTimeMs: 300 },
          ],
          iso(NOW),
        );
        const measured = await agentOf(id);
        expect(measured.scores).toEqual(
          scoreFromWindows(
            PRICE,
            { calls: 2, successes: 1, totalResponseTimeMs: 400 },
            { healthChecks: 0, healthyChecks: 0 },
          ),
        );
        expect(measured.metricsUpdatedAt).toBe(iso(NOW));
        await store.recordHealthChecks([{ agentId: id, healthy: false }], iso(NOW + MINUTE));
        const checked = await agentOf(id);
        expect(checked.scores.uptime).toBeCloseTo(smoothedRate(0, 1, TRUST_PRIOR.uptime), 12);
        expect(checked.metricsUpdatedAt).toBe(iso(NOW + MINUTE));
        expect((await agentOf((other as AgentRecord).id)).scores).toEqual(scoreAgent(PRICE, EMPTY_COUNTERS));
      });

      it("scores a written agent on its windows as of the write, refreshed or not", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        await recordCalls(
          id,
          Array.from({ length: 50 }, () => ({ at: NOW - 29 * DAY, success: false, responseTimeMs: 100 })),
        );
        await recordOld([{ agentId: id, success: true, responseTimeMs: 100 }], iso(NOW + 2 * DAY));
        expect((await agentOf(id)).scores).toEqual(
          scoreFromWindows(
            PRICE,
            { calls: 1, successes: 1, totalResponseTimeMs: 100 },
            { healthChecks: 0, healthyChecks: 0 },
          ),
        );
      });

      it("lets old figures fall out as the windows slide, and reports how many agents changed", async () => {
        const [flaky, steady] = await withAgents(2);
        const flakyId = (flaky as AgentRecord).id;
        const steadyId = (steady as AgentRecord).id;
        await recordCalls(
          flakyId,
          Array.from({ length: 100 }, () => ({ at: NOW - 29 * DAY, success: false, responseTimeMs: 900 })),
        );
        await recordCalls(
          steadyId,
          Array.from({ length: 100 }, () => ({ at: NOW - HOUR, success: true, responseTimeMs: 100 })),
        );
        expect(await store.refreshScores(iso(NOW))).toBe(0);
        const low = (await agentOf(flakyId)).scores;
        expect(low.successRate).toBeCloseTo(19 / 120, 12);
        // Two days later the failures are older than 30 days: the agent is back at the prior.
        const later = iso(NOW + 2 * DAY);
        expect(await store.refreshScores(later)).toBe(1);
        const flakyNow = await agentOf(flakyId);
        expect(flakyNow.scores).toEqual(scoreAgent(PRICE, EMPTY_COUNTERS));
        expect(flakyNow.metricsUpdatedAt).toBe(later);
        expect(flakyNow.counters.calls).toBe(100);
        expect((await metrics(flakyId, "30d", NOW + 2 * DAY)).calls).toBe(0);
        expect(await store.refreshScores(later)).toBe(0);
        // The steady agent's calls are still inside 30 days.
        expect((await agentOf(steadyId)).scores.successRate).toBeCloseTo((100 + 19) / 120, 12);
      });

      it("refreshes only the given agents when asked to", async () => {
        const [a, b] = await withAgents(2);
        const aId = (a as AgentRecord).id;
        const bId = (b as AgentRecord).id;
        for (const id of [aId, bId]) {
          await recordCalls(
            id,
            Array.from({ length: 10 }, () => ({ at: NOW - 29 * DAY, success: false, responseTimeMs: 100 })),
          );
        }
        const later = iso(NOW + 2 * DAY);
        expect(await store.refreshScores(later, [aId, "agent_nosuchagent"])).toBe(1);
        expect((await agentOf(aId)).scores).toEqual(scoreAgent(PRICE, EMPTY_COUNTERS));
        expect((await agentOf(bId)).scores.successRate).toBeCloseTo(19 / 30, 12);
        // A full refresh catches up with the rest.
        expect(await store.refreshScores(later)).toBe(1);
        expect((await agentOf(bId)).scores).toEqual(scoreAgent(PRICE, EMPTY_COUNTERS));
      });

      it("re-prices from the windows: cost per success = new price / the success rate's lower bound", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        await recordCalls(
          id,
          Array.from({ length: 80 }, (_, i) => ({ at: NOW - HOUR, success: i < 40, responseTimeMs: 100 })),
        );
        const measured = await agentOf(id);
        const repriced = await store.updateAgent(
          id,
          { pricing: { ...measured.pricing, priceMicros: 50_000 } },
          iso(NOW),
        );
        expect(repriced?.scores.successRate).toBeCloseTo(0.59, 12);
        expect(repriced?.scores.costPerSuccessMicros).toBe(
          50_000 / successLowerBound(40, 80, RANKING.fallbackPrior),
        );
        expect(repriced?.scores.trustScore).toBe(measured.scores.trustScore);
      });

      it("does not let a 1-of-1 newcomer outrank a 9,980-of-10,000 veteran in search", async () => {
        const [veteran, newcomer] = await withAgents(2);
        const veteranId = (veteran as AgentRecord).id;
        const newcomerId = (newcomer as AgentRecord).id;
        await recordOld(
          Array.from({ length: 10_000 }, (_, i) => ({
            agentId: veteranId,
            success: i < 9_980,
            responseTimeMs: 200,
          })),
          iso(NOW - 5 * DAY),
        );
        await recordOld([{ agentId: newcomerId, success: true, responseTimeMs: 200 }], iso(NOW));
        await store.refreshScores(iso(NOW));
        for (const sort of ["cost_per_success", "trust_score_desc"] as const) {
          const page = await store.searchAgents({ sort, limit: 10 });
          expect(page.agents.map((found) => found.id)).toEqual([veteranId, newcomerId]);
        }
        const [v, c] = [await agentOf(veteranId), await agentOf(newcomerId)];
        expect(v.scores.successRate).toBeCloseTo(9_999 / 10_020, 12);
        expect(c.scores.successRate).toBeCloseTo(20 / 21, 12);
      });
    });

    describe("buyer faults and per-buyer weights", () => {
      /** `count` calls of one buyer: `failures` of them seller failures, the rest successes. */
      const callsOf = (agentId: string, buyerId: string, count: number, failures = 0): CallOutcome[] =>
        Array.from({ length: count }, (_, i) => ({
          agentId,
          buyerId,
          outcome: i < failures ? "failure" : "success",
          responseTimeMs: 100,
        }));

      it("counts client errors apart: never calls, successes, times or scores", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        const honest = await establishedBuyers(store, 60);
        await recordOld(
          Array.from({ length: 60 }, () => ({ agentId: id, success: true, responseTimeMs: 100 })),
          iso(NOW - HOUR),
        );
        const before = await agentOf(id);
        const junk = Array.from(
          { length: 1_000 },
          (): CallOutcome => ({
            agentId: id,
            buyerId: honest[0] as string,
            outcome: "client_error",
            responseTimeMs: 5_000,
          }),
        );
        await store.recordCallOutcomes(junk, iso(NOW - 30 * MINUTE));
        for (const window of ["24h", "7d", "30d"] as const) {
          expect(await metrics(id, window)).toMatchObject({
            calls: 60,
            successes: 60,
            clientErrors: 1_000,
            meanResponseTimeMs: 100,
          });
        }
        const after = await agentOf(id);
        expect(after.scores).toEqual(before.scores);
        expect(after.counters).toEqual(before.counters);
        // Client errors leave the windows as calls do.
        expect((await metrics(id, "24h", NOW + DAY)).clientErrors).toBe(0);
        expect((await metrics(id, "30d", NOW + DAY)).clientErrors).toBe(1_000);
      });

      it("caps one buyer's weight: 1,000 failures among 60 honest buyers move the ranked rate ≤ 2 points", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        const honest = await establishedBuyers(store, 60);
        const [attacker] = await establishedBuyers(store, 1, "acct_attacker");
        // 60 buyers of 10 calls each, one failure among them all.
        await store.recordCallOutcomes(
          honest.flatMap((buyer, i) => callsOf(id, buyer, 10, i === 0 ? 1 : 0)),
          iso(NOW - 2 * HOUR),
        );
        const before = (await agentOf(id)).scores.successRate;
        expect(before).toBeCloseTo((599 + 19) / 620, 12);
        await store.recordCallOutcomes(callsOf(id, attacker as string, 1_000, 1_000), iso(NOW - HOUR));
        const after = await agentOf(id);
        // Raw figures keep every call; the ranked rate weighs the attacker at 1/50 of the total.
        expect(after.counters.calls).toBe(1_600);
        const month = await metrics(id, "30d");
        expect(month).toMatchObject({ calls: 1_600, successes: 599 });
        const expected = cappedBuyerWeights(6_400, 2_396, [
          ...honest.map((_, i) => ({ calls: 10, units: 40, successUnits: i === 0 ? 36 : 40 })),
          { calls: 1_000, units: 4_000, successUnits: 0 },
        ]);
        expect(month.ranked?.calls).toBeCloseTo(expected.calls, 9);
        expect(month.ranked?.successes).toBeCloseTo(expected.successes, 9);
        expect(month.ranked?.calls).toBeCloseTo(600 * (50 / 49), 9);
        expect(after.scores.successRate).toBeCloseTo(smoothedRate(599, 600 * (50 / 49), 0.95), 12);
        expect(before - after.scores.successRate).toBeLessThanOrEqual(0.02);
        expect(before - after.scores.successRate).toBeGreaterThan(0.015);
        // A refresh reads the same sums.
        await store.refreshScores(iso(NOW));
        expect((await agentOf(id)).scores).toEqual(after.scores);
        // Thirty days on, the attacker's weight has left with its hours, and the honest calls too.
        await store.refreshScores(iso(NOW + 31 * DAY));
        expect((await agentOf(id)).scores).toEqual(scoreAgent(PRICE, EMPTY_COUNTERS));
        expect((await metrics(id, "30d", NOW + 31 * DAY)).ranked).toEqual({ calls: 0, successes: 0 });
      });

      it("weighs a buyer younger than a day, or without a completed top-up, a quarter call", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        const fresh = account();
        await store.createAccount({ ...fresh, createdAt: iso(NOW - HOUR) }, key(fresh.id));
        const [old] = await establishedBuyers(store, 1, "acct_old");
        const unpaid = account();
        await store.createAccount(unpaid, key(unpaid.id));
        await store.recordCallOutcomes(
          [
            ...callsOf(id, fresh.id, 4),
            ...callsOf(id, unpaid.id, 4),
            ...callsOf(id, "acct_nosuchbuyer", 4),
            ...callsOf(id, old as string, 4),
          ],
          iso(NOW - MINUTE),
        );
        // 12 quarter calls and 4 whole ones: 7 calls' weight (none over the 10-call level).
        expect((await metrics(id, "30d")).ranked).toEqual({ calls: 7, successes: 7 });
        expect((await metrics(id, "30d")).calls).toBe(16);
        expect((await metrics(id, "24h")).ranked).toBeNull();
      });

      it("keeps any one buyer to ten calls' weight while fewer than 50 buyers have called", async () => {
        const [agent] = await withAgents();
        const id = (agent as AgentRecord).id;
        const [one, two] = await establishedBuyers(store, 2);
        await store.recordCallOutcomes(
          [...callsOf(id, one as string, 500), ...callsOf(id, two as string, 30, 30)],
          iso(NOW - MINUTE),
        );
        expect((await metrics(id, "30d")).ranked).toEqual({ calls: 20, successes: 10 });
        expect((await agentOf(id)).scores.successRate).toBeCloseTo((10 + 19) / 40, 12);
      });
    });

    describe("health-check targets", () => {
      it("lists every agent that is not deactivated, and moves agents only between up and down", async () => {
        const [up, gone] = await withAgents(2);
        const upId = (up as AgentRecord).id;
        const goneId = (gone as AgentRecord).id;
        await store.updateAgent(goneId, { status: "inactive" }, iso(NOW));
        expect(await store.listHealthCheckTargets()).toEqual([
          { id: upId, apiEndpoint: "https://oracle.example.com/agent", status: "active" },
        ]);
        expect(await store.setAgentHealthStatus(upId, "down", iso(NOW + MINUTE))).toBe(true);
        expect(await store.setAgentHealthStatus(upId, "down", iso(NOW + 2 * MINUTE))).toBe(false);
        const down = await agentOf(upId);
        expect(down.status).toBe("down");
        expect(down.updatedAt).toBe(iso(NOW + MINUTE));
        expect(await store.listHealthCheckTargets()).toEqual([
          { id: upId, apiEndpoint: "https://oracle.example.com/agent", status: "down" },
        ]);
        // A down agent is still listed.
        expect(
          (await store.searchAgents({ sort: "cost_per_success", limit: 10 })).agents.map((a) => a.id),
        ).toEqual([upId]);
        expect(await store.setAgentHealthStatus(upId, "active", iso(NOW + 3 * MINUTE))).toBe(true);
        expect((await agentOf(upId)).status).toBe("active");
        expect(await store.setAgentHealthStatus(goneId, "active", iso(NOW))).toBe(false);
        expect(await store.setAgentHealthStatus(goneId, "down", iso(NOW))).toBe(false);
        expect((await agentOf(goneId)).status).toBe("inactive");
        expect(await store.setAgentHealthStatus("agent_nosuchagent", "down", iso(NOW))).toBe(false);
      });
    });

    describe("calibrated ranking: cost per success on a lower bound, category priors (issue 17)", () => {
      /** Records `calls` calls of which `successes` succeed, spread over 60 established buyers. */
      const record = (agentId: string, calls: number, successes: number) =>
        recordOld(
          Array.from({ length: calls }, (_, i) => ({ agentId, success: i < successes, responseTimeMs: 100 })),
          iso(NOW - HOUR),
        );
      const ranking = async (category?: string) =>
        (await store.searchAgents({ sort: "cost_per_success", limit: 20, category })).agents.map((a) => a.id);
      const withPrice = async (priceMicros: number, category = "crypto") => {
        const [agent] = await withAgents(1, { category, pricing: { ...newAgent("x").pricing, priceMicros } });
        return (agent as AgentRecord).id;
      };

      it("a new listing at $0.015 ranks below 500 calls at 98% and $0.020; 500 calls at 99% and $0.015 rank above both", async () => {
        const proven98 = await withPrice(20_000);
        const proven99 = await withPrice(15_000);
        const fresh = await withPrice(15_000);
        await record(proven98, 500, 490);
        await record(proven99, 500, 495);
        await store.refreshScores(iso(NOW));
        expect(await ranking()).toEqual([proven99, proven98, fresh]);
        // The figures behind it: 0.015 / 0.4969 = $0.0302 > 0.020 / 0.9700 = $0.0206 > 0.015 / 0.9823.
        const [a, b, c] = [await agentOf(proven99), await agentOf(proven98), await agentOf(fresh)];
        expect(c.scores.costPerSuccessMicros).toBeCloseTo(30_187.48, 1);
        expect(b.scores.costPerSuccessMicros).toBeCloseTo(20_615.46, 1);
        expect(a.scores.costPerSuccessMicros).toBeCloseTo(15_270.32, 1);
        // The new listing has no record: its measured figures say so.
        expect(c.counters.calls).toBe(0);
        expect(c.scores.measured).toEqual({ successRate: null, avgResponseTimeMs: null, uptime: null });
        expect(b.scores.measured.successRate).toBe(0.98);
      });

      it("takes a category's prior from the median of its established listings, one per owner", async () => {
        const honest = [await withPrice(20_000), await withPrice(20_000), await withPrice(20_000)];
        const fresh = await withPrice(20_000);
        for (const id of honest) await record(id, 60, 54);
        // Fewer than three established owners elsewhere: the fallback.
        const lone = await withPrice(20_000, "defi");
        await record(lone, 60, 30);
        const loneFresh = await withPrice(20_000, "defi");
        expect((await agentOf(fresh)).scores.categoryPrior).toBe(RANKING.fallbackPrior);
        await store.refreshScores(iso(NOW));
        const prior = 54 / 60;
        expect((await agentOf(fresh)).scores).toMatchObject({
          categoryPrior: prior,
          successLowerBound: successLowerBound(0, 0, prior),
          costPerSuccessMicros: 20_000 / successLowerBound(0, 0, prior),
        });
        expect((await agentOf(honest[0] as string)).scores.successLowerBound).toBe(
          successLowerBound(54, 60, prior),
        );
        expect((await agentOf(loneFresh)).scores.categoryPrior).toBe(RANKING.fallbackPrior);
        // A listing registered, or moved into the category, afterwards starts on the category's prior.
        const later = await withPrice(20_000);
        expect((await agentOf(later)).scores.categoryPrior).toBe(prior);
        const moved = await store.updateAgent(loneFresh, { category: "crypto" }, iso(NOW));
        expect(moved?.scores).toMatchObject({
          categoryPrior: prior,
          successLowerBound: successLowerBound(0, 0, prior),
        });
        // Nothing changed: a second refresh rewrites nothing.
        expect(await store.refreshScores(iso(NOW))).toBe(0);
      });

      it("a competitor's junk listings, failed on purpose, do not drag a rival's new listing below the fallback", async () => {
        const honest = [await withPrice(20_000), await withPrice(20_000), await withPrice(20_000)];
        for (const id of honest) await record(id, 60, 59);
        // One competitor, five junk listings, each failing every one of 60 calls from 60 buyers.
        const junk = await withAgents(5, { category: "crypto" });
        for (const agent of junk) await record(agent.id, 60, 0);
        const rival = await withPrice(15_000);
        await store.refreshScores(iso(NOW));
        const { scores } = await agentOf(rival);
        expect(scores.categoryPrior).toBeGreaterThanOrEqual(RANKING.fallbackPrior);
        expect(scores.costPerSuccessMicros).toBeLessThanOrEqual(
          15_000 / successLowerBound(0, 0, RANKING.fallbackPrior),
        );
        // The junk itself ranks last.
        expect((await ranking("crypto")).slice(-5).sort()).toEqual(junk.map((agent) => agent.id).sort());
      });
    });
  });
}
