import {
  type AgentDetail,
  fetchKitContract,
  type KitContract,
  type RegisterAgentRequest,
  type SearchAgentsQuery,
  type SearchResult,
  type UpdateAgentRequest,
} from "@mercato/sdk";
import { type Command, Option } from "commander";
import type { CliContext } from "../context.js";
import { UsageError } from "../errors.js";
import { isNew, latencyText, type MeasuredFigures, successText, uptimeText } from "../output/figures.js";
import { formatFields, formatTable, type Style, usd, when } from "../output/format.js";
import { formatSchema } from "../output/schema.js";
import { parseInteger, parseUsdFlag, readJsonFile } from "../parse.js";
import { action, type Runtime } from "../runtime.js";

const SORTS = ["cost_per_success", "trust_score_desc", "price_asc", "response_time_asc"] as const;

interface SearchFlags {
  category?: string;
  tag: string[];
  sort?: (typeof SORTS)[number];
  maxPrice?: string;
  minTrust?: string;
  limit: string;
}

/** A listing's contract: the JSON Schemas of its input and output (issue 17's AgentDetail fields). */
interface ContractFields {
  input_schema?: Record<string, unknown> | null;
  output_schema?: Record<string, unknown> | null;
}

/** AgentDetail as the broker serves it with contracts and nullable measured figures. */
type AgentWithContract = Omit<AgentDetail, "metrics"> &
  ContractFields & { metrics: Omit<AgentDetail["metrics"], keyof MeasuredFigures> & MeasuredFigures };

/** A search result with nullable measured figures. */
type SearchRow = Omit<SearchResult, keyof MeasuredFigures> & MeasuredFigures;

interface RegisterFlags {
  file: string;
  fromKit?: string;
}

interface UpdateFlags {
  file?: string;
  name?: string;
  description?: string;
  endpoint?: string;
  price?: string;
  status?: "active" | "inactive";
}

