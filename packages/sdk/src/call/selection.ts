import { MercatoError } from "@mercato/protocol/errors";
import { parseUsd } from "@mercato/protocol/money";
import { RANKING, wilsonLowerBound } from "@mercato/protocol/trust";

/**
 * How `call()` chooses among the listings a search found, and how it learns from its own calls.
 *
 * The quantity ranked is the buyer's expected cost per useful answer. Only successes are paid, a
 * failed attempt costs the time it took, and an answer the buyer's `accept` test rejects is paid
 * and useless. With `s` the chance that an attempt succeeds (a 2xx answer that fits the agent's
 * output schema), `a` the chance that a paid answer passes the buyer's test, `L` the mean time of
 * an attempt and `v` the value of the buyer's time (USD per second):
 *
 *   cost per useful answer = (price × s + v × L) / (s × a)
 *
 * Each agent's `s` is a Beta posterior: the broker's figures from the search result are its prior,
 * worth at most {@link SELECTION}.priorMaxCalls pseudo-calls (2 for a listing with no calls, at its
 * category's prior), and this client's own outcomes with that agent are added to it, older ones
 * discounted by {@link SELECTION}.discount per newer outcome, so that an agent failing this buyer
 * (or starting to) is demoted within a few calls, without waiting for the broker's 30-day figures.
 * `a` is this client's alone (the broker never hears of a rejection): a Beta(½ + accepted,
 * ½ + rejected), taken as 1 until a first rejection. `L` blends the broker's measured mean with this client's
 * own attempts, the same way.
 *
 * Most calls exploit: they rank by the cost above with `s` (and `a`, once rejected) at the
 * posterior's lower confidence bound in the denominator (the broker's Wilson bound, z = 1.28), so that a listing has to earn its
 * place with evidence and a brand-new one does not outrank a proven one on its prior alone. A
 * bounded share of calls (`explore`, default 0.05) explores by Thompson sampling: `s` and `a` are
 * drawn from their posteriors and the agent with the lowest drawn cost goes first. Draws from a
 * wide posterior (little evidence) are often good ones, so promising new listings get the
 * exploration calls; a listing the evidence has condemned almost never wins a draw. At most the
 * `explore` share of calls can go anywhere but to the exploit choice; failed attempts cost no money,
 * so the price of exploring is mostly time.
 */
export const SELECTION = {
  /** The share of calls that explore when neither the client nor the call says. */
  explore: 0.05,
  /** USD per second of waiting: the default weight of latency against price ($36 an hour). */
  timeValueUsdPerSecond: 0.01,
  /** Most pseudo-calls the broker's figures are worth as a prior (against this client's own). */
  priorMaxCalls: 10,
  /** Pseudo-calls of a listing's category prior when it has no calls at all (the broker's own weight). */
  priorNewCalls: RANKING.priorWeight,
  /** Each newer outcome with an agent multiplies the weight of this client's older ones by this. */
  discount: 0.97,
  /** The one-sided normal quantile of the lower bound exploit ranks by (the broker's). */
  z: RANKING.z,
  /** The mean attempt time assumed for a listing with no measured time and no peer that has one, ms. */
  defaultLatencyMs: 1000,
} as const;

/**
 * The acceptance rate's prior, Beta(½, ½) (Jeffreys'): U-shaped, because a buyer's test mostly
 * passes or fails an agent's answers as a kind (the agent returns what the test wants, or it does
 * not), so a couple of rejections without an acceptance make a passing agent unlikely.
 */
const ACCEPT_PRIOR = 0.5;

/**
 * The figures of a search result that selection reads. Tolerant of brokers before and after the
 * `ranking` figures: `success_rate` and `avg_response_time_ms` may be null (no calls yet), and
 * `ranking` may be absent.
 */
export interface ListingFigures {
  agent_id: string;
  /** USD per call (a number or decimal string). */
  price_per_call: number | string;
  total_calls?: number;
  success_rate?: number | null;
  avg_response_time_ms?: number | null;
  ranking?: {
    success_rate?: number | null;
    success_lower_bound?: number | null;
    category_prior?: number | null;
  } | null;
}

/** What became of one attempt, for this client's learning. */
export type AttemptOutcome =
  /** Answered, paid, and accepted by the buyer. */
  | "useful"
  /** Answered and paid, but the buyer's `accept` test rejected the output. */
  | "rejected"
  /** The seller failed (error, timeout, unreachable, output outside its schema): not paid. */
  | "failed";

/** This client's own, discounted record of one agent. */
export interface AgentEvidence {
  useful: number;
  rejected: number;
  failed: number;
  /** Discounted number of timed attempts, and the discounted sum of their times (ms). */
  timedAttempts: number;
  totalMs: number;
}

/** How one `call()` ranks. */
export interface RankOptions {
  /** Share of calls that explore, 0–1. */
  explore: number;
  /** USD per second of waiting. */
  timeValueUsdPerSecond: number;
  /** Listings whose estimated mean attempt time is above this are left out, ms. */
  maxLatencyMs?: number | undefined;
}

