#!/usr/bin/env node
import { runCli } from "./run.js";

// A reader that has read enough (`mercato … | head -2`) closes the pipe: what is left to print has
// nowhere to go, so the command ends there, quietly, as it would have on SIGPIPE.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

// Setting the status rather than exiting lets piped output finish writing; nothing is left running
// once a command has returned (the broker is closed before `broker start` returns).
process.exitCode = await runCli(process.argv.slice(2));
