import { Command, type HelpContext } from "commander";
import {
  addAccountCommands,
  addAgentsCommands,
  addBalanceCommand,
  addBrokerStartCommand,
  addInvokeCommand,
  addKeysCommands,
  addLoginCommands,
  addMcpCommand,
  addPurchaseCommand,
  addReceiptsCommands,
  addSettlementsCommand,
  addTopupCommand,
  addTransactionsCommand,
} from "./commands/index.js";
import { type CliContext, readProcessStdin, untilSignal } from "./context.js";
import { CLI_VERSION } from "./version.js";

/**
 * A command whose help, when it is run without a subcommand (`mercato`, `mercato keys`), is the
 * answer rather than an error: printed on standard output with status 0, as `gh` does. Commander
 * would print it on standard error and fail.
 */
class MercatoCommand extends Command {
  override createCommand(name?: string): Command {
    return new MercatoCommand(name);
  }

  override help(context?: HelpContext): never;
  override help(cb: (str: string) => string): never;
  override help(context?: HelpContext | ((str: string) => string)): never {
    if (typeof context === "function") return super.help(context);
    return super.help({ ...context, error: false });
  }
}

/** Options of {@link createProgram}; each defaults to the real process's. */
export interface CreateProgramOptions {
  /** Writes to standard output (default `process.stdout`). */
  stdout?: (text: string) => void;
  /** Writes to standard error (default `process.stderr`). */
  stderr?: (text: string) => void;
  /** Whether standard output is a terminal (default `process.stdout.isTTY`). */
  stdoutIsTTY?: boolean;
  /** Whether standard error is a terminal (default `process.stderr.isTTY`). */
  stderrIsTTY?: boolean;
  /** Environment variables (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Directory relative paths are resolved against (default `process.cwd()`). */
  cwd?: string;
  /** Reads standard input to its end (default: `process.stdin`). */
  readStdin?: () => Promise<string>;
  /** Resolves when a long-running command should stop (default: the first SIGINT or SIGTERM). */
  untilStopped?: () => Promise<string>;
}

/** The context commands run in, from the options or the real process. */
export function createContext(options: CreateProgramOptions = {}): CliContext {
  return {
    stdout: options.stdout ?? ((text) => process.stdout.write(text)),
    stderr: options.stderr ?? ((text) => process.stderr.write(text)),
    stdoutIsTTY: options.stdoutIsTTY ?? process.stdout.isTTY === true,
    stderrIsTTY: options.stderrIsTTY ?? process.stderr.isTTY === true,
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
    readStdin: options.readStdin ?? readProcessStdin,
    untilStopped: options.untilStopped ?? untilSignal,
  };
}

/**
 * Builds the `mercato` command. It never exits the process: commander's own exits (help, version,
 * usage errors) throw a `CommanderError` with the exit code, and commands throw their errors.
 *
 * @example
 * await createProgram().parseAsync(["balance", "--json"], { from: "user" });
 */
export function createProgram(options: CreateProgramOptions = {}): Command {
  const context = createContext(options);
  // Set before the subcommands exist: `.command()` copies these settings into each of them.
  const program = new MercatoCommand("mercato")
    .description(
      "Mercato: the marketplace where AI agents buy and sell each other's services, paid per call.\n" +
        "Talks to the broker at --url, $MERCATO_URL or the one you logged in to (default http://127.0.0.1:4020).",
    )
    .version(CLI_VERSION, "-v, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .option("--json", "print machine-readable JSON only (errors as JSON on standard error)")
    .option(
      "--url <url>",
      "the broker (env MERCATO_URL; default: the logged-in one, else http://127.0.0.1:4020)",
    )
    .option("--key <key>", "the account key to use (env MERCATO_API_KEY; default: the logged-in one)")
    .option("--no-color", "no colours (also: NO_COLOR=1); colours show only on a terminal")
    // Commander's own errors (an unknown option, a missing argument) are thrown as CommanderError
    // and printed by runCli like every other error, in text or JSON.
    .configureOutput({ writeOut: context.stdout, writeErr: context.stderr, outputError: () => undefined })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .exitOverride()
    .addHelpText(
      "after",
      `
Get started (a local broker in dev mode, where top-ups are free test money):
  $ mercato broker start --dev                          # in one terminal
  $ mercato account create --name "Ada Labs"            # signs up and logs in
  $ mercato topup 25
  $ mercato agents search --category crypto
  $ mercato invoke agent_... --input '{"text": "Bitcoin rose 4% today"}'
  $ mercato transactions
  $ mercato receipts verify txn_...

Every command takes --json. Exit status: 0 done, 1 refused or failed (the error's code and
message are on standard error), 2 bad usage (a flag, a file, the config).
Run \`mercato <command> --help\` for a command's options and examples.`,
    );

  addLoginCommands(program, context);
  addAccountCommands(program, context);
  addBalanceCommand(program, context);
  addTopupCommand(program, context);
  addTransactionsCommand(program, context);
  addReceiptsCommands(program, context);
  addSettlementsCommand(program, context);
  addKeysCommands(program, context);
  addPurchaseCommand(program, context);
  addAgentsCommands(program, context);
  addInvokeCommand(program, context);
  addMcpCommand(program, context);
  const broker = program
    .command("broker")
    .description("Run the Mercato broker")
    .addHelpText("after", "\nExample:\n  $ mercato broker start --dev --port 4020");
  addBrokerStartCommand(broker, context);
  return program;
}
