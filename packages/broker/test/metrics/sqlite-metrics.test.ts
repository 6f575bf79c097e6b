import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EMPTY_COUNTERS, scoreAgent, scoreFromWindows } from "@mercato/protocol";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/app/sqlite-migrations.js";
import { createSqliteStore } from "../../src/app/sqlite-store.js";
import {
  histogramBucket,
  histogramQuantile,
  minuteOf,
  RESPONSE_TIME_BOUNDS_MS,
  windowStart,
} from "../../src/metrics/metrics-math.js";
import type { CallOutcome } from "../../src/metrics/port.js";
import { METRICS_BUYERS_MIGRATION, METRICS_MIGRATION } from "../../src/metrics/sqlite-metrics.js";
import { apiKeyRecord } from "../support/records.js";

const dir = mkdtempSync(join(tmpdir(), "mercato-metrics-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A histogram with `count` calls in the bucket of each of `times`. */
function histogramOf(times: number[]): number[] {
  const histogram = Array.from({ length: RESPONSE_TIME_BOUNDS_MS.length + 1 }, () => 0);
  for (const ms of times) (histogram[histogramBucket(ms)] as number)++;
  return histogram;
}

describe("response-time histogram", () => {
  it("has 24 increasing bounds from 1 ms to 60 s, each at most twice the one before", () => {
    expect(RESPONSE_TIME_BOUNDS_MS).toHaveLength(24);
    expect(RESPONSE_TIME_BOUNDS_MS[0]).toBe(1);
    expect(RESPONSE_TIME_BOUNDS_MS.at(-1)).toBe(60_000);
    for (let i = 1; i < RESPONSE_TIME_BOUNDS_MS.length; i++) {
      const [previous, bound] = [
        RESPONSE_TIME_BOUNDS_MS[i - 1] as number,
        RESPONSE_TIME_BOUNDS_MS[i] as number,
      ];
      expect(bound).toBeGreaterThan(previous);
      expect(bound).toBeLessThanOrEqual(2 * previous);
    }
  });

  it("puts a time in the first bucket whose bound it does not pass; slower than 60 s in the last", () => {
    expect(histogramBucket(0)).toBe(0);
    expect(histogramBucket(1)).toBe(0);
    expect(histogramBucket(1.5)).toBe(1);
    expect(histogramBucket(100)).toBe(RESPONSE_TIME_BOUNDS_MS.indexOf(130));
    expect(histogramBucket(130)).toBe(RESPONSE_TIME_BOUNDS_MS.indexOf(130));
    expect(histogramBucket(60_000)).toBe(23);
    expect(histogramBucket(60_001)).toBe(24);
  });

  it("interpolates quantiles within the bucket, null when empty", () => {
    expect(histogramQuantile(histogramOf([]), 0.5)).toBeNull();
    // 40 calls at 250 ms, all in (200, 300]: the rank's share of the bucket.
    const same = histogramOf(Array.from({ length: 40 }, () => 250));
    expect(histogramQuantile(same, 0.5)).toBeCloseTo(250, 9);
    expect(histogramQuantile(same, 0.95)).toBeCloseTo(295, 9);
    // 50 at 10 ms, 45 at 100 ms, 5 at 2 s: the 50th call ends (8, 13], the 95th ends (80, 130].
    const spread = histogramOf([
      ...Array.from({ length: 50 }, () => 10),
      ...Array.from({ length: 45 }, () => 100),
      ...Array.from({ length: 5 }, () => 2_000),
    ]);
    expect(histogramQuantile(spread, 0.5)).toBeCloseTo(13, 9);
    expect(histogramQuantile(spread, 0.95)).toBeCloseTo(130, 9);
    expect(histogramQuantile(spread, 0.99)).toBeCloseTo(1_300 + 700 * (4 / 5), 9);
    // Past the last bound there is no upper edge: the answer is the last bound.
    expect(histogramQuantile(histogramOf([90_000, 120_000]), 0.5)).toBe(60_000);
  });

  it("is within the true quantile's bucket on uniform data", () => {
    const times = Array.from({ length: 10_000 }, (_, i) => (i + 1) / 10);
    const histogram = histogramOf(times);
    for (const q of [0.5, 0.9, 0.95, 0.99]) {
      const truth = times[Math.ceil(q * times.length) - 1] as number;
      const estimate = histogramQuantile(histogram, q) as number;
      const bucket = histogramBucket(truth);
      const lower = bucket === 0 ? 0 : (RESPONSE_TIME_BOUNDS_MS[bucket - 1] as number);
      expect(estimate).toBeGreaterThanOrEqual(lower);
      expect(estimate).toBeLessThanOrEqual(RESPONSE_TIME_BOUNDS_MS[bucket] as number);
    }
  });
});

describe("windows", () => {
  it("starts 24h at the 1,440th minute back, and 7d and 30d at the first whole hour inside them", () => {
    const now = minuteOf("2026-03-10T12:34:56.000Z");
    expect(now).toBe(Date.parse("2026-03-10T12:34:00.000Z") / 60_000);
    expect(windowStart("24h", now)).toBe(now - 1_439);
    expect(new Date(windowStart("7d", now) * 60_000).toISOString()).toBe("2026-03-03T13:00:00.000Z");
    expect(new Date(windowStart("30d", now) * 60_000).toISOString()).toBe("2026-02-08T13:00:00.000Z");
    const onTheHour = minuteOf("2026-03-10T12:00:00.000Z");
    expect(new Date(windowStart("7d", onTheHour) * 60_000).toISOString()).toBe("2026-03-03T13:00:00.000Z");
  });
});

describe("refreshing scores", () => {
  it("rescores thousands of agents in chunks, each agent once, with or without ids", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    const T0 = "2026-01-01T00:00:00.000Z";
    await store.createAccount(
      { id: "acct_chunks", name: "chunks", email: null, createdAt: T0 },
      apiKeyRecord({ id: "key_chunks", accountId: "acct_chunks", hash: "d".repeat(64), createdAt: T0 }),
    );
    const ids: string[] = [];
    for (let i = 0; i < 2_500; i++) {
      const agent = await store.insertAgent({
        id: `agent_chunk${i}`,
        ownerId: "acct_chunks",
        name: `Agent ${i}`,
        description: "",
        category: "crypto",
        tags: [],
        version: "1.0.0",
        apiEndpoint: "https://a.example.com",
        status: "active",
        pricing: { model: "per_call", priceMicros: 20_000, currency: "USD", tier: "basic", minCalls: 1 },
        createdAt: T0,
      });
      ids.push(agent.id);
    }
    const fail = ids.map(
      (agentId): CallOutcome => ({ agentId, buyerId: "acct_buyer", outcome: "failure", responseTimeMs: 100 }),
    );
    await store.recordCallOutcomes(fail, "2026-01-01T00:00:00.000Z");
    // 31 days on, every failure has left the 30-day window.
    expect(await store.refreshScores("2026-02-01T00:00:00.000Z")).toBe(2_500);
    expect(await store.refreshScores("2026-02-01T00:00:00.000Z")).toBe(0);
    await store.recordCallOutcomes(fail, "2026-02-01T00:00:00.000Z");
    expect(await store.refreshScores("2026-03-04T00:00:00.000Z", ids)).toBe(2_500);
    const prior = scoreAgent(20_000, EMPTY_COUNTERS);
    for (const id of [ids[0], ids[999], ids[1_000], ids[2_499]]) {
      expect((await store.getAgent(id as string))?.scores).toEqual(prior);
    }
    await store.close();
  });
});

describe("migration 5", () => {
  it("scores agents measured before it on their (empty) windows at the next refresh, keeping lifetime counters", async () => {
    const path = join(dir, "v4.db");
    const raw = new Database(path);
    for (const migration of MIGRATIONS.filter((m) => m.version < METRICS_MIGRATION.version)) {
      raw.exec(migration.sql);
    }
    raw.pragma(`user_version = ${METRICS_MIGRATION.version - 1}`);
    const T0 = "2026-01-01T00:00:00.000Z";
    raw
      .prepare("INSERT INTO accounts (id, name, email, created_at) VALUES (?, ?, NULL, ?)")
      .run("acct_v4", "v4", T0);
    const insert = raw.prepare(
      `INSERT INTO agents (id, owner_id, name, description, category, tags, version, api_endpoint, status,
         pricing_model, price_micros, currency, tier, min_calls, calls, successes, total_response_time_ms,
         health_checks, healthy_checks, success_rate, avg_response_time_ms, uptime_24h, trust_score,
         cost_per_success, metrics_updated_at, created_at, updated_at)
       VALUES (?, 'acct_v4', ?, '', 'crypto', '[]', '1.0.0', 'https://a.example.com', 'active', 'per_call', 20000,
         'USD', 'basic', 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const measured = {
      calls: 100,
      successes: 50,
      totalResponseTimeMs: 30_000,
      healthChecks: 10,
      healthyChecks: 2,
    };
    const lifetime = scoreAgent(20_000, measured);
    insert.run(
      "agent_v4measured",
      "measured",
      measured.calls,
      measured.successes,
      measured.totalResponseTimeMs,
      measured.healthChecks,
      measured.healthyChecks,
      lifetime.successRate,
      lifetime.avgResponseTimeMs,
      lifetime.uptime,
      lifetime.trustScore,
      lifetime.costPerSuccessMicros,
      T0,
      T0,
      T0,
    );
    const prior = scoreAgent(20_000, EMPTY_COUNTERS);
    insert.run(
      "agent_v4new",
      "new",
      0,
      0,
      0,
      0,
      0,
      prior.successRate,
      prior.avgResponseTimeMs,
      prior.uptime,
      prior.trustScore,
      prior.costPerSuccessMicros,
      T0,
      T0,
      T0,
    );
    raw.close();

    const store = createSqliteStore({ path });
    // Migration 15 keeps the smoothed figures; the measured ones come from the (empty) windows,
    // and the ranking starts from no record until the refresh scores the windows.
    expect((await store.getAgent("agent_v4measured"))?.scores).toEqual({
      ...lifetime,
      costPerSuccessMicros: prior.costPerSuccessMicros,
      successLowerBound: prior.successLowerBound,
      rankedCalls: 0,
      rankedSuccesses: 0,
      measured: prior.measured,
    });
    const now = "2026-01-02T00:00:00.000Z";
    expect(await store.refreshScores(now)).toBe(1);
    const agent = await store.getAgent("agent_v4measured");
    expect(agent?.scores).toEqual(prior);
    expect(agent?.counters).toEqual(measured);
    expect(agent?.metricsUpdatedAt).toBe(now);
    expect(await store.refreshScores(now)).toBe(0);
    await store.close();
  });
});

describe("migration 10", () => {
  it("carries calls recorded before it over as whole calls of no buyer: rankings unchanged, and they leave with their hours", async () => {
    const path = join(dir, "v8.db");
    const raw = new Database(path);
    for (const migration of MIGRATIONS.filter((m) => m.version < METRICS_BUYERS_MIGRATION.version)) {
      raw.exec(migration.sql);
    }
    raw.pragma(`user_version = ${METRICS_BUYERS_MIGRATION.version - 1}`);
    const T0 = "2026-01-01T00:00:00.000Z";
    raw
      .prepare("INSERT INTO accounts (id, name, email, created_at) VALUES (?, ?, NULL, ?)")
      .run("acct_v8", "v8", T0);
    raw
      .prepare(
        `INSERT INTO agents (id, owner_id, name, description, category, tags, version, api_endpoint, status,
           pricing_model, price_micros, currency, tier, min_calls, calls, successes, total_response_time_ms,
           health_checks, healthy_checks, success_rate, avg_response_time_ms, uptime_24h, trust_score,
           cost_per_success, metrics_updated_at, created_at, updated_at)
         VALUES ('agent_v8', 'acct_v8', 'v8', '', 'crypto', '[]', '1.0.0', 'https://a.example.com', 'active',
           'per_call', 20000, 'USD', 'basic', 1, 100, 90, 20000, 0, 0, 0.5, 500, 0.95, 0.5, 40000, ?, ?, ?)`,
      )
      .run(T0, T0, T0);
    // 100 calls, 90 successful, 200 ms each, in an hour two days before now.
    const now = Date.parse(T0) + 10 * 24 * 60 * 60_000;
    const hour = minuteOf(new Date(now - 2 * 24 * 60 * 60_000).toISOString());
    raw
      .prepare(
        `INSERT INTO agent_metric_hours (agent_seq, start, calls, successes, response_us)
         SELECT seq, ?, 100, 90, 20000000 FROM agents WHERE id = 'agent_v8'`,
      )
      .run(hour - (hour % 60));
    raw.exec(
      `INSERT INTO agent_metric_windows (agent_seq, calls_30d, successes_30d, response_us_30d)
       SELECT seq, 100, 90, 20000000 FROM agents WHERE id = 'agent_v8'`,
    );
    raw.close();

    const store = createSqliteStore({ path });
    try {
      const at = new Date(now).toISOString();
      await store.refreshScores(at);
      const month = await store.getAgentMetrics("agent_v8", "30d", at);
      expect(month).toMatchObject({
        calls: 100,
        successes: 90,
        clientErrors: 0,
        ranked: { calls: 100, successes: 90 },
      });
      expect((await store.getAgent("agent_v8"))?.scores).toEqual(
        scoreFromWindows(
          20_000,
          { calls: 100, successes: 90, totalResponseTimeMs: 20_000 },
          { healthChecks: 0, healthyChecks: 0 },
          { calls: 100, successes: 90 },
        ),
      );
      const later = new Date(now + 31 * 24 * 60 * 60_000).toISOString();
      await store.refreshScores(later);
      expect((await store.getAgent("agent_v8"))?.scores).toEqual(scoreAgent(20_000, EMPTY_COUNTERS));
      expect((await store.getAgentMetrics("agent_v8", "30d", later)).ranked).toEqual({
        calls: 0,
        successes: 0,
      });
    } finally {
      await store.close();
    }
  });
});
