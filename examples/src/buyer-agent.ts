// A buyer agent: finds the best "crypto news summary" seller by cost per successful call, says why,
// then calls it N times with client.call() (retries and failover included; failed attempts are free).
//
//   MERCATO_URL=http://127.0.0.1:4020 MERCATO_API_KEY=mk_… node examples/dist/buyer-agent.js --calls 20
import { parseArgs } from "node:util";
import { formatUsd, isMercatoError, MercatoError, parseUsd } from "@mercato/protocol";
import {
  type Balance,
  createBudget,
  createClient,
  type MercatoClient,
  type SearchResult,
} from "@mercato/sdk";
import { formatTable, successText, usd } from "./format-table.js";
import { isMainModule } from "./is-main-module.js";

/** What the agent shops for. */
export const NEWS_SUMMARY_QUERY = { category: "crypto", tags: ["news", "summary"] } as const;

/** The most the agent pays for one call, USD. */
export const MAX_PRICE_PER_CALL = "0.05";

/** Topics the agent asks about, in turn. */
export const TOPICS: readonly string[] = [
  "bitcoin",
  "ethereum",
  "solana",
  "stablecoins",
  "regulation",
  "security",
  "markets",
  "defi",
];

/** Options of {@link runBuyerAgent}. */
export interface BuyerAgentOptions {
  /** A client with the buyer's account key (and a funded wallet). */
  client: MercatoClient;
  /** Calls to make (default 20). */
  calls?: number;
  /** Most the whole run may spend, USD (default `"1.00"`); `call()` never passes it. */
  budgetUsd?: string;
  /** Where the agent reports (default: stdout). */
  log?: (line: string) => void;
}

/** What a run did. */
export interface BuyerAgentReport {
  /** The candidates it saw, best cost per success first. */
  candidates: SearchResult[];
  /** The one it expected to call: the lowest cost per success. */
  chosen: SearchResult;
  calls: number;
  succeeded: number;
  /** Calls on which every candidate failed (nothing paid). */
  failedCalls: number;
  /** Failed attempts inside calls (retries, failovers): never charged. */
  failedAttempts: number;
  /** Successful calls per agent id. */
  answeredBy: Record<string, number>;
  /** Exact total paid, USD. */
  paidUsd: string;
  /** The buyer's balance after the run. */
  balance: Balance;
}

/**
 * Runs the buyer agent: lists the crypto news summarizers under {@link MAX_PRICE_PER_CALL} with
 * price, success rate and cost per success, explains which one is the best buy, then calls
 * `client.call()` `calls` times (one topic each) within a budget and reports each call and the
 * totals. A call on which every candidate failed is reported and the run goes on.
 *
 * @throws MercatoError `NO_CANDIDATES` when no seller matches; `INSUFFICIENT_FUNDS` and other
 *   buyer errors from the broker.
 * @example
 * const report = await runBuyerAgent({ client: createClient({ baseUrl, apiKey }), calls: 20 });
 * console.log(report.paidUsd);
 */
export async function runBuyerAgent(options: BuyerAgentOptions): Promise<BuyerAgentReport> {
  const { client } = options;
  const calls = options.calls ?? 20;
  const log = options.log ?? ((line: string) => console.log(line));
  const budget = createBudget(options.budgetUsd ?? "1.00");

  const page = await client.agents.search({
    ...NEWS_SUMMARY_QUERY,
    tags: [...NEWS_SUMMARY_QUERY.tags],
    max_price: MAX_PRICE_PER_CALL,
    sort: "cost_per_success",
    limit: 10,
  });
  const candidates = page.results.filter((agent) => agent.status !== "inactive");
  const chosen = candidates[0];
  if (chosen === undefined) {
    throw new MercatoError(
      "NO_CANDIDATES",
      `No crypto news summarizer at or under $${MAX_PRICE_PER_CALL} a call`,
    );
  }
  const names = new Map(candidates.map((agent) => [agent.agent_id, agent.name]));
  const nameOf = (agentId: string) => names.get(agentId) ?? agentId;

  log(`Candidates for a crypto news summary (at most $${MAX_PRICE_PER_CALL} a call), best value first:`);
  log(indent(candidateTable(candidates)));
  for (const line of explainChoice(candidates)) log(line);
  log("");

  const answeredBy: Record<string, number> = {};
  let paid = 0n;
  let succeeded = 0;
  let failedCalls = 0;
  let failedAttempts = 0;
  const width = String(calls).length;
  const topicWidth = Math.max(...TOPICS.map((topic) => topic.length));
  for (let index = 0; index < calls; index++) {
    const topic = TOPICS[index % TOPICS.length] ?? "bitcoin";
    const label = `call ${String(index + 1).padStart(width)}/${calls}  ${topic.padEnd(topicWidth)}`;
    // The label goes on the call's first line; failed attempts are reported as they happen.
    let shown = false;
    const prefix = () => {
      const text = shown ? " ".repeat(label.length) : label;
      shown = true;
      return text;
    };
    try {
      const result = await client.call({
        ...NEWS_SUMMARY_QUERY,
        tags: [...NEWS_SUMMARY_QUERY.tags],
        input: { topic },
        maxPricePerCall: MAX_PRICE_PER_CALL,
        budget,
        backoff: { baseMs: 20, maxMs: 200 },
        onAttempt: (attempt) => {
          if (attempt.ok) return;
          failedAttempts++;
          log(`${prefix()}  ✗ ${nameOf(attempt.agentId)} failed (${attempt.code}), not charged`);
        },
      });
      paid += parseUsd(result.costUsd);
      succeeded++;
      answeredBy[result.agentId] = (answeredBy[result.agentId] ?? 0) + 1;
      log(
        `${prefix()}  ${nameOf(result.agentId)} answered, paid ${usd(result.costUsd)}${headline(result.output)}`,
      );
    } catch (error) {
      if (!isMercatoError(error)) throw error;
      if (error.code !== "ALL_CANDIDATES_FAILED") {
        log(`${prefix()}  stopped: ${error.code}: ${error.message}`);
        throw error;
      }
      failedCalls++;
      log(`${prefix()}  every candidate failed, nothing paid`);
    }
  }

  const balance = await client.balance();
  log("");
  log(
    `Paid ${usd(paid, 2)} for ${succeeded} of ${calls} calls` +
      ` (${failedAttempts} failed attempt${failedAttempts === 1 ? "" : "s"}, free).` +
      ` Balance: ${usd(balance.available_usd, 2)} available.`,
  );
  return {
    candidates,
    chosen,
    calls,
    succeeded,
    failedCalls,
    failedAttempts,
    answeredBy,
    paidUsd: formatUsd(paid),
    balance,
  };
}

