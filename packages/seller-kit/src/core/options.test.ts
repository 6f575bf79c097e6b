import { DEFAULT_REPLAY_WINDOW_SECONDS } from "@mercato/protocol";
import { describe, expect, it } from "vitest";
import { checkOptions } from "./options.js";

describe("checkOptions", () => {
  it("fills in the defaults", () => {
    const settings = checkOptions({ handler: () => 1, broker: "https://broker.example" });
    expect(settings).toMatchObject({
      verify: true,
      replayWindowSeconds: DEFAULT_REPLAY_WINDOW_SECONDS,
      maxBodyBytes: 1024 * 1024,
      metricsPath: undefined,
      now: Date.now,
      direct: undefined,
    });
  });

  it("times the handler with the given clock, and resolves the metrics path", () => {
    const now = () => 42;
    const settings = checkOptions({
      handler: () => 1,
      verify: false,
      now,
      metrics: { path: "/internal/metrics/?x" },
    });
    expect(settings.clock).toBe(now);
    expect(settings.metricsPath).toBe("/internal/metrics");
    expect(checkOptions({ handler: () => 1, verify: false, metrics: true }).metricsPath).toBe("/metrics");
  });

  it("refuses what the kit cannot run with", () => {
    expect(() => checkOptions({ handler: undefined as never, verify: false })).toThrow(
      /handler must be a function/,
    );
    expect(() => checkOptions({ handler: () => 1, verify: false, input: {} as never })).toThrow(
      /Standard Schema/,
    );
    expect(() => checkOptions({ handler: () => 1, direct: {} })).toThrow(/direct mode redeems vouchers/);
    expect(() =>
      checkOptions({ handler: () => 1, broker: "https://b.example", direct: { redeemIntervalMs: 0 } }),
    ).toThrow(/redeemIntervalMs/);
  });
});
