// The selection benchmark (issue 17, section 5): a simulated market of sellers with hidden prices,
// success rates and latencies, a simulated broker computing its figures with the real formulas of
// @mercato/protocol from the calls it has seen, and the SDK's real `call()` (ranking, learning,
// exploration, accept test, retries and failover) buying from it through a fake transport. Time is
// simulated: an attempt advances the clock by the seller's latency. Only successes are paid.
//
// Score: the buyer's cost per useful answer = (money paid, garbage included, + waiting time × the
// value of time) ÷ useful answers, against an oracle that knows every seller's truth and always
// picks the one with the lowest expected cost per useful answer, (price × s + v × L) / (s × a).
import {
  type BuyerWindow,
  cappedBuyerWeights,
  categoryPrior,
  formatUsd,
  MercatoError,
  parseUsd,
  scoreFromWindows,
  successLowerBound,
} from "@mercato/protocol";
import { type CallTransport, createCall } from "../src/call/call.js";
import { seededRandom } from "../src/call/selection.js";

/** A seller's hidden truth over one period. */
interface Truth {
  /** USD per call. */
  price: number;
  /** Chance of a 2xx answer. */
  success: number;
  /** Mean time of an attempt, ms (uniform ±50%). */
  latencyMs: number;
  /** Time of a failed attempt, ms, when it differs (a timeout). */
  failureMs?: number;
  /** What a 2xx answer is: fine, outside the schema (voided by the broker), or empty (fails `accept`). */
  output?: "fine" | "breaks-schema" | "fails-accept";
}

interface SellerSpec {
  id: string;
  truth: Truth;
  /** From this call on (default: from the start). */
  appearsAt?: number;
  /** The truth from `changesAt` on. */
  changesAt?: number;
  later?: Truth;
  /** The broker's 30-day record before the run: other buyers' calls at this success rate. */
  history?: { calls: number; success: number; latencyMs: number };
}

/**
 * The market: 12 sellers; the newcomer appears half-way, and the degrader degrades at `degradeAt`
 * (half-way by default: then failing over from the degrader also brings the newcomer in; with
 * `--degrade-at 0.75` the newcomer must be found by exploration alone).
 */
function market(half: number, degradeAt: number): SellerSpec[] {
  const past = (truth: Truth, calls = 1000) => ({
    calls,
    success: truth.success,
    latencyMs: truth.latencyMs,
  });
  const spec = (id: string, truth: Truth, extra: Partial<SellerSpec> = {}): SellerSpec => ({
    id,
    truth,
    history: past(truth),
    ...extra,
  });
  return [
    spec("steady", { price: 0.02, success: 0.98, latencyMs: 800 }),
    spec("steady-slow", { price: 0.018, success: 0.95, latencyMs: 1200 }),
    spec("cheap-slow", { price: 0.01, success: 0.9, latencyMs: 3000 }),
    spec("fast-dear", { price: 0.035, success: 0.99, latencyMs: 300 }),
    spec("flaky-cheap", { price: 0.012, success: 0.6, latencyMs: 700 }),
    spec("middling", { price: 0.022, success: 0.97, latencyMs: 600 }),
    spec("overpriced", { price: 0.08, success: 0.99, latencyMs: 500 }),
    spec("timeouts", { price: 0.014, success: 0.85, latencyMs: 600, failureMs: 5000 }),
    // Cheapest of all and "successful" by its record, until its output changed shape: every answer
    // now breaks its schema. The broker voids them (never paid) and counts them as failures.
    spec(
      "schema-breaker",
      { price: 0.008, success: 1, latencyMs: 400, output: "breaks-schema" },
      { history: { calls: 1000, success: 0.97, latencyMs: 400 } },
    ),
    // Fits its schema and is paid, but its answers are empty: only the buyer's accept test sees it.
    spec("accept-failer", { price: 0.009, success: 0.99, latencyMs: 400, output: "fails-accept" }),
    // The best seller until half-way, then mostly failing and slow.
    spec(
      "degrader",
      { price: 0.015, success: 0.98, latencyMs: 500 },
      { changesAt: degradeAt, later: { price: 0.015, success: 0.4, latencyMs: 2500 } },
    ),
    // Appears half-way, with no record, better than all.
    {
      id: "newcomer",
      truth: { price: 0.012, success: 0.99, latencyMs: 300 },
      appearsAt: half,
    },
  ];
}

