import type { UpdateAgentRequest } from "@mercato/sdk";
import { type Command, Option } from "commander";
import type { CliContext } from "../../context.js";
import { UsageError } from "../../errors.js";
import { usd } from "../../output/format.js";
import { parseUsdFlag, readJsonFile } from "../../parse.js";
import { action } from "../../runtime.js";
import { statusText } from "./text.js";

interface UpdateFlags {
  file?: string;
  name?: string;
  description?: string;
  endpoint?: string;
  price?: string;
  status?: "active" | "inactive";
}

/** Adds `agents update`. */
export function addUpdateCommand(agents: Command, context: CliContext): void {
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
}

/** Adds `agents deactivate`. */
export function addDeactivateCommand(agents: Command, context: CliContext): void {
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
