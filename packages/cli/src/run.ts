import { ConfigError } from "@mercato/broker";
import { isMercatoError } from "@mercato/protocol";
import { CommanderError } from "commander";
import { type CreateProgramOptions, createProgram } from "./program.js";

/** Exit status of a command whose flags or environment variables are invalid. */
export const EXIT_USAGE = 2;

const LISTEN_ERRORS = new Set(["EADDRINUSE", "EACCES", "EADDRNOTAVAIL"]);

/**
 * Runs `mercato` with the arguments after the program name and returns the exit status.
 * Expected failures are printed as `mercato: <message>` without a stack; a bug is rethrown.
 */
export async function runCli(args: readonly string[], options: CreateProgramOptions = {}): Promise<number> {
  const stderr = options.stderr ?? ((text: string) => process.stderr.write(text));
  try {
    await createProgram(options).parseAsync([...args], { from: "user" });
    return 0;
  } catch (error) {
    // Commander has printed its own message (or the help, or the version) already.
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof ConfigError) {
      stderr(`mercato: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (isMercatoError(error)) {
      stderr(`mercato: ${error.message}\n`);
      return 1;
    }
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === "string" && LISTEN_ERRORS.has(code)) {
      stderr(`mercato: cannot listen: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}