/** A seller's expected cost per useful answer, USD: what the oracle minimises. */
function trueCost(truth: Truth, timeValue: number): number {
  const accepted = truth.output === undefined || truth.output === "fine" ? 1 : 0;
  const paid = truth.output === "breaks-schema" ? 0 : truth.success;
  if (accepted === 0 || truth.success === 0) return Number.POSITIVE_INFINITY;
  const failureMs = truth.failureMs ?? truth.latencyMs;
  const meanMs = truth.success * truth.latencyMs + (1 - truth.success) * failureMs;
  return (truth.price * paid + (timeValue * meanMs) / 1000) / (truth.success * accepted);
}

/** The broker's record of one seller: the calls of the other buyers (before the run) and ours. */
interface Record30d {
  calls: number;
  successes: number;
  totalMs: number;
  others: BuyerWindow[];
  ours: BuyerWindow;
}

interface RunOptions {
  seed: number;
  calls: number;
  timeValue: number;
  /** Share of the run after which the degrader degrades. */
  degradeShare: number;
}

interface RunResult {
  sdkCost: number;
  oracleCost: number;
  useful: number;
  money: number;
  waitS: number;
  paid: Record<string, number>;
  firstChoice: string[];
  explored: number;
  half: number;
  degradeAt: number;
}

const BUYERS = 40;