/** The candidates as a table: name, price, success rate, cost per success, calls on record. */
export function candidateTable(candidates: readonly SearchResult[]): string {
  return formatTable(
    [
      { title: "SELLER", cell: (agent: SearchResult) => agent.name },
      { title: "PRICE", cell: (agent) => usd(String(agent.price_per_call)), right: true },
      { title: "SUCCESS", cell: (agent) => successText(agent), right: true },
      { title: "COST/SUCCESS", cell: (agent) => `$${agent.cost_per_success.toFixed(4)}`, right: true },
      { title: "CALLS", cell: (agent) => String(agent.total_calls), right: true },
    ],
    candidates,
  );
}

/**
 * Why the first candidate (lowest cost per success) is the buy, compared with the cheapest one
 * when that is another: price alone would pick a seller that fails more and so costs more per
 * answer. Candidates must be in cost-per-success order, as search returns them.
 */
export function explainChoice(candidates: readonly SearchResult[]): string[] {
  const chosen = candidates[0];
  if (chosen === undefined) return [];
  const cheapest = candidates.reduce((low, agent) =>
    parseUsd(String(agent.price_per_call)) < parseUsd(String(low.price_per_call)) ? agent : low,
  );
  const price = (agent: SearchResult) => usd(String(agent.price_per_call));
  const rate = (agent: SearchResult) =>
    agent.total_calls === 0 ? "is new: no calls on record yet" : `succeeds ${successText(agent)} of the time`;
  const perSuccess = (agent: SearchResult) => `$${agent.cost_per_success.toFixed(4)} per success`;
  if (cheapest.agent_id === chosen.agent_id) {
    return [
      `Choosing ${chosen.name}: the cheapest (${price(chosen)}), and it ${rate(chosen)}: ${perSuccess(chosen)}.`,
    ];
  }
  return [
    `${cheapest.name} is cheaper (${price(cheapest)}) but ${rate(cheapest)}: ${perSuccess(cheapest)}.`,
    `${chosen.name} costs ${price(chosen)} and ${rate(chosen)}: ${perSuccess(chosen)}.`,
    `Choosing ${chosen.name}: the lowest cost per success.`,
  ];
}

function headline(output: unknown): string {
  const first = (output as { headlines?: unknown } | null)?.headlines;
  if (!Array.isArray(first) || typeof first[0] !== "string") return "";
  const text = first[0].length > 48 ? `${first[0].slice(0, 47)}…` : first[0];
  return `  "${text}"`;
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { calls: { type: "string", default: "20" }, budget: { type: "string", default: "1.00" } },
  });
  const calls = Number(values.calls);
  if (!Number.isSafeInteger(calls) || calls < 1) {
    console.error(`buyer-agent: --calls must be a positive whole number, got ${values.calls}`);
    return 2;
  }
  const apiKey = process.env.MERCATO_API_KEY;
  if (apiKey === undefined || apiKey === "") {
    console.error("buyer-agent: set MERCATO_API_KEY to a funded account key (mk_…)");
    return 2;
  }
  const client = createClient({ baseUrl: process.env.MERCATO_URL ?? "http://127.0.0.1:4020", apiKey });
  try {
    const report = await runBuyerAgent({ client, calls, budgetUsd: values.budget });
    return report.failedCalls === 0 ? 0 : 1;
  } catch (error) {
    if (!isMercatoError(error)) throw error;
    console.error(`buyer-agent: ${error.message} (${error.code})`);
    return 1;
  }
}

if (isMainModule(import.meta.url, "buyer-agent")) process.exitCode = await main();
