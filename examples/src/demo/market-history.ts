// The market's history: forty other buyers' calls to every seller but the new one, what they weigh
// in the ranking, and waiting until the broker's search shows the success rates they give.
import {
  BUYER_WEIGHT,
  type BuyerWindow,
  cappedBuyerWeights,
  isMercatoError,
  parseUsd,
  type RankedCalls,
  roundTo,
  smoothedRate,
  TRUST_PRIOR,
} from "@mercato/protocol";
import { createClient, type SearchResult } from "@mercato/sdk";
import { formatTable, percent, usd } from "../format-table.js";
import { failsAt, parseRatePpm } from "../sellers/run-seller.js";
import { METRICS_TIMEOUT_MS, type RankedResult, rankedSuccess, waitFor } from "./broker-metrics.js";
import type { DemoContext } from "./context.js";
import { CALLS_PER_BUYER, MARKET_BUYERS } from "./market-plan.js";
import type { ListedSeller } from "./start-market.js";

/** The Digest's failures each wait two seconds: most of the history's calls are waiting, not working. */
const HISTORY_CONCURRENCY = 40;
/**
 * Seller timeout of the history's calls. The sellers answer at once, but on a machine busy with
 * other work (a CI running every test at once) a call can wait seconds for the CPU: a timeout there
 * would be the machine's failure, not the seller's.
 */
const HISTORY_TIMEOUT_MS = 30_000;

/** A buyer's calls in the market's history, with what they weigh as a new account's calls. */
function addCall(buyer: BuyerWindow, ok: boolean): void {
  // The accounts were created moments ago: younger than a day, each call weighs a quarter.
  const units = BUYER_WEIGHT.provisionalUnits;
  buyer.calls++;
  buyer.units += units;
  if (ok) buyer.successUnits += units;
}

/** What `buyers`' calls weigh in a ranked success rate, and the rate, as search shows it. */
function rankedRate(buyers: readonly BuyerWindow[]): RankedCalls & { successRate: number } {
  const units = buyers.reduce((total, buyer) => total + buyer.units, 0);
  const successUnits = buyers.reduce((total, buyer) => total + buyer.successUnits, 0);
  const ranked = cappedBuyerWeights(units, successUnits, buyers);
  const successRate = roundTo(smoothedRate(ranked.successes, ranked.calls, TRUST_PRIOR.successRate), 4);
  return { ...ranked, successRate };
}

/** A weight in calls: whole, or to one decimal (2.5). */
const weight = (calls: number) => (Number.isInteger(calls) ? String(calls) : calls.toFixed(1));

/** Runs `task` over `items` with at most `limit` at a time. */
async function inPool<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Each listing's ranked success rate as the market's calls make it, by agent id. */
export type RankedRates = Map<string, RankedCalls & { successRate: number }>;

/**
 * Makes the market's calls (each plan's `history`, from accounts of their own, interleaved), prints
 * what they came to and weigh, and checks that each seller failed as its schedule says.
 */