async function run({ seed, calls, timeValue, degradeShare }: RunOptions): Promise<RunResult> {
  const half = Math.floor(calls / 2);
  const degradeAt = Math.floor(calls * degradeShare);
  const sellers = market(half, degradeAt);
  const random = seededRandom(seed);
  // The market's own randomness is a stream of its own, so that the SDK's draws do not shift it.
  const world = seededRandom(seed * 7919 + 17);
  let clock = 0;
  let callIndex = 0;

  const truthOf = (seller: SellerSpec): Truth =>
    seller.changesAt !== undefined && callIndex >= seller.changesAt && seller.later
      ? seller.later
      : seller.truth;
  const present = (seller: SellerSpec) => callIndex >= (seller.appearsAt ?? 0);

  const records = new Map<string, Record30d>();
  for (const seller of sellers) {
    const history = seller.history ?? { calls: 0, success: 0, latencyMs: 0 };
    const per = Math.floor(history.calls / BUYERS);
    const others: BuyerWindow[] = [];
    let successes = 0;
    for (let b = 0; b < BUYERS && per > 0; b++) {
      let ok = 0;
      for (let i = 0; i < per; i++) if (world() < history.success) ok++;
      successes += ok;
      others.push({ calls: per, units: per * 4, successUnits: ok * 4 });
    }
    records.set(seller.id, {
      calls: per * others.length,
      successes,
      totalMs: per * others.length * history.latencyMs,
      others,
      ours: { calls: 0, units: 0, successUnits: 0 },
    });
  }

  /** What the broker's search answers now: its figures from its records, with the protocol's formulas. */
  const search: CallTransport["search"] = async () => {
    const visible = sellers.filter(present);
    const ranked = new Map(
      visible.map((seller) => {
        const r = records.get(seller.id) as Record30d;
        const top = [...r.others, r.ours];
        const units = top.reduce((sum, b) => sum + b.units, 0);
        const successUnits = top.reduce((sum, b) => sum + b.successUnits, 0);
        return [seller.id, cappedBuyerWeights(units, successUnits, top)] as const;
      }),
    );
    const prior = categoryPrior([...ranked.values()]);
    const results = visible.map((seller) => {
      const r = records.get(seller.id) as Record30d;
      const rank = ranked.get(seller.id) as { calls: number; successes: number };
      const price = truthOf(seller).price;
      const priceMicros = Number(parseUsd(price));
      const scores = scoreFromWindows(
        priceMicros,
        { calls: r.calls, successes: r.successes, totalResponseTimeMs: r.totalMs },
        { healthChecks: 0, healthyChecks: 0 },
        rank,
      );
      const lower = successLowerBound(rank.successes, rank.calls, prior);
      return {
        agent_id: seller.id,
        name: seller.id,
        description: "",
        owner_id: "acct_bench",
        category: "summaries",
        tags: [],
        version: "1.0.0",
        status: "active" as const,
        price_per_call: price,
        currency: "USD" as const,
        success_rate: r.calls > 0 ? r.successes / r.calls : null,
        avg_response_time_ms: r.calls > 0 ? r.totalMs / r.calls : null,
        uptime_24h: null,
        total_calls: r.calls,
        trust_score: scores.trustScore,
        cost_per_success: price / lower,
        ranking: { success_rate: scores.successRate, success_lower_bound: lower, category_prior: prior },
      };
    });
    results.sort((a, b) => a.cost_per_success - b.cost_per_success);
    // The generated types predate the figures of issue 17 (nullable figures, `ranking`).
    return { results } as unknown as Awaited<ReturnType<CallTransport["search"]>>;
  };

  let money = 0;
  let waitMs = 0;
  const paid: Record<string, number> = Object.fromEntries(sellers.map((s) => [s.id, 0]));

  const invoke: CallTransport["invoke"] = async (agentId) => {
    const seller = sellers.find((s) => s.id === agentId) as SellerSpec;
    const truth = truthOf(seller);
    const r = records.get(agentId) as Record30d;
    const ok = world() < truth.success;
    const mean = ok ? truth.latencyMs : (truth.failureMs ?? truth.latencyMs);
    const ms = truth.failureMs !== undefined && !ok ? mean : mean * (0.5 + world());
    clock += ms;
    waitMs += ms;
    // The broker counts a 2xx outside the schema as a failure, and voids it.
    const counted = ok && truth.output !== "breaks-schema";
    r.calls++;
    r.totalMs += ms;
    r.ours.calls++;
    r.ours.units += 4;
    if (counted) {
      r.successes++;
      r.ours.successUnits += 4;
    }
    if (!ok) {
      throw truth.failureMs !== undefined
        ? new MercatoError("SELLER_TIMEOUT", "The seller did not answer in time", {
            details: { cost_usd: "0.000000" },
          })
        : new MercatoError("SELLER_ERROR", "The seller failed", {
            details: { seller_status: 500, cost_usd: "0.000000" },
          });
    }
    if (truth.output === "breaks-schema") {
      throw new MercatoError("SELLER_ERROR", "The seller's output does not match its output schema", {
        details: { reason: "output_schema", seller_status: 200, cost_usd: "0.000000" },
      });
    }
    money += truth.price;
    paid[agentId] = (paid[agentId] ?? 0) + 1;
    return {
      output: truth.output === "fails-accept" ? { summary: "" } : { summary: "A useful summary." },
      cost: truth.price,
      cost_usd: formatUsd(parseUsd(truth.price)),
      metrics: { response_time_ms: Math.round(ms), seller_id: agentId },
      transaction_id: `txn_${callIndex}`,
      receipt: { payload: {}, jws: "x.y.z" },
    } as unknown as Awaited<ReturnType<CallTransport["invoke"]>>;
  };

  const call = createCall(
    {
      search,
      invoke,
      direct: () => Promise.reject(new Error("The benchmark runs in proxy mode")),
    },
    { random, now: () => clock },
  );

  let useful = 0;
  let oracleTotal = 0;
  let explored = 0;
  const firstChoice: string[] = [];
  for (callIndex = 0; callIndex < calls; callIndex++) {
    oracleTotal += Math.min(...sellers.filter(present).map((s) => trueCost(truthOf(s), timeValue)));
    try {
      const result = await call({
        category: "summaries",
        input: { text: "..." },
        timeValueUsdPerSecond: timeValue,
        backoff: { baseMs: 0, maxMs: 0 },
        accept: (output) => ((output as { summary?: string }).summary ? true : "empty summary"),
        onAttempt: (attempt) => {
          if (attempt.attempt === 1 && firstChoice.length === callIndex) firstChoice.push(attempt.agentId);
          if (attempt.explored && attempt.attempt === 1) explored++;
          if (process.env.BENCH_DEBUG && attempt.agentId === "accept-failer")
            process.stdout.write(`  accept-failer at call ${callIndex}: ${JSON.stringify(attempt)}\n`);
        },
      });
      if (result.output) useful++;
    } catch {
      // Every candidate failed: time spent, no useful answer.
    }
    if (firstChoice.length === callIndex) firstChoice.push("(none)");
  }
  const sdkCost = (money + (waitMs / 1000) * timeValue) / Math.max(1, useful);
  return {
    sdkCost,
    oracleCost: oracleTotal / calls,
    useful,
    money,
    waitS: waitMs / 1000,
    paid,
    firstChoice,
    explored,
    half,
    degradeAt,
  };
}

