// The buyer's side: the buyer agent, which chooses a summarizer by cost per success and calls it,
// then the README's client.call() snippet exactly as written.
import {
  type CreateAccountResponse,
  createBudget,
  createClient,
  type MercatoClient,
  seededRandom,
} from "@mercato/sdk";
import { type BuyerAgentReport, runBuyerAgent } from "../buyer-agent.js";
import { usd } from "../format-table.js";
import type { DemoContext } from "./context.js";
import type { ListedSeller } from "./start-market.js";

/** The buyer agent's account, its client and what it reported. */
export interface BuyerRun {
  account: CreateAccountResponse;
  client: MercatoClient;
  report: BuyerAgentReport;
}

/**
 * Runs the buyer agent for `calls` calls from a new account, topped up; it must choose the Pro and
 * have no call fail.
 */
export async function runBuyer(
  { out, problems, brokerUrl, anonymous }: DemoContext,
  agents: readonly ListedSeller[],
  calls: number,
): Promise<BuyerRun> {
  const buyerAccount = await anonymous.accounts.create({ name: "Buyer Agent" });
  // A seeded generator for call()'s exploration (5% of calls try a listing with little evidence):
  // the same run every time.
  const buyer = createClient({
    baseUrl: brokerUrl,
    apiKey: buyerAccount.api_key,
    random: seededRandom(2026),
  });
  const topup = await buyer.topups.create({ amountUsd: "10.00" });
  out.line(
    `   new account, topped up ${usd(topup.amount_usd, 2)} (${topup.status}, dev mode: no real money)`,
  );
  const report: BuyerAgentReport = await runBuyerAgent({
    client: buyer,
    calls,
    log: (text) => out.block(text),
  });
  const pro = agents.find((agent) => agent.plan.key === "pro");
  if (report.chosen.agent_id !== pro?.agentId) {
    problems.push(`the buyer chose ${report.chosen.name}, expected ${pro?.plan.name}`);
  }
  if (report.failedCalls > 0) problems.push(`${report.failedCalls} of the buyer's calls failed`);
  return { account: buyerAccount, client: buyer, report };
}

/**
 * Runs the README's `client.call()` snippet from an account of its own; it must end at a
 * summarizer with a record, with a real summary. Returns the id of the agent that answered.
 */
export async function runReadmeCall(
  { out, problems, brokerUrl, anonymous }: DemoContext,
  agents: readonly ListedSeller[],
  agentName: ReadonlyMap<string, string>,
): Promise<string> {
  // The snippet exactly: the broadest query, a topic the Lite cannot summarize. Whatever call() tries
  // first, it must end at a summarizer with a record (not the new Lite, whose empty answer its own
  // schema refuses) with a real summary, paying only for that answer.
  const readmeAccount = await anonymous.accounts.create({ name: "README reader" });
  const client = createClient({
    baseUrl: brokerUrl,
    apiKey: readmeAccount.api_key,
    budget: createBudget("1.00"),
  });
  await client.topups.create({ amountUsd: "10.00" });
  const tried: string[] = [];
  const result = await client.call({
    category: "crypto",
    tags: ["news"],
    maxPricePerCall: "0.05",
    input: { topic: "bitcoin" },
    onAttempt: (attempt) => {
      if (!attempt.ok)
        tried.push(`${agentName.get(attempt.agentId) ?? attempt.agentId} (${attempt.code}, not charged)`);
    },
  });
  const summary = (result.output as { summary?: unknown } | null)?.summary;
  out.block(
    [
      'client.call({ category: "crypto", tags: ["news"], maxPricePerCall: "0.05", input: { topic: "bitcoin" } })',
      ...(tried.length > 0 ? [`  failed first: ${tried.join(", ")}`] : []),
      `  answered by ${agentName.get(result.agentId) ?? result.agentId} for ${usd(result.costUsd)}:`,
      `  "${typeof summary === "string" ? summary : JSON.stringify(result.output)}"`,
    ].join("\n"),
  );
  const answeredBy = agents.find((agent) => agent.agentId === result.agentId);
  if (answeredBy?.plan.program !== "news-summarizer" || answeredBy.plan.history === 0) {
    problems.push(
      `the README's call was answered by ${answeredBy?.plan.name ?? result.agentId}, not a summarizer with a record`,
    );
  }
  if (typeof summary !== "string" || summary.trim() === "") problems.push("the README's call got no summary");
  return result.agentId;
}
