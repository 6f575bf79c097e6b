/**
 * The ranking a buyer can bet on: cost per success on a conservative estimate of the success rate.
 *
 * A listing's success rate is uncertain in proportion to how little evidence it has. Ranking by
 * the point estimate (or by a prior-smoothed one) lets a listing with no calls, sitting at the
 * prior, outrank a proven one; ranking by a lower confidence bound makes a listing earn its place:
 *
 *   lower bound = Wilson score lower bound, one-sided at 90% (z = 1.2816), on
 *                 (successes + prior × w) out of (calls + w), with w = 2 pseudo-calls
 *   cost per success = price / lower bound
 *
 * The Wilson bound is the standard closed form for a binomial proportion's confidence bound, close
 * to the Beta posterior's quantile and, unlike the plain normal one, sound at 0 and at n calls of n.
 * The prior is the category's measured record ({@link categoryPrior}): what listings of this kind
 * have shown, not a fixed 95%. It is worth two calls, so it only places a listing with no evidence;
 * it never keeps a bad record afloat.
 *
 * With a category prior of 95%: no calls at $0.015 → bound 0.497, $0.0302 per success; 500 calls
 * at 98% and $0.020 → 0.970, $0.0206; 500 calls at 99% and $0.015 → 0.982, $0.0153.
 */
export const RANKING = {
  /** One-sided 90% normal quantile. */
  z: 1.2816,
  /** Pseudo-calls the category prior is worth. */
  priorWeight: 2,
  /** The prior of a category with too little measured record. */
  fallbackPrior: 0.95,
  /** A listing's record enters its category's prior once it has this many (ranked) calls. */
  establishedCalls: 50,
  /** A category's prior needs this many established listings; below, {@link RANKING}.fallbackPrior. */
  minEstablishedListings: 3,
} as const;

/**
 * The lower confidence bound of a success rate from `successes` of `calls` (weighted counts are
 * fine: fractions allowed) and a prior rate worth {@link RANKING}.priorWeight calls. In (0, 1).
 *
 * @example
 * successLowerBound(0, 0, 0.95); // 0.497…
 * successLowerBound(490, 500, 0.95); // 0.970…
 */
export function successLowerBound(successes: number, calls: number, priorRate: number): number {
  const n = Math.max(0, calls) + RANKING.priorWeight;
  return wilsonLowerBound(Math.max(0, successes) + clamp(priorRate, 0, 1) * RANKING.priorWeight, n);
}

/**
 * The Wilson score lower bound, one-sided at {@link RANKING}.z, of a rate from `successes` of
 * `trials` (fractional counts allowed), in (0, 1]; `Number.EPSILON` without trials. The SDK's
 * `call()` applies the same bound to its own blended counts.
 *
 * @example
 * wilsonLowerBound(9, 10); // 0.732…
 */
export function wilsonLowerBound(successes: number, trials: number): number {
  if (!(trials > 0)) return Number.EPSILON;
  const p = clamp(successes / trials, 0, 1);
  const z2 = RANKING.z * RANKING.z;
  const centre = p + z2 / (2 * trials);
  const spread = RANKING.z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return clamp((centre - spread) / (1 + z2 / trials), Number.EPSILON, 1);
}

/**
 * Micro-USD per successful call on the conservative estimate: `price / successLowerBound(…)`. A
 * ranking figure, not money.
 */
export function rankingCostPerSuccess(
  priceMicros: number,
  successes: number,
  calls: number,
  priorRate: number,
): number {
  return priceMicros / successLowerBound(successes, calls, priorRate);
}

/** One listing's ranked record, for {@link categoryPrior}. */
export interface ListingRecord {
  /** Ranked (per-buyer capped) calls in the window. */
  calls: number;
  successes: number;
}

/**
 * A category's prior success rate: the median success rate of its established listings (at least
 * {@link RANKING}.establishedCalls ranked calls each), or {@link RANKING}.fallbackPrior when fewer
 * than {@link RANKING}.minEstablishedListings are established. The median of listings, not the
 * pooled rate of calls, so that neither one busy listing nor a handful of junk listings (a
 * competitor's, failing on purpose) sets the prior of everybody's new listings.
 *
 * @example
 * categoryPrior([{ calls: 500, successes: 490 }, { calls: 100, successes: 80 }, { calls: 60, successes: 57 }]); // 0.95
 */
export function categoryPrior(listings: readonly ListingRecord[]): number {
  const rates = listings
    .filter((listing) => listing.calls >= RANKING.establishedCalls)
    .map((listing) => clamp(listing.successes / listing.calls, 0, 1))
    .sort((a, b) => a - b);
  if (rates.length < RANKING.minEstablishedListings) return RANKING.fallbackPrior;
  const middle = Math.floor(rates.length / 2);
  return rates.length % 2 === 1
    ? (rates[middle] as number)
    : ((rates[middle - 1] as number) + (rates[middle] as number)) / 2;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