/** Adds `agents register|verify|update|deactivate|show|search`. */
export function addAgentsCommands(program: Command, context: CliContext): void {
  const agents = program
    .command("agents")
    .description("Find agents, and put your own on the marketplace")
    .addHelpText(
      "after",
      `
Examples:
  $ mercato agents search --category crypto --tag news --max-price 0.05
  $ mercato agents show agent_...
  $ mercato agents register --file agent.json
  $ mercato agents register --file agent.json --from-kit https://summarizer.example/agent
  $ mercato agents verify agent_...
  $ mercato agents update agent_... --price 0.015
  $ mercato agents deactivate agent_...`,
    );

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

  agents
    .command("show")
    .description(
      "Show an agent: its endpoint, price, the input it takes and the output it answers (the fields of its\n" +
        'JSON Schemas; --json prints them whole), and its figures: measured ones say "new" while it has no calls.',
    )
    .argument("<agent-id>", "the agent (agent_…)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ mercato agents show agent_...\n  $ mercato agents show agent_... --json",
    )
    .action(
      action(context, async (runtime, _flags: object, agentId: string) => {
        const client = await runtime.client();
        const agent = (await runtime.wait(
          `Reading ${agentId}`,
          client.agents.get(agentId),
        )) as AgentWithContract;
        runtime.print(agent, () => {
          const { metrics, pricing } = agent;
          const style = runtime.style;
          // The ranking figures are estimates; without calls they rest on the category's record alone.
          const estimate = isNew(metrics) ? ` ${style.dim("(estimate: no calls yet)")}` : "";
          return [
            `${runtime.style.bold(agent.name)} ${runtime.style.dim(`(${agent.id}, v${agent.version})`)}`,
            agent.description,
            "",
            formatFields(
              [
                ["status", statusText(agent.status, runtime.style)],
                ["category", agent.category],
                ["tags", agent.tags.join(", ") || "—"],
                ["endpoint", agent.api_endpoint],
                ["verified", verificationText(agent.verification)],
                ["owner", agent.owner_id],
                ["price", `${usd(pricing.price_per_call)} per call (${pricing.model}, ${pricing.tier})`],
                ["success rate", successText(metrics)],
                ["avg response", latencyText(metrics, " ms")],
                ["uptime 24h", uptimeText(metrics)],
                [
                  "calls",
                  isNew(metrics) ? `0 ${style.dim("(new: no evidence yet)")}` : String(metrics.total_calls),
                ],
                ["trust score", metrics.trust_score.toFixed(3) + estimate],
                ["cost/success", usd(roundMicros(metrics.cost_per_success)) + estimate],
                ["updated", when(agent.updated_at)],
              ],
              runtime.style,
            ),
            "",
            style.bold("Input"),
            formatSchema(agent.input_schema, style),
            "",
            style.bold("Output"),
            formatSchema(agent.output_schema, style),
          ].join("\n");
        });
      }),
    );

  agents
    .command("register")
    .summary("Put your endpoint on the marketplace from a JSON file")
    .description(
      "Put your endpoint on the marketplace from a JSON file of a registration request (POST /agents/register):\n" +
        "name, description, category, tags, api_endpoint, pricing {model: per_call, price_per_call}, and optionally\n" +
        "input_schema and output_schema (JSON Schema 2020-12). With --from-kit, the schemas come from your running\n" +
        "seller kit instead (GET <url>/.well-known/mercato-contract, derived from its input and output schemas), and\n" +
        "<url> is the api_endpoint unless the file gives one.\n" +
        "Outside dev mode the agent goes active once its endpoint proves it serves your account: the seller\n" +
        'kit does it when given your account id (sellerKit({ owner: "acct_…" })); then `mercato agents verify`.',
    )
    .requiredOption("--file <path>", "the agent's JSON file, or - for standard input")
    .option(
      "--from-kit <url>",
      "read input_schema and output_schema from the seller kit serving this endpoint",
    )
    .addHelpText(
      "after",
      `
Example agent.json:
  {
    "name": "Crypto News Summarizer",
    "description": "Summarizes crypto news from multiple sources",
    "category": "crypto",
    "tags": ["news", "summarization"],
    "api_endpoint": "https://summarizer.example.com/summarize",
    "pricing": { "model": "per_call", "price_per_call": 0.02 }
  }

Examples:
  $ mercato agents register --file agent.json
  $ mercato agents register --file - --json < agent.json
  $ mercato agents register --file agent.json --from-kit https://summarizer.example.com/summarize`,
    )
    .action(
      action(context, async (runtime, flags: RegisterFlags) => {
        let body = (await readJsonFile(runtime.context, "--file", flags.file)) as RegisterAgentRequest;
        const contract =
          flags.fromKit === undefined ? undefined : await readKitContract(runtime, body, flags.fromKit);
        if (contract !== undefined && flags.fromKit !== undefined) {
          body = withContract(body, contract, flags.fromKit);
        }
        const client = await runtime.client({ needKey: true });
        const registered = await runtime.wait("Registering the agent", client.agents.register(body));
        const named = `${runtime.style.bold(registered.agent_id)}${typeof body?.name === "string" ? ` (${body.name})` : ""}`;
        runtime.print(registered, () =>
          [
            ...(registered.status === "registered"
              ? [
                  `${runtime.style.green("✓")} Registered ${named}.`,
                  `See it with: mercato agents show ${registered.agent_id}`,
                ]
              : [
                  `${runtime.style.yellow("!")} Registered ${named}, not active yet: the broker has not verified that your endpoint serves your account.`,
                  ...pendingHelp(registered.agent_id, registered.verification, runtime.style),
                ]),
            ...(contract === undefined ? [] : [contractSummary(contract)]),
          ].join("\n"),
        );
      }),
    );

  agents
    .command("verify")
    .summary("Ask the broker to verify your agent's endpoint again")
    .description(
      "Ask the broker to verify your agent's endpoint again (POST /agents/{id}/verify): outside dev mode an\n" +
        "agent goes active only once its endpoint answers the broker's challenge naming your account or the agent.\n" +
        'The seller kit answers it when given sellerKit({ owner: "acct_…" }) or agents: ["agent_…"].',
    )
    .argument("<agent-id>", "your agent (agent_…)")
    .addHelpText("after", "\nExample:\n  $ mercato agents verify agent_...")
    .action(
      action(context, async (runtime, _flags: object, agentId: string) => {
        const client = await runtime.client({ needKey: true });
        const answer = await runtime.wait(`Verifying ${agentId}'s endpoint`, client.agents.verify(agentId));
        runtime.print(answer, () =>
          answer.verification.state === "pending"
            ? [
                `${runtime.style.yellow("!")} ${answer.agent_id} is not verified yet.`,
                ...pendingHelp(answer.agent_id, answer.verification, runtime.style),
              ].join("\n")
            : `${runtime.style.green("✓")} ${answer.agent_id}'s endpoint is ${answer.verification.state === "grace" ? `not verified yet; it is served until ${when(answer.verification.grace_until ?? "")} (${answer.verification.reason ?? "not checked yet"})` : "verified"}; the agent is ${statusText(answer.status, runtime.style)}.`,
        );
      }),
    );

  agents
    .command("update")
    .summary("Change your agent (price, endpoint, status, …)")
    .description("Change your agent: from a JSON patch file, or with the flags below (both may be given)")
    .argument("<agent-id>", "your agent (agent_…)")
    .option("--file <path>", "a JSON patch: any of the registration's fields, or - for standard input")
    .option("--name <name>", "a new name")
    .option("--description <text>", "a new description")
    .option("--endpoint <url>", "a new api_endpoint")
    .option("--price <usd>", "a new price per call, e.g. 0.015 (kept in the price history)")
    .addOption(new Option("--status <status>", "list or unlist it").choices(["active", "inactive"]))
    .addHelpText(
      "after",
      "\nExamples:\n  $ mercato agents update agent_... --price 0.015\n  $ mercato agents update agent_... --file patch.json --status active",
    )
    .action(
      action(context, async (runtime, flags: UpdateFlags, agentId: string) => {
        const fromFile =
          flags.file === undefined
            ? {}
            : ((await readJsonFile(runtime.context, "--file", flags.file)) as UpdateAgentRequest);
        if (typeof fromFile !== "object" || fromFile === null || Array.isArray(fromFile)) {
          throw new UsageError("--file must hold a JSON object");
        }
        const patch: UpdateAgentRequest = {
          ...fromFile,
          ...(flags.name !== undefined && { name: flags.name }),
          ...(flags.description !== undefined && { description: flags.description }),
          ...(flags.endpoint !== undefined && { api_endpoint: flags.endpoint }),
          ...(flags.status !== undefined && { status: flags.status }),
          ...(flags.price !== undefined && {
            pricing: { ...fromFile.pricing, price_per_call: parseUsdFlag("--price", flags.price) },
          }),
        };
        if (Object.keys(patch).length === 0) {
          throw new UsageError(
            "nothing to change: give --file or at least one of --name, --description, --endpoint, --price, --status",
          );
        }
        const client = await runtime.client({ needKey: true });
        const agent = await runtime.wait(`Updating ${agentId}`, client.agents.update(agentId, patch));
        runtime.print(
          agent,
          () =>
            `${runtime.style.green("✓")} Updated ${agent.id}: ${agent.name}, ${usd(agent.pricing.price_per_call)} per call, ${statusText(agent.status, runtime.style)}.`,
        );
      }),
    );

  agents
    .command("deactivate")
    .description("Take your agent off the marketplace (`agents update <id> --status active` lists it again)")
    .argument("<agent-id>", "your agent (agent_…)")
    .addHelpText("after", "\nExample:\n  $ mercato agents deactivate agent_...")
    .action(
      action(context, async (runtime, _flags: object, agentId: string) => {
        const client = await runtime.client({ needKey: true });
        const answer = await runtime.wait(`Deactivating ${agentId}`, client.agents.deactivate(agentId));
        runtime.print(
          answer,
          () => `${runtime.style.green("✓")} Deactivated ${answer.agent_id}: it is no longer listed.`,
        );
      }),
    );
}

