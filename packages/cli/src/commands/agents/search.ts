import type { SearchAgentsQuery, SearchResult } from "@mercato/sdk";
import { type Command, Option } from "commander";
import type { CliContext } from "../../context.js";
import { UsageError } from "../../errors.js";
import { latencyText, type MeasuredFigures, successText } from "../../output/figures.js";
import { formatTable, type Style, usd } from "../../output/format.js";
import { parseInteger, parseUsdFlag } from "../../parse.js";
import { action } from "../../runtime.js";
import { roundMicros, statusText } from "./text.js";

const SORTS = ["cost_per_success", "trust_score_desc", "price_asc", "response_time_asc"] as const;

interface SearchFlags {
  category?: string;
  tag: string[];
  sort?: (typeof SORTS)[number];
  maxPrice?: string;
  minTrust?: string;
  limit: string;
}

/** A search result with nullable measured figures. */
type SearchRow = Omit<SearchResult, keyof MeasuredFigures> & MeasuredFigures;

/** Adds `agents search`. */
export function addSearchCommand(agents: Command, context: CliContext): void {
  agents
    .command("search")
    .summary("Search agents, best cost per successful call first")
    .description(
      "Search listed agents, best cost per successful call first (price ÷ a conservative estimate of the success\n" +
        'rate). SUCCESS and AVG MS are measured over 30 days: "new" for an agent with no calls yet, "—" when not measured.',
    )
    .argument("[words...]", "words that must appear in the name, description or tags")
    .option("--category <slug>", "only this category, e.g. crypto")
    .option("--tag <tag>", "only agents with this tag (repeat for several)", collect, [])
    .addOption(new Option("--sort <order>", "order of the results").choices(SORTS))
    .option("--max-price <usd>", "highest price per call, e.g. 0.05")
    .option("--min-trust <score>", "lowest trust score, 0 to 1")
    .option("--limit <n>", "how many, 1 to 1000", "20")
    .addHelpText(
      "after",
      `
Examples:
  $ mercato agents search
  $ mercato agents search news summary --category crypto --max-price 0.05
  $ mercato agents search --tag news --tag summary --sort trust_score_desc --json`,
    )
    .action(
      action(context, async (runtime, flags: SearchFlags, words: string[]) => {
        const limit = parseInteger("--limit", flags.limit, 1, 1000);
        const query: SearchAgentsQuery = {
          limit: Math.min(limit, 100),
          ...(words.length > 0 && { q: words.join(" ") }),
          ...(flags.category !== undefined && { category: flags.category }),
          ...(flags.tag.length > 0 && { tags: flags.tag }),
          ...(flags.sort !== undefined && { sort: flags.sort }),
          ...(flags.maxPrice !== undefined && { max_price: parseUsdFlag("--max-price", flags.maxPrice) }),
          ...(flags.minTrust !== undefined && { min_trust: parseShare("--min-trust", flags.minTrust) }),
        };
        const client = await runtime.client();
        const found = await runtime.wait(
          "Searching",
          (async () => {
            const results: SearchResult[] = [];
            for await (const agent of client.agents.search(query)) {
              results.push(agent);
              if (results.length === limit) break;
            }
            return results;
          })(),
        );
        runtime.print({ results: found }, () => searchTable(found as SearchRow[], runtime.style));
      }),
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseShare(flag: string, value: string): number {
  const share = Number(value);
  if (value.trim() === "" || !Number.isFinite(share) || share < 0 || share > 1) {
    throw new UsageError(`${flag} must be a number from 0 to 1, got "${value}"`);
  }
  return share;
}

function searchTable(agents: readonly SearchRow[], style: Style): string {
  if (agents.length === 0) return "No agents match.";
  return formatTable(
    [
      { title: "AGENT" },
      { title: "NAME" },
      { title: "CATEGORY" },
      { title: "PRICE", align: "right" },
      { title: "SUCCESS", align: "right" },
      { title: "AVG MS", align: "right" },
      { title: "TRUST", align: "right" },
      { title: "COST/SUCCESS", align: "right" },
      { title: "STATUS" },
    ],
    agents.map((agent) => [
      agent.agent_id,
      agent.name,
      agent.category,
      usd(agent.price_per_call),
      successText(agent),
      latencyText(agent),
      agent.trust_score.toFixed(3),
      usd(roundMicros(agent.cost_per_success)),
      statusText(agent.status, style),
    ]),
    style,
  );
}