/** From which call after `from` the agent holds more than `share` of the next 50 first choices. */
function firstWindow(choices: string[], from: number, agent: string, test: (share: number) => boolean) {
  for (let k = 0; from + k + 50 <= choices.length; k++) {
    const window = choices.slice(from + k, from + k + 50);
    if (test(window.filter((c) => c === agent).length / 50)) return k;
  }
  return Number.POSITIVE_INFINITY;
}

function parseArgs(argv: string[]) {
  const value = (name: string) => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  return {
    seeds: (value("seeds") ?? "1,2,3").split(",").map(Number),
    calls: Number(value("calls") ?? 5000),
    timeValue: Number(value("time-value") ?? 0.01),
    degradeShare: Number(value("degrade-at") ?? 0.5),
  };
}

/** Runs the benchmark for each seed, prints each target and whether it is met; 0 when all are. */
export async function main(argv: string[]): Promise<number> {
  const { seeds, calls, timeValue, degradeShare } = parseArgs(argv);
  process.stdout.write(
    `Selection benchmark: 12 sellers, ${calls} calls, time valued at $${timeValue}/s, the newcomer from call ${Math.floor(calls / 2)}, the degrader degrading at call ${Math.floor(calls * degradeShare)}, seeds ${seeds.join(", ")}\n`,
  );
  let allMet = true;
  for (const seed of seeds) {
    const r = await run({ seed, calls, timeValue, degradeShare });
    if (process.env.BENCH_DEBUG) {
      for (let b = 0; b < calls; b += 250) {
        const block = r.firstChoice.slice(b, b + 250);
        const counts: Record<string, number> = {};
        for (const c of block) counts[c] = (counts[c] ?? 0) + 1;
        process.stdout.write(`  ${b}: ${JSON.stringify(counts)}\n`);
      }
    }
    const gap = r.sdkCost / r.oracleCost - 1;
    const degraderBefore =
      r.firstChoice.slice(r.degradeAt - 500, r.degradeAt).filter((c) => c === "degrader").length / 500;
    const newcomerAt = firstWindow(r.firstChoice, r.half, "newcomer", (share) => share > 0.5);
    const degraderAt = firstWindow(
      r.firstChoice,
      r.degradeAt,
      "degrader",
      (share) => share < degraderBefore / 2,
    );
    const targets: Array<[string, string, boolean]> = [
      [
        "cost per useful answer within 5% of the oracle",
        `$${r.sdkCost.toFixed(5)} vs $${r.oracleCost.toFixed(5)} (${(gap * 100).toFixed(2)}%)`,
        gap <= 0.05,
      ],
      ["schema-breaking seller paid 0 times", `${r.paid["schema-breaker"]}`, r.paid["schema-breaker"] === 0],
      [
        "accept-failing seller paid at most 5 times",
        `${r.paid["accept-failer"]}`,
        (r.paid["accept-failer"] ?? 0) <= 5,
      ],
      [
        "newcomer gets most calls within 200 calls of appearing",
        `majority of the 50 calls from call ${newcomerAt} after it appeared`,
        newcomerAt <= 200,
      ],
      [
        "degraded seller loses most of its traffic within 50 calls",
        degraderBefore < 0.1
          ? `had ${(degraderBefore * 100).toFixed(0)}% of calls before degrading: no traffic to lose (the newcomer took it)`
          : `had ${(degraderBefore * 100).toFixed(0)}% of calls; under half that from call ${degraderAt} after degrading`,
        degraderBefore < 0.1 || degraderAt <= 50,
      ],
    ];
    process.stdout.write(
      `\nseed ${seed}: ${r.useful}/${calls} useful answers, $${r.money.toFixed(4)} paid, ${r.waitS.toFixed(0)} s waited, ${r.explored} calls explored (${((100 * r.explored) / calls).toFixed(1)}%)\n`,
    );
    for (const [name, figure, met] of targets) {
      allMet &&= met;
      process.stdout.write(`  ${met ? "met    " : "NOT MET"}  ${name}: ${figure}\n`);
    }
    const shares = Object.entries(r.paid)
      .filter(([, n]) => n > 0)
      .sort(([, a], [, b]) => b - a)
      .map(([id, n]) => `${id} ${n}`)
      .join(", ");
    process.stdout.write(`  paid calls: ${shares}\n`);
  }
  return allMet ? 0 : 1;
}