/**
 * The contract of the seller kit at `url`, for a registration that must not already carry schemas.
 * @throws UsageError when the file gives schemas too; MercatoError when the kit serves no contract.
 */
async function readKitContract(runtime: Runtime, body: unknown, url: string): Promise<KitContract> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new UsageError("--file must hold a JSON object");
  }
  if ("input_schema" in body || "output_schema" in body) {
    throw new UsageError(
      "--from-kit reads input_schema and output_schema from the kit: remove them from --file, or drop --from-kit",
    );
  }
  if (!/^https?:\/\/[^/]/i.test(url)) {
    throw new UsageError(`--from-kit must be the seller kit's http(s) endpoint, got "${url}"`);
  }
  return runtime.wait(`Reading the contract of the seller kit at ${url}`, fetchKitContract(url));
}

/** The registration with the kit's schemas (an absent one left out) and, unless given, its endpoint. */
function withContract(body: RegisterAgentRequest, contract: KitContract, url: string): RegisterAgentRequest {
  return {
    ...body,
    api_endpoint: body.api_endpoint ?? url,
    ...(contract.input_schema !== null && { input_schema: contract.input_schema }),
    ...(contract.output_schema !== null && { output_schema: contract.output_schema }),
  } as RegisterAgentRequest;
}

/** Which schemas a registration took from the kit. */
function contractSummary(contract: KitContract): string {
  const declared = (["input", "output"] as const).filter((side) => contract[`${side}_schema`] !== null);
  if (declared.length === 2) return "Input and output schemas taken from the seller kit.";
  if (declared.length === 1) {
    return `The ${declared[0]} schema taken from the seller kit; it declares no ${declared[0] === "input" ? "output" : "input"} schema.`;
  }
  return "The seller kit declares no input or output schema: give sellerKit({ input, output }) zod schemas.";
}

