import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createUsageReporter, USAGE_REPORT_INTERVAL_MS, type UsageReportEntry } from "./reports.js";

function entry(sequence: number): UsageReportEntry {
  return {
    agent_id: "agent_reported1",
    grant_id: "grt_reported01",
    sequence,
    success: sequence % 2 === 1,
    response_time_ms: 12,
    at: "2026-03-01T12:00:00.000Z",
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("createUsageReporter", () => {
  it("sends nothing until the interval, then every outcome once, per key, in batches of at most 1,000", async () => {
    const sent: Array<[string, number[]]> = [];
    const reporter = createUsageReporter(async (key, reports) => {
      sent.push([key, reports.map((r) => r.sequence)]);
    });
    expect(vi.getTimerCount()).toBe(0);
    for (let n = 1; n <= 2_500; n++) reporter.add("sk_live_a", entry(n));
    reporter.add("sk_live_b", entry(1));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(USAGE_REPORT_INTERVAL_MS - 1);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.map(([key, sequences]) => [key, sequences.length, sequences[0]])).toEqual([
      ["sk_live_a", 1000, 1],
      ["sk_live_a", 1000, 1001],
      ["sk_live_a", 500, 2001],
      ["sk_live_b", 1, 1],
    ]);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(USAGE_REPORT_INTERVAL_MS * 3);
    expect(sent).toHaveLength(4);
  });

  it("flushes on demand, and drops a batch that fails without rejecting", async () => {
    const send = vi.fn(async () => {
      throw new Error("broker down");
    });
    const reporter = createUsageReporter(send, 1_000);
    await reporter.flush();
    expect(send).not.toHaveBeenCalled();
    reporter.add("sk_live_a", entry(1));
    await expect(reporter.flush()).resolves.toBeUndefined();
    expect(send).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
    // A failure on the timer is dropped too: nothing is left over to send.
    reporter.add("sk_live_a", entry(2));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(send).toHaveBeenCalledTimes(2);
    await reporter.flush();
    expect(send).toHaveBeenCalledTimes(2);
  });
});
