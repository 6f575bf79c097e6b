import { Command } from "commander";
import { addBrokerStartCommand } from "./commands/index.js";
import { type CliContext, untilSignal } from "./context.js";
import { CLI_VERSION } from "./version.js";

/** Options of {@link createProgram}; each defaults to the real process's. */
export interface CreateProgramOptions {
  /** Writes to standard output (default `process.stdout`). */
  stdout?: (text: string) => void;
  /** Writes to standard error (default `process.stderr`). */
  stderr?: (text: string) => void;
  /** Environment variables (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Directory relative paths are resolved against (default `process.cwd()`). */
  cwd?: string;
  /** Resolves when a long-running command should stop (default: the first SIGINT or SIGTERM). */
  untilStopped?: () => Promise<string>;
}

/**
 * Builds the `mercato` command. It never exits the process: commander's own exits (help, version,
 * usage errors) throw a `CommanderError` with the exit code, and commands throw their errors.
 *
 * @example
 * await createProgram().parseAsync(["broker", "start", "--dev"], { from: "user" });
 */
export function createProgram(options: CreateProgramOptions = {}): Command {
  const context: CliContext = {
    stdout: options.stdout ?? ((text) => process.stdout.write(text)),
    stderr: options.stderr ?? ((text) => process.stderr.write(text)),
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
    untilStopped: options.untilStopped ?? untilSignal,
  };
  // Set before the subcommands exist: `.command()` copies these settings into each of them.
  const program = new Command("mercato")
    .description("Mercato: the marketplace where AI agents buy and sell each other's services.")
    .version(CLI_VERSION, "-v, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .configureOutput({ writeOut: context.stdout, writeErr: context.stderr })
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      `
Examples:
  $ mercato broker start --dev     start a local broker on http://127.0.0.1:4020
  $ mercato broker start --help    every option of the broker`,
    );

  const broker = program
    .command("broker")
    .description("Run the Mercato broker")
    .addHelpText("after", "\nExample:\n  $ mercato broker start --dev --port 4020");
  addBrokerStartCommand(broker, context);
  return program;
}