/** A ranking: the listings best first, and the one exploration moved to the front, if any. */
export interface Ranking<T> {
  order: T[];
  /** The listing a Thompson draw put first when it is not the exploit choice. */
  explored: T | undefined;
  /** The listings `maxLatencyMs` left out. */
  tooSlow: T[];
}

/** One client's selection: its ranking and what it has learned of each agent. */
export interface Selector {
  rank<T extends ListingFigures>(listings: readonly T[], options: RankOptions): Ranking<T>;
  /** Adds an attempt's outcome with an agent, and how long it took (ms), to this client's record. */
  record(agentId: string, outcome: AttemptOutcome, durationMs: number): void;
  /** This client's record of an agent (undefined before its first attempt). */
  evidence(agentId: string): Readonly<AgentEvidence> | undefined;
  /** The estimates ranking uses for a listing, given its peers (for the mean time of a new listing). */
  estimate(listing: ListingFigures, peers?: readonly ListingFigures[]): Estimate;
}

/** An agent's estimates: the posterior of `s`, the acceptance counts and the mean attempt time. */
export interface Estimate {
  priceUsd: number;
  /** Beta posterior of the success rate. */
  alpha: number;
  beta: number;
  /** Accepted and rejected answers (this client's, discounted). */
  accepted: number;
  rejected: number;
  /** Estimated mean attempt time, ms, and whether anything measured it. */
  latencyMs: number;
  latencyKnown: boolean;
}

/**
 * Makes a client's selector. `random` is a uniform draw in [0, 1) (`Math.random` by default):
 * pass a seeded one to make exploration reproducible.
 */
export function createSelector(random: () => number = Math.random): Selector {
  const record = new Map<string, AgentEvidence>();

  const estimate = (listing: ListingFigures, peers: readonly ListingFigures[] = []): Estimate => {
    const own = record.get(listing.agent_id);
    const prior = brokerPrior(listing);
    const latencyPrior = latencyPriorOf(listing, peers);
    const timed = own?.timedAttempts ?? 0;
    const latencyWeight = latencyPrior.weight + timed;
    return {
      priceUsd: Number(parseUsd(listing.price_per_call)) / 1e6,
      // A rejected answer was a success as far as the seller's contract goes: it was paid.
      alpha: prior.weight * prior.rate + (own?.useful ?? 0) + (own?.rejected ?? 0),
      beta: prior.weight * (1 - prior.rate) + (own?.failed ?? 0),
      accepted: own?.useful ?? 0,
      rejected: own?.rejected ?? 0,
      latencyMs:
        latencyWeight > 0
          ? (latencyPrior.weight * latencyPrior.ms + (own?.totalMs ?? 0)) / latencyWeight
          : latencyPrior.ms,
      latencyKnown: latencyPrior.known || timed > 0,
    };
  };

  return {
    estimate,
    evidence: (agentId) => record.get(agentId),
    record(agentId, outcome, durationMs) {
      const seen = record.get(agentId) ?? {
        useful: 0,
        rejected: 0,
        failed: 0,
        timedAttempts: 0,
        totalMs: 0,
      };
      const d = SELECTION.discount;
      seen.useful = seen.useful * d + (outcome === "useful" ? 1 : 0);
      seen.rejected = seen.rejected * d + (outcome === "rejected" ? 1 : 0);
      seen.failed = seen.failed * d + (outcome === "failed" ? 1 : 0);
      seen.timedAttempts = seen.timedAttempts * d + 1;
      seen.totalMs = seen.totalMs * d + Math.max(0, durationMs);
      record.set(agentId, seen);
    },
    rank(listings, options) {
      const estimates = listings.map((listing) => ({ listing, estimate: estimate(listing, listings) }));
      const tooSlow = estimates.filter(
        ({ estimate }) =>
          options.maxLatencyMs !== undefined &&
          estimate.latencyKnown &&
          estimate.latencyMs > options.maxLatencyMs,
      );
      const eligible = estimates
        .filter((entry) => !tooSlow.includes(entry))
        .map((entry) => ({ ...entry, cost: exploitCost(entry.estimate, options.timeValueUsdPerSecond) }))
        // Stable: equal costs keep the broker's order.
        .sort((a, b) => a.cost - b.cost);
      const order = eligible.map((entry) => entry.listing);
      let explored: (typeof order)[number] | undefined;
      if (eligible.length > 1 && options.explore > 0 && random() < options.explore) {
        let best = Number.POSITIVE_INFINITY;
        let pick = 0;
        eligible.forEach((entry, index) => {
          const cost = sampledCost(entry.estimate, options.timeValueUsdPerSecond, random);
          if (cost < best) {
            best = cost;
            pick = index;
          }
        });
        if (pick > 0) {
          explored = order[pick];
          order.splice(pick, 1);
          if (explored !== undefined) order.unshift(explored);
        }
      }
      return { order, explored, tooSlow: tooSlow.map((entry) => entry.listing) };
    },
  };
}