export async function makeHistory(
  { out, problems, brokerUrl, anonymous }: DemoContext,
  agents: readonly ListedSeller[],
): Promise<RankedRates> {
  // Accounts of their own: the broker does not count calls an agent's owner makes in its metrics.
  const marketBuyers = await Promise.all(
    Array.from({ length: MARKET_BUYERS }, async (_, index) => {
      const name = `Market buyer ${String(index + 1).padStart(2, "0")}`;
      const account = await anonymous.accounts.create({ name });
      const client = createClient({ baseUrl: brokerUrl, apiKey: account.api_key });
      await client.topups.create({ amountUsd: "10.00" });
      return client;
    }),
  );
  // Call n of a seller comes from buyer n mod MARKET_BUYERS: ten calls from each to each summarizer.
  const jobs = agents.flatMap((agent) =>
    Array.from({ length: agent.plan.history }, (_, n) => ({ agent, n, buyer: n % MARKET_BUYERS })),
  );
  const outcomes = new Map(
    agents.map((agent) => [
      agent.agentId,
      {
        ok: 0,
        failed: 0,
        paid: 0n,
        buyers: Array.from(
          { length: MARKET_BUYERS },
          (): BuyerWindow => ({ calls: 0, units: 0, successUnits: 0 }),
        ),
      },
    ]),
  );
  // Interleaved, so that every seller's history grows at once rather than one after the other.
  jobs.sort((a, b) => a.n - b.n);
  const historyStarted = Date.now();
  await inPool(jobs, HISTORY_CONCURRENCY, async ({ agent, n, buyer }) => {
    const outcome = outcomes.get(agent.agentId);
    const client = marketBuyers[buyer];
    const window = outcome?.buyers[buyer];
    if (outcome === undefined || client === undefined || window === undefined) return;
    try {
      const answer = await client.invoke(agent.agentId, agent.plan.input(n), {
        timeoutMs: HISTORY_TIMEOUT_MS,
      });
      outcome.ok++;
      outcome.paid += parseUsd(answer.cost_usd);
      addCall(window, true);
    } catch (error) {
      if (!isMercatoError(error) || error.code !== "SELLER_ERROR") throw error;
      outcome.failed++;
      addCall(window, false);
    }
  });
  const ranked = new Map(
    agents.map((agent) => [agent.agentId, rankedRate(outcomes.get(agent.agentId)?.buyers ?? [])]),
  );
  const seconds = ((Date.now() - historyStarted) / 1000).toFixed(1);
  out.block(
    [
      `${MARKET_BUYERS} other buyers, new accounts topped up $10.00 each, made ${jobs.length} calls in ${seconds} s` +
        ` (${HISTORY_CONCURRENCY} at a time);`,
      "failed calls are not charged. Ranking caps what one buyer's calls to a seller weigh: ten calls",
      "here, a quarter of that (2.5) for an account younger than a day, so each buyer made",
      `${CALLS_PER_BUYER} calls to each summarizer. SUCCESS = (weighted successes + 19) / (weighted calls + 20):`,
    ].join("\n"),
  );
  out.block(
    formatTable(
      [
        { title: "SELLER", cell: (a: (typeof agents)[number]) => a.plan.name },
        { title: "CALLS", cell: (a) => String(a.plan.history), right: true },
        { title: "OK", cell: (a) => String(outcomes.get(a.agentId)?.ok ?? 0), right: true },
        { title: "FAILED", cell: (a) => String(outcomes.get(a.agentId)?.failed ?? 0), right: true },
        { title: "PAID", cell: (a) => usd(outcomes.get(a.agentId)?.paid ?? 0n, 2), right: true },
        {
          title: "WEIGHTED",
          cell: (a) => {
            const figures = ranked.get(a.agentId);
            return figures ? `${weight(figures.successes)} of ${weight(figures.calls)}` : "";
          },
          right: true,
        },
        {
          title: "SUCCESS",
          cell: (a) => (a.plan.history === 0 ? "new" : percent(ranked.get(a.agentId)?.successRate ?? 0)),
          right: true,
        },
      ],
      agents,
    ),
  );
  for (const agent of agents) {
    const outcome = outcomes.get(agent.agentId);
    const ratePpm = parseRatePpm(agent.plan.failRate);
    const expectedFailures = Array.from({ length: agent.plan.history }, (_, n) => failsAt(n, ratePpm)).filter(
      Boolean,
    ).length;
    if (outcome && outcome.failed !== expectedFailures) {
      problems.push(`${agent.plan.name} failed ${outcome.failed} market calls, expected ${expectedFailures}`);
    }
  }
  return ranked;
}

/** Waits until search shows every listing's calls and the ranked success rates they give. */
export async function waitForHistory(
  { out, anonymous }: DemoContext,
  agents: readonly ListedSeller[],
  ranked: RankedRates,
): Promise<void> {
  // The broker records call outcomes in batches about every second: wait until search shows all
  // of them, and the ranked success rates they give, the Digest's failures included.
  const waitStarted = Date.now();
  let seen: SearchResult[] = [];
  try {
    await waitFor("the broker's metrics", METRICS_TIMEOUT_MS, async () => {
      seen = (await anonymous.agents.search({ category: "crypto", limit: 20 })).results;
      const settled = agents.every((agent) => {
        const result = seen.find((r) => r.agent_id === agent.agentId) as RankedResult | undefined;
        const expected = ranked.get(agent.agentId)?.successRate;
        const rate = result === undefined ? null : rankedSuccess(result);
        if (agent.plan.history === 0) return result !== undefined;
        return (
          result !== undefined &&
          expected !== undefined &&
          rate !== null &&
          result.total_calls >= agent.plan.history &&
          Math.abs(rate - expected) < 0.00011
        );
      });
      return settled ? true : undefined;
    });
  } catch (error) {
    const shown = agents.map((agent) => {
      const result = seen.find((r) => r.agent_id === agent.agentId) as RankedResult | undefined;
      const expected = percent(ranked.get(agent.agentId)?.successRate ?? 0);
      return `${agent.plan.name}: ${result?.total_calls ?? 0} calls at ${percent((result && rankedSuccess(result)) ?? 0)}, expected ${agent.plan.history} at ${expected}`;
    });
    throw new Error(`${(error as Error).message} (${shown.join("; ")})`);
  }
  out.line(
    `   the broker's metrics caught up in ${((Date.now() - waitStarted) / 1000).toFixed(1)} s:` +
      " search shows these success rates.",
  );
}
