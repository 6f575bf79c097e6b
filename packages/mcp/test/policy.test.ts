// The spending policy on its own: what `parsePolicy` refuses, and a meter that concurrent calls, day
// rolls and odd commits can never push past a budget. Money is bigint micro-USD, compared exactly.
import { isMercatoError, type MercatoError } from "@mercato/protocol/errors";
import { describe, expect, it } from "vitest";
import {
  checkListing,
  createPolicyMeter,
  describePolicy,
  parsePolicy,
  type SpendingPolicy,
  type SpentSince,
} from "../src/policy.js";

function caught(run: () => unknown): MercatoError {
  try {
    run();
  } catch (error) {
    if (isMercatoError(error)) return error;
    throw error;
  }
  throw new Error("expected a MercatoError");
}

const policy = (overrides: Partial<SpendingPolicy>): SpendingPolicy => ({
  maxPriceMicros: null,
  sessionBudgetMicros: null,
  dailyBudgetMicros: null,
  categories: null,
  agents: null,
  ...overrides,
});

/** A fake broker reading of the day's spending that counts its calls and what it was asked. */
function fakeSpent(spent: (since: Date) => bigint) {
  const calls: Array<{ since: string; atLeast: bigint }> = [];
  const spentSince: SpentSince = async (since, atLeast) => {
    calls.push({ since: since.toISOString(), atLeast });
    return spent(since);
  };
  return { calls, spentSince };
}

describe("parsePolicy", () => {
  it.each([
    ["abc"],
    ["0.1234567"],
    ["0.0000001"],
    ["-0.01"],
    ["-1"],
    ["1e3"],
    ["0x10"],
    ["NaN"],
    ["Infinity"],
    ["1,50"],
    ["99999999999999999999"],
  ])("refuses the amount %j with INVALID_AMOUNT naming the flag", (bad) => {
    for (const [key, flag] of [
      ["maxPrice", "--max-price"],
      ["budget", "--budget"],
      ["dailyBudget", "--daily-budget"],
    ] as const) {
      const error = caught(() => parsePolicy({ [key]: bad }));
      expect(error.code).toBe("INVALID_AMOUNT");
      expect(error.message).toContain(flag);
    }
  });

  it("reads amounts exactly, to the micro, trimming spaces; unset or blank means no limit", () => {
    const read = parsePolicy({ maxPrice: " 0.025 ", budget: "0.123456", dailyBudget: "12" });
    expect(read.maxPriceMicros).toBe(25_000n);
    expect(read.sessionBudgetMicros).toBe(123_456n);
    expect(read.dailyBudgetMicros).toBe(12_000_000n);
    expect(parsePolicy({})).toEqual(policy({}));
    expect(parsePolicy({ budget: "  " }).sessionBudgetMicros).toBeNull();
    // A zero budget is a budget: nothing paid may be spent.
    expect(parsePolicy({ budget: "0" }).sessionBudgetMicros).toBe(0n);
  });

  it.each([[""], [" , ,"], [","], [[] as string[]], [["", "  "]]])(
    "refuses an empty list %j with VALIDATION_ERROR",
    (empty) => {
      for (const [key, flag] of [
        ["categories", "--categories"],
        ["agents", "--agents"],
      ] as const) {
        const error = caught(() => parsePolicy({ [key]: empty }));
        expect(error.code).toBe("VALIDATION_ERROR");
        expect(error.message).toContain(flag);
      }
    },
  );

  it("trims lists and drops duplicates and blanks", () => {
    const read = parsePolicy({
      categories: " text , ,images,text",
      agents: ["agent_a", " agent_a ", "agent_b"],
    });
    expect(read.categories).toEqual(["text", "images"]);
    expect(read.agents).toEqual(["agent_a", "agent_b"]);
  });

  it("describes itself in USD strings", () => {
    expect(describePolicy(parsePolicy({ maxPrice: "0.5", budget: "2", categories: "text" }))).toEqual({
      max_price_per_call_usd: "0.500000",
      session_budget_usd: "2.000000",
      daily_budget_usd: null,
      allowed_categories: ["text"],
      allowed_agents: null,
    });
  });
});

