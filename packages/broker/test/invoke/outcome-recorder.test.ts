import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createOutcomeRecorder } from "../../src/invoke/outcome-recorder.js";
import type { CallOutcome } from "../../src/metrics/port.js";

const outcome: CallOutcome = { agentId: "agent_a", buyerId: "acct_b", outcome: "success", responseTimeMs: 5 };

describe("outcome recorder bounds", () => {
  it("holds at most maxQueued outcomes for a stalled store, dropping later batches, never more", async () => {
    let release: () => void = () => {};
    const stalled = new Promise<void>((resolve) => {
      release = resolve;
    });
    const written: number[] = [];
    const recorder = createOutcomeRecorder({
      store: {
        async recordCallOutcomes(outcomes) {
          await stalled;
          written.push(outcomes.length);
        },
      },
      log: pino({ level: "silent" }),
      now: () => new Date(0),
      intervalMs: 3_600_000,
      maxBuffered: 100,
      maxQueued: 1_000,
    });
    // A flood while the store is stalled: 100,000 outcomes, 1,000 batches.
    for (let i = 0; i < 100_000; i++) recorder.record(outcome);
    release();
    await recorder.close();
    expect(written.reduce((a, b) => a + b, 0)).toBe(1_000);
    // Once the store caught up, batches are written again.
    written.length = 0;
    const next = createOutcomeRecorder({
      store: {
        async recordCallOutcomes(outcomes) {
          written.push(outcomes.length);
        },
      },
      log: pino({ level: "silent" }),
      now: () => new Date(0),
      intervalMs: 3_600_000,
      maxBuffered: 100,
      maxQueued: 1_000,
    });
    for (let i = 0; i < 5_000; i++) {
      next.record(outcome);
      if (i % 100 === 99) await next.flush();
    }
    await next.close();
    expect(written.reduce((a, b) => a + b, 0)).toBe(5_000);
  });
});
