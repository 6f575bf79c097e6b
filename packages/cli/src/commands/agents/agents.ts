import type { Command } from "commander";
import type { CliContext } from "../../context.js";
import { addRegisterCommand, addVerifyCommand } from "./register.js";
import { addSearchCommand } from "./search.js";
import { addShowCommand } from "./show.js";
import { addDeactivateCommand, addUpdateCommand } from "./update.js";

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

  addSearchCommand(agents, context);
  addShowCommand(agents, context);
  addRegisterCommand(agents, context);
  addVerifyCommand(agents, context);
  addUpdateCommand(agents, context);
  addDeactivateCommand(agents, context);
}