describe("checkListing", () => {
  const listing = { agentId: "agent_ok", category: "text", priceMicros: 20_000n };

  it("refuses an agent not on the allow-list, naming the limit", () => {
    const error = caught(() => checkListing(policy({ agents: ["agent_other"] }), listing));
    expect(error.code).toBe("FORBIDDEN");
    expect(error.details).toMatchObject({ limit: "agents", allowed_agents: ["agent_other"] });
    expect(error.message).toContain("Nothing was charged");
  });

  it("refuses a category not allowed, naming the limit", () => {
    const error = caught(() => checkListing(policy({ categories: ["images"] }), listing));
    expect(error.code).toBe("FORBIDDEN");
    expect(error.details).toMatchObject({ limit: "categories", allowed_categories: ["images"] });
  });

  it("checks the category exactly (no prefix, no case folding)", () => {
    expect(() => checkListing(policy({ categories: ["tex"] }), listing)).toThrow();
    expect(() => checkListing(policy({ categories: ["TEXT"] }), listing)).toThrow();
    expect(() => checkListing(policy({ agents: ["AGENT_OK"] }), listing)).toThrow();
  });

  it("refuses a price one micro above the ceiling, allows the ceiling itself", () => {
    const error = caught(() => checkListing(policy({ maxPriceMicros: 19_999n }), listing));
    expect(error.code).toBe("BUDGET_EXCEEDED");
    expect(error.details).toMatchObject({
      limit: "max_price",
      price_usd: "0.020000",
      max_price_per_call_usd: "0.019999",
    });
    expect(() => checkListing(policy({ maxPriceMicros: 20_000n }), listing)).not.toThrow();
  });

  it("allows what every limit allows", () => {
    expect(() =>
      checkListing(
        policy({ agents: ["agent_ok"], categories: ["text", "images"], maxPriceMicros: 20_000n }),
        listing,
      ),
    ).not.toThrow();
  });
});

