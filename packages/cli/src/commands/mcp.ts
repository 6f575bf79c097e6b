import { configureMcpCommand, type McpOptions, runMcp } from "@mercato/mcp";
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { action } from "../runtime.js";

/**
 * Adds `mcp`: the `mercato-mcp` server (package @mercato/mcp) with the CLI's connection, i.e. the
 * broker and account key of `--url`/`--key`, the environment or `mercato login`. Standard output is
 * the stdio transport's: everything else goes to standard error.
 */
export function addMcpCommand(program: Command, context: CliContext): void {
  const command = configureMcpCommand(program.command("mcp"), {
    connection: false,
    invokedAs: "mercato mcp",
  });
  command.action(
    action(context, async (runtime, options: Omit<McpOptions, "url" | "key">) => {
      const url = await runtime.url();
      // Over HTTP each client brings its own key; over stdio the server spends from the CLI's.
      const key = options.http === undefined ? await runtime.apiKey() : undefined;
      await runMcp(
        { ...options, url, ...(key !== undefined && { key }) },
        { env: context.env, log: (line) => context.stderr(`${line}\n`), untilStopped: context.untilStopped },
      );
    }),
  );
}