/** The broker's figures as a prior on the success rate: a rate and its weight in pseudo-calls. */
function brokerPrior(listing: ListingFigures): { rate: number; weight: number } {
  const calls = finite(listing.total_calls) ?? 0;
  const categoryPrior = finite(listing.ranking?.category_prior) ?? RANKING.fallbackPrior;
  // The smoothed, per-buyer capped figure when the broker gives it (no one buyer can move it much);
  // an older broker's `success_rate` is that same smoothed figure.
  const rate =
    calls > 0 ? (finite(listing.ranking?.success_rate) ?? finite(listing.success_rate)) : undefined;
  if (rate === undefined) return { rate: clamp01(categoryPrior), weight: SELECTION.priorNewCalls };
  return {
    rate: clamp01(rate),
    weight: Math.min(SELECTION.priorMaxCalls, SELECTION.priorNewCalls + calls),
  };
}

/** The broker's measured mean time as a prior, or the peers' median for a listing with none. */
function latencyPriorOf(
  listing: ListingFigures,
  peers: readonly ListingFigures[],
): { ms: number; weight: number; known: boolean } {
  const calls = finite(listing.total_calls) ?? 0;
  const measured = finite(listing.avg_response_time_ms);
  if (measured !== undefined && calls > 0) {
    return { ms: measured, weight: Math.min(SELECTION.priorMaxCalls, calls), known: true };
  }
  const known = peers
    .filter((peer) => (finite(peer.total_calls) ?? 0) > 0)
    .map((peer) => finite(peer.avg_response_time_ms))
    .filter((ms): ms is number => ms !== undefined)
    .sort((a, b) => a - b);
  const median = known.length > 0 ? (known[Math.floor(known.length / 2)] as number) : undefined;
  return { ms: median ?? SELECTION.defaultLatencyMs, weight: 1, known: false };
}

/**
 * The exploit ranking's figure: the expected cost per useful answer, USD, with the lower confidence
 * bounds of the success and acceptance rates dividing (a listing pays for its uncertainty).
 */
export function exploitCost(estimate: Estimate, timeValueUsdPerSecond: number): number {
  const { alpha, beta, accepted, rejected } = estimate;
  const mean = alpha / (alpha + beta);
  const lower = wilsonLowerBound(alpha, alpha + beta);
  // No rejection yet: nothing says the buyer's test fails this agent. After one, the same
  // conservative bound as `s`: a rejected answer was paid for, so the evidence must clear it.
  const acceptance =
    rejected > 0 ? wilsonLowerBound(ACCEPT_PRIOR + accepted, 2 * ACCEPT_PRIOR + accepted + rejected) : 1;
  const perAttempt = estimate.priceUsd * mean + (timeValueUsdPerSecond * estimate.latencyMs) / 1000;
  return perAttempt / (lower * acceptance);
}

/** The exploration draw's figure: the expected cost per useful answer at rates drawn from the posteriors. */
export function sampledCost(estimate: Estimate, timeValueUsdPerSecond: number, random: () => number): number {
  const s = Math.max(Number.EPSILON, sampleBeta(estimate.alpha, estimate.beta, random));
  const a =
    estimate.rejected > 0
      ? Math.max(
          Number.EPSILON,
          sampleBeta(ACCEPT_PRIOR + estimate.accepted, ACCEPT_PRIOR + estimate.rejected, random),
        )
      : 1;
  return (estimate.priceUsd + (timeValueUsdPerSecond * estimate.latencyMs) / 1000 / s) / a;
}

/** A draw from Beta(a, b) (a, b > 0) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function sampleBeta(a: number, b: number, random: () => number): number {
  const x = sampleGamma(a, random);
  const y = sampleGamma(b, random);
  return x + y > 0 ? x / (x + y) : a / (a + b);
}

/** A draw from Gamma(shape, 1): Marsaglia and Tsang's method, boosted for shape < 1. */
function sampleGamma(shape: number, random: () => number): number {
  if (!(shape > 0)) return 0;
  if (shape < 1) return sampleGamma(shape + 1, random) * uniform(random) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = uniform(random);
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A standard normal draw (Box–Muller). */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(uniform(random))) * Math.cos(2 * Math.PI * random());
}

/** A draw in (0, 1): never 0, whose logarithm would be infinite. */
function uniform(random: () => number): number {
  const u = random();
  return u > 0 && u < 1 ? u : u <= 0 ? Number.EPSILON : 1 - Number.EPSILON;
}

/**
 * A seeded uniform generator in [0, 1) (mulberry32): the same seed gives the same draws, for tests
 * and simulations that must be reproducible.
 *
 * @example
 * const client = createClient({ baseUrl, apiKey, random: seededRandom(42) });
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Checks an `explore` share. @throws MercatoError `VALIDATION_ERROR` outside 0–1. */
export function checkedShare(value: number, name: string): number {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new MercatoError("VALIDATION_ERROR", `${name} must be a number from 0 to 1, got ${value}`);
  }
  return value;
}

function finite(value: number | null | undefined): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function clamp01(value: number): number {
  return Math.min(1, Math.max(0, value));
}