describe("createPolicyMeter", () => {
  it("refuses to reserve before ready()", () => {
    const meter = createPolicyMeter(policy({ sessionBudgetMicros: 10n }), fakeSpent(() => 0n).spentSince);
    expect(() => meter.reserve(1n, "agent_a")).toThrow(/before ready/);
  });

  it("100 concurrent reservations never together pass the session budget", async () => {
    const budget = 500_000n;
    const meter = createPolicyMeter(policy({ sessionBudgetMicros: budget }), fakeSpent(() => 0n).spentSince);
    await meter.ready();
    const prices = Array.from({ length: 100 }, (_, i) => 7_777n + BigInt(i) * 131n);
    const outcomes = await Promise.all(
      prices.map(async (price) => {
        try {
          meter.reserve(price, "agent_a");
          return price;
        } catch (error) {
          expect(isMercatoError(error) && error.code).toBe("BUDGET_EXCEEDED");
          expect((error as MercatoError).details?.limit).toBe("session_budget");
          return 0n;
        }
      }),
    );
    const accepted = outcomes.reduce((a, b) => a + b, 0n);
    expect(accepted).toBeLessThanOrEqual(budget);
    // Some were refused (the prices add up to far more than the budget), some accepted.
    expect(outcomes.filter((o) => o === 0n).length).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0n);
    expect(meter.remaining()).toBe(budget - accepted);
    const snapshot = await meter.snapshot();
    expect(snapshot.session.reserved_usd).toBe(formatMicros(accepted));
    expect(snapshot.session.spent_usd).toBe("0.000000");
  });

  it("100 concurrent calls that each await ready() read the day once and never pass the daily budget", async () => {
    const fake = fakeSpent(() => 123_456n);
    const budget = 1_000_000n;
    const meter = createPolicyMeter(
      policy({ dailyBudgetMicros: budget }),
      fake.spentSince,
      () => new Date("2026-12-08T10:00:00.000Z"),
    );
    const reservations = await Promise.all(
      Array.from({ length: 100 }, async () => {
        await meter.ready();
        try {
          return meter.reserve(10_001n, "agent_a");
        } catch (error) {
          expect((error as MercatoError).details).toMatchObject({ limit: "daily_budget" });
          return undefined;
        }
      }),
    );
    expect(fake.calls).toEqual([{ since: "2026-12-08T00:00:00.000Z", atLeast: budget }]);
    const accepted = reservations.filter((r) => r !== undefined);
    // floor((1_000_000 - 123_456) / 10_001) = 87 fit, exactly.
    expect(accepted.length).toBe(87);
    expect(meter.remaining()).toBe(budget - 123_456n - 87n * 10_001n);
    // Each committed for what it reserved: the day's spending counts them, the meter stays within.
    for (const reservation of accepted) reservation?.commit(10_001n);
    const snapshot = await meter.snapshot();
    expect(snapshot.today).toEqual({
      date: "2026-12-08",
      spent_usd: formatMicros(123_456n + 87n * 10_001n),
      reserved_usd: "0.000000",
      remaining_usd: formatMicros(budget - 123_456n - 87n * 10_001n),
    });
  });

  it("refusals name the limit and what is left: the session's first, then the day's", async () => {
    const meter = createPolicyMeter(
      policy({ sessionBudgetMicros: 50_000n, dailyBudgetMicros: 100_000n }),
      fakeSpent(() => 70_000n).spentSince,
    );
    await meter.ready();
    // Day has 30_000 left, session 50_000: a 40_000 call passes the session but not the day.
    const day = caught(() => meter.reserve(40_000n, "agent_dear"));
    expect(day.code).toBe("BUDGET_EXCEEDED");
    expect(day.details).toEqual({
      limit: "daily_budget",
      price_usd: "0.040000",
      remaining_usd: "0.030000",
      agent_id: "agent_dear",
    });
    // A 60_000 call passes neither: the session's budget is named.
    expect(caught(() => meter.reserve(60_000n, "agent_x")).details).toMatchObject({
      limit: "session_budget",
      remaining_usd: "0.050000",
    });
    // Exactly what is left fits; one micro more does not.
    const all = meter.reserve(30_000n, "agent_a");
    expect(meter.remaining()).toBe(0n);
    expect(caught(() => meter.reserve(1n, "agent_a")).details).toMatchObject({
      limit: "daily_budget",
      remaining_usd: "0.000000",
    });
    all.release();
    expect(meter.remaining()).toBe(30_000n);
    expect(meter.figures()).toEqual({ session: "0.050000", today: "0.030000" });
  });

  it("release gives the money back; a second commit or release is a no-op", async () => {
    const meter = createPolicyMeter(
      policy({ sessionBudgetMicros: 100_000n }),
      fakeSpent(() => 0n).spentSince,
    );
    await meter.ready();
    const a = meter.reserve(40_000n, "agent_a");
    expect(meter.remaining()).toBe(60_000n);
    a.release();
    expect(meter.remaining()).toBe(100_000n);
    a.release();
    a.commit(40_000n);
    expect(meter.remaining()).toBe(100_000n);

    const b = meter.reserve(40_000n, "agent_a");
    b.commit(25_000n);
    expect(meter.remaining()).toBe(75_000n);
    // Neither a second commit nor a release after it changes anything.
    b.commit(25_000n);
    b.release();
    expect(meter.remaining()).toBe(75_000n);
    const snapshot = await meter.snapshot();
    expect(snapshot.session).toEqual({
      spent_usd: "0.025000",
      reserved_usd: "0.000000",
      remaining_usd: "0.075000",
    });
  });

  it("a commit above the reservation counts the larger amount", async () => {
    const meter = createPolicyMeter(
      policy({ sessionBudgetMicros: 100_000n, dailyBudgetMicros: 1_000_000n }),
      fakeSpent(() => 0n).spentSince,
    );
    await meter.ready();
    meter.reserve(10_000n, "agent_a").commit(35_000n);
    expect(meter.remaining()).toBe(65_000n);
    const snapshot = await meter.snapshot();
    expect(snapshot.session.spent_usd).toBe("0.035000");
    expect(snapshot.today.spent_usd).toBe("0.035000");
    // Remaining never shows negative, even when a commit overshoots the budget.
    meter.reserve(65_000n, "agent_a").commit(80_000n);
    expect(meter.remaining()).toBe(-15_000n);
    expect(meter.figures().session).toBe("0.000000");
    expect(caught(() => meter.reserve(0n + 1n, "agent_a")).details).toMatchObject({
      limit: "session_budget",
      remaining_usd: "0.000000",
    });
  });

  it("reads the day's spending once per UTC day, and again when the day rolls", async () => {
    let clock = new Date("2026-12-08T23:59:59.000Z");
    const fake = fakeSpent((since) => (since.toISOString().startsWith("2026-12-08") ? 90_000n : 5_000n));
    const meter = createPolicyMeter(policy({ dailyBudgetMicros: 100_000n }), fake.spentSince, () => clock);
    await meter.ready();
    await meter.ready();
    await meter.snapshot();
    expect(fake.calls).toHaveLength(1);
    expect(meter.remaining()).toBe(10_000n);
    expect(caught(() => meter.reserve(10_001n, "agent_a")).details).toMatchObject({
      limit: "daily_budget",
      remaining_usd: "0.010000",
    });
    const spentToday = meter.reserve(10_000n, "agent_a");
    spentToday.commit(10_000n);
    expect(meter.remaining()).toBe(0n);

    clock = new Date("2026-12-09T00:00:00.001Z");
    await meter.ready();
    await meter.ready();
    expect(fake.calls).toEqual([
      { since: "2026-12-08T00:00:00.000Z", atLeast: 100_000n },
      { since: "2026-12-09T00:00:00.000Z", atLeast: 100_000n },
    ]);
    // The new day has its own budget, less what the broker says it spent so far.
    expect(meter.remaining()).toBe(95_000n);
    expect((await meter.snapshot()).today).toMatchObject({ date: "2026-12-09", spent_usd: "0.005000" });
    expect(fake.calls).toHaveLength(2);
  });

  it("a session budget holds across the day roll", async () => {
    let clock = new Date("2026-12-08T23:00:00.000Z");
    const fake = fakeSpent(() => 0n);
    const meter = createPolicyMeter(
      policy({ sessionBudgetMicros: 30_000n, dailyBudgetMicros: 1_000_000n }),
      fake.spentSince,
      () => clock,
    );
    await meter.ready();
    meter.reserve(20_000n, "agent_a").commit(20_000n);
    clock = new Date("2026-12-09T01:00:00.000Z");
    await meter.ready();
    expect(caught(() => meter.reserve(20_000n, "agent_a")).details).toMatchObject({
      limit: "session_budget",
      remaining_usd: "0.010000",
    });
  });

  it("a failed reading of the day is not kept: the next ready() asks again", async () => {
    let fail = true;
    let calls = 0;
    const meter = createPolicyMeter(policy({ dailyBudgetMicros: 100n }), async () => {
      calls += 1;
      if (fail) throw new Error("broker down");
      return 0n;
    });
    await expect(meter.ready()).rejects.toThrow("broker down");
    expect(() => meter.reserve(1n, "agent_a")).toThrow(/before ready/);
    fail = false;
    await meter.ready();
    expect(calls).toBe(2);
    expect(meter.remaining()).toBe(100n);
  });

  it("without a daily budget never asks the broker, and has no remaining figure", async () => {
    const fake = fakeSpent(() => 999n);
    const meter = createPolicyMeter(policy({}), fake.spentSince);
    await meter.ready();
    meter.reserve(10n ** 12n, "agent_a").commit(10n ** 12n);
    expect(fake.calls).toEqual([]);
    expect(meter.remaining()).toBeNull();
    expect(meter.figures()).toEqual({ session: null, today: null });
  });
});

function formatMicros(micros: bigint): string {
  const whole = micros / 1_000_000n;
  const fraction = (micros % 1_000_000n).toString().padStart(6, "0");
  return `${whole}.${fraction}`;
}
