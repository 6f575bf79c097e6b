import { MercatoError } from "@mercato/protocol/errors";
import { describe, expect, it } from "vitest";
import { failure } from "../client/test-fixtures.js";
import { createCall } from "./call.js";
import { sampleBeta, seededRandom } from "./selection.js";
import type { CallAttempt, CallTransport } from "./types.js";

/** A listing as a broker with the figures of issue 17 answers it (nullable figures, `ranking`). */
interface Listing {
  id: string;
  price: number;
  /** Broker's figures: calls, success rate (smoothed) and mean time; 0 calls: a new listing. */
  calls: number;
  success?: number;
  latencyMs?: number;
  /** How the seller answers this client: ok, fails, or answers empty (fails the accept test). */
  behaves: "ok" | "fails" | "empty";
  /** How long an attempt takes on the test's clock, ms. */
  takesMs?: number;
}

/** A transport faking search and invoke on a clock of its own; counts attempts and charges. */
function market(listings: Listing[]) {
  let clock = 0;
  const invoked: string[] = [];
  const charged: string[] = [];
  const search: CallTransport["search"] = async () =>
    ({
      results: listings.map((l) => ({
        agent_id: l.id,
        status: "active",
        price_per_call: l.price,
        trust_score: 0.9,
        total_calls: l.calls,
        success_rate: l.calls > 0 ? (l.success ?? 0.99) : null,
        avg_response_time_ms: l.calls > 0 ? (l.latencyMs ?? 500) : null,
        // The broker's default order: the conservative cost per success.
        cost_per_success: l.price / (l.calls > 0 ? (l.success ?? 0.99) : 0.5),
        ranking: { success_rate: l.success ?? 0.99, success_lower_bound: 0.9, category_prior: 0.95 },
      })),
    }) as unknown as Awaited<ReturnType<CallTransport["search"]>>;
  const invoke: CallTransport["invoke"] = async (agentId) => {
    const listing = listings.find((l) => l.id === agentId) as Listing;
    invoked.push(agentId);
    clock += listing.takesMs ?? listing.latencyMs ?? 500;
    if (listing.behaves === "fails") {
      throw new MercatoError("SELLER_ERROR", "failed", { details: { seller_status: 500 } });
    }
    charged.push(agentId);
    return {
      output: listing.behaves === "empty" ? { summary: "" } : { summary: `from ${agentId}` },
      cost_usd: listing.price.toFixed(6),
      transaction_id: `txn_${invoked.length}`,
      receipt: { payload: {}, jws: "x.y.z" },
    } as unknown as Awaited<ReturnType<CallTransport["invoke"]>>;
  };
  const direct: CallTransport["direct"] = () => Promise.reject(new Error("proxy only"));
  return { transport: { search, invoke, direct }, invoked, charged, now: () => clock };
}

const accept = (output: unknown) => ((output as { summary?: string }).summary ? true : "empty summary");
const FAST = { baseMs: 0, maxMs: 0 };

describe("call() learns from its own outcomes", () => {
  it("demotes an agent that fails this buyer within a few calls, though the broker's figures still favour it", async () => {
    const m = market([
      { id: "agent_favoured", price: 0.01, calls: 5000, success: 0.99, behaves: "fails" },
      { id: "agent_steady", price: 0.012, calls: 5000, success: 0.98, behaves: "ok" },
    ]);
    const call = createCall(m.transport, { explore: 0, now: m.now });
    const firsts: string[] = [];
    for (let i = 0; i < 20; i++) {
      const result = await call({ input: i, retries: 0, backoff: FAST });
      firsts.push(result.attempts[0]?.agentId ?? "");
      expect(result.agentId).toBe("agent_steady");
    }
    // Tried first while its record outweighs this client's evidence, then never again.
    const tried = m.invoked.filter((id) => id === "agent_favoured").length;
    expect(tried).toBeGreaterThanOrEqual(1);
    expect(tried).toBeLessThanOrEqual(3);
    expect(firsts.slice(tried)).toEqual(Array(20 - tried).fill("agent_steady"));
  });

  it("without its own evidence, follows the broker's figures", async () => {
    const m = market([
      { id: "agent_a", price: 0.01, calls: 5000, success: 0.99, behaves: "ok" },
      { id: "agent_b", price: 0.012, calls: 5000, success: 0.98, behaves: "ok" },
    ]);
    const result = await createCall(m.transport, { explore: 0, now: m.now })({ input: 1 });
    expect(result.agentId).toBe("agent_a");
  });

  it("does not let a new listing outrank a proven one on its prior alone (exploit)", async () => {
    const m = market([
      { id: "agent_newcheap", price: 0.015, calls: 0, behaves: "ok" },
      { id: "agent_proven", price: 0.02, calls: 500, success: 0.98, latencyMs: 500, behaves: "ok" },
    ]);
    const result = await createCall(m.transport, { explore: 0, now: m.now })({ input: 1 });
    expect(result.agentId).toBe("agent_proven");
  });
});

