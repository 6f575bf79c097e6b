#!/usr/bin/env node
import { isMercatoError } from "@mercato/protocol/errors";
import { Command, CommanderError } from "commander";
import { configureMcpCommand, type McpOptions, runMcp } from "./run.js";
import { MCP_VERSION } from "./version.js";

const untilStopped = () =>
  new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });

const program = configureMcpCommand(new Command("mercato-mcp"))
  .version(MCP_VERSION, "-v, --version")
  .exitOverride()
  .action(async (options: McpOptions) => {
    await runMcp(options, {
      env: process.env,
      log: (line) => process.stderr.write(`${line}\n`),
      untilStopped,
    });
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  const message = isMercatoError(error) ? `${error.code}: ${error.message}` : String(error);
  process.stderr.write(`mercato-mcp: ${message}\n`);
  process.exit(isMercatoError(error) && error.status < 500 ? 2 : 1);
}
