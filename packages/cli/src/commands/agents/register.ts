import type { RegisterAgentRequest } from "@mercato/sdk";
import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { when } from "../../output/format.js";
import { readJsonFile } from "../../parse.js";
import { action } from "../../runtime.js";
import { contractSummary, readKitContract, withContract } from "./from-kit.js";
import { pendingHelp, statusText } from "./text.js";

interface RegisterFlags {
  file: string;
  fromKit?: string;
}

/** Adds `agents register` (with `--from-kit`). */
export function addRegisterCommand(agents: Command, context: CliContext): void {
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
}

/** Adds `agents verify`. */
export function addVerifyCommand(agents: Command, context: CliContext): void {
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
}
