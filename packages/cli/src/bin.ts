#!/usr/bin/env node
import { runCli } from "./run.js";

// Setting the status rather than exiting lets piped output finish writing; nothing is left running
// once a command has returned (the broker is closed before `broker start` returns).
process.exitCode = await runCli(process.argv.slice(2));