describe("call({ accept })", () => {
  it("a rejected answer is paid, fails over, counts against the agent for this client, and is never reported", async () => {
    const m = market([
      { id: "agent_empty", price: 0.009, calls: 5000, success: 0.99, behaves: "empty" },
      { id: "agent_useful", price: 0.012, calls: 5000, success: 0.99, behaves: "ok" },
    ]);
    const call = createCall(m.transport, { explore: 0, now: m.now });
    const first = await call({ input: 1, accept });
    expect(first.agentId).toBe("agent_useful");
    expect(first.attempts.map((a: CallAttempt) => [a.agentId, a.ok, a.costUsd, a.rejected])).toEqual([
      ["agent_empty", false, "0.009000", "empty summary"],
      ["agent_useful", true, "0.012000", undefined],
    ]);
    // Not retried on the same seller: that would be paid again.
    expect(m.invoked).toEqual(["agent_empty", "agent_useful"]);
    for (let i = 0; i < 10; i++) await call({ input: i, accept });
    expect(m.charged.filter((id) => id === "agent_empty")).toHaveLength(1);
    // The transport has no way to report, and call() asks nothing else of it: the broker is not told.
    expect(m.invoked.filter((id) => id === "agent_empty")).toHaveLength(1);
  });

  it("every candidate rejected: ALL_CANDIDATES_FAILED, each rejected answer paid", async () => {
    const m = market([{ id: "agent_empty", price: 0.009, calls: 10, behaves: "empty" }]);
    const error = await failure(() =>
      createCall(m.transport, { explore: 0, now: m.now })({ input: 1, accept }),
    );
    expect(error.code).toBe("ALL_CANDIDATES_FAILED");
    expect(((error.details?.attempts ?? []) as CallAttempt[]).map((a) => a.costUsd)).toEqual(["0.009000"]);
  });
});

describe("call({ maxLatencyMs, timeValueUsdPerSecond })", () => {
  const listings: Listing[] = [
    { id: "agent_slowcheap", price: 0.01, calls: 1000, latencyMs: 4000, behaves: "ok" },
    { id: "agent_fastdear", price: 0.02, calls: 1000, latencyMs: 200, behaves: "ok" },
    { id: "agent_brandnew", price: 0.05, calls: 0, behaves: "ok" },
  ];

  it("ranks by price and time at the value of time: $0.01/s by default, money alone at 0", async () => {
    const m = market(listings);
    const call = createCall(m.transport, { explore: 0, now: m.now });
    expect((await call({ input: 1 })).agentId).toBe("agent_fastdear");
    expect((await call({ input: 1, timeValueUsdPerSecond: 0 })).agentId).toBe("agent_slowcheap");
  });

  it("leaves out agents measured slower than maxLatencyMs, keeps those not measured yet", async () => {
    const m = market(listings);
    const call = createCall(m.transport, { explore: 0, now: m.now });
    const result = await call({ input: 1, maxLatencyMs: 1000, timeValueUsdPerSecond: 0 });
    expect(result.agentId).toBe("agent_fastdear");
    // Below every measured agent: only the listing with no measured time yet is left.
    expect((await call({ input: 2, maxLatencyMs: 100 })).agentId).toBe("agent_brandnew");
    expect(m.invoked).not.toContain("agent_slowcheap");
  });

  it("learns latency from its own attempts: an agent slower for this client than its figure is left out", async () => {
    const m = market([
      { id: "agent_claims", price: 0.01, calls: 5, latencyMs: 300, takesMs: 5000, behaves: "ok" },
      { id: "agent_honest", price: 0.02, calls: 1000, latencyMs: 800, behaves: "ok" },
    ]);
    const call = createCall(m.transport, { explore: 0, now: m.now });
    expect((await call({ input: 1, maxLatencyMs: 1000, timeValueUsdPerSecond: 0 })).agentId).toBe(
      "agent_claims",
    );
    expect((await call({ input: 2, maxLatencyMs: 1000, timeValueUsdPerSecond: 0 })).agentId).toBe(
      "agent_honest",
    );
  });

  it("refuses a negative latency ceiling or value of time", async () => {
    const m = market(listings);
    const call = createCall(m.transport, { now: m.now });
    expect((await failure(() => call({ input: 1, maxLatencyMs: -1 }))).code).toBe("VALIDATION_ERROR");
    expect((await failure(() => call({ input: 1, timeValueUsdPerSecond: -0.1 }))).code).toBe(
      "VALIDATION_ERROR",
    );
  });
});