/** An endpoint's verification in one line. */
function verificationText(verification: {
  state: string;
  verified_at: string | null;
  grace_until: string | null;
  reason: string | null;
}): string {
  if (verification.state === "verified") return `yes (${when(verification.verified_at ?? "")})`;
  if (verification.state === "grace") return `not yet, served until ${when(verification.grace_until ?? "")}`;
  return `no: the endpoint ${verification.reason ?? "was not checked yet"} (mercato agents verify)`;
}

/** What to do about a listing whose endpoint is not verified yet. */
function pendingHelp(
  agentId: string,
  verification: { reason: string | null; challenge_url: string | null },
  style: Style,
): string[] {
  return [
    `  Why: the endpoint ${verification.reason ?? "was not checked yet"}.`,
    "  To fix it: run your endpoint behind the seller kit with your account id,",
    `    sellerKit({ …, owner: "acct_…" })   (your id: mercato account show), or agents: ["${agentId}"];`,
    ...(verification.challenge_url === null
      ? []
      : [
          "  or, without the kit, answer GET",
          `    ${verification.challenge_url}`,
          '    with {"token": "<the last part of that URL>", "owner": "<your account id>"} (see docs/sellers.md).',
        ]),
    `  Then: ${style.bold(`mercato agents verify ${agentId}`)}`,
  ];
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

/** A display figure of USD (cost per success is a ratio) rounded to the ledger's micro-USD. */
function roundMicros(value: number): string {
  return (Math.round(value * 1_000_000) / 1_000_000).toFixed(6);
}

function statusText(status: string, style: Style): string {
  if (status === "active") return style.green(status);
  if (status === "down") return style.red(status);
  return style.dim(status);
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
