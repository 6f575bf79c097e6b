// The broker's search figures as the demo reads them: the ranked success rate a listing is sorted
// by, and polling until the metrics, which the broker records in batches, show what is expected.
import type { SearchResult } from "@mercato/sdk";

/** How long to wait for the broker's metrics to show the market's calls. */
export const METRICS_TIMEOUT_MS = 60_000;

/**
 * A search result with the figures as the broker serves them since issue 17: measured ones `null`
 * without data, the ranking's smoothed figures apart (a broker before it has no `ranking`, and its
 * `success_rate` is the smoothed one). Until the generated SDK types carry them.
 */
export type RankedResult = Omit<SearchResult, "success_rate"> & {
  success_rate: number | null;
  ranking?: { success_rate: number; success_lower_bound: number; category_prior: number };
};

/** The smoothed, per-buyer-capped success rate search ranks a listing by. */
export const rankedSuccess = (result: RankedResult): number | null =>
  result.ranking?.success_rate ?? result.success_rate;

/** Polls `check` every 250 ms until it returns a value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}