describe("exploration", () => {
  /** Ten proven agents of equal figures but one clearly best, and a promising newcomer. */
  const field = (): Listing[] => [
    { id: "agent_best", price: 0.01, calls: 5000, success: 0.99, latencyMs: 300, behaves: "ok" },
    ...Array.from({ length: 8 }, (_, i) => ({
      id: `agent_other${i}`,
      price: Number((0.02 + i * 0.002).toFixed(3)),
      calls: 5000,
      success: 0.97,
      latencyMs: 600,
      behaves: "ok" as const,
    })),
    // Cheaper than the best by enough to be worth a try, though its time is not known yet.
    { id: "agent_newcomer", price: 0.006, calls: 0, behaves: "ok", takesMs: 300 },
  ];

  async function run(explore: number | undefined, seed: number, n: number, clientExplore?: number) {
    const m = market(field());
    const call = createCall(m.transport, { explore: clientExplore, random: seededRandom(seed), now: m.now });
    let explored = 0;
    const firsts: string[] = [];
    for (let i = 0; i < n; i++) {
      const result = await call({ input: i, ...(explore !== undefined && { explore }) });
      if (result.attempts[0]?.explored) explored++;
      firsts.push(result.attempts[0]?.agentId ?? "");
    }
    return { explored, firsts };
  }

  it("explores at most the `explore` share of calls (binomial bound, 4σ), and a seeded RNG repeats its choices", async () => {
    const n = 2000;
    for (const seed of [1, 2, 3]) {
      const { explored } = await run(0.05, seed, n);
      // Exploring calls are Bernoulli(0.05); only those whose draw is not the exploit choice count.
      expect(explored).toBeLessThanOrEqual(n * 0.05 + 4 * Math.sqrt(n * 0.05 * 0.95));
      expect(explored).toBeGreaterThan(0);
    }
    expect((await run(0.05, 7, 300)).firsts).toEqual((await run(0.05, 7, 300)).firsts);
  });

  it("with a higher share, is bounded the same way and reaches the newcomer sooner", async () => {
    const n = 1000;
    const high = await run(0.3, 4, n);
    expect(high.explored).toBeLessThanOrEqual(n * 0.3 + 4 * Math.sqrt(n * 0.3 * 0.7));
    const low = await run(0.05, 4, n);
    expect(high.firsts.indexOf("agent_newcomer")).toBeLessThan(low.firsts.indexOf("agent_newcomer"));
  });

  it("finds a promising newcomer and moves to it once it has shown its worth", async () => {
    const { firsts } = await run(undefined, 5, 400);
    const last100 = firsts.slice(-100);
    expect(last100.filter((id) => id === "agent_newcomer").length).toBeGreaterThan(90);
  });

  it("never explores with explore 0 (the call's or the client's): every call goes to the exploit choice", async () => {
    for (const { explore, client } of [
      { explore: 0, client: undefined },
      { explore: undefined, client: 0 },
    ]) {
      const { explored, firsts } = await run(explore, 9, 500, client);
      expect(explored).toBe(0);
      expect(new Set(firsts)).toEqual(new Set(["agent_best"]));
    }
  });

  it("refuses a share outside 0–1", async () => {
    const m = market(field());
    expect(() => createCall(m.transport, { explore: 2 })).toThrow(/explore must be a number from 0 to 1/);
    expect((await failure(() => createCall(m.transport)({ input: 1, explore: -0.1 }))).code).toBe(
      "VALIDATION_ERROR",
    );
  });
});

describe("sampleBeta", () => {
  it("draws with the distribution's mean, from a seeded generator", () => {
    const random = seededRandom(11);
    for (const [a, b] of [
      [2, 8],
      [0.5, 0.5],
      [30, 3],
    ] as const) {
      const n = 4000;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += sampleBeta(a, b, random);
      const mean = a / (a + b);
      const sd = Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1)) / n);
      expect(Math.abs(sum / n - mean)).toBeLessThan(5 * sd);
    }
  });
});
