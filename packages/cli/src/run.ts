import { isMercatoError, type MercatoError } from "@mercato/protocol";
import { CommanderError } from "commander";
import { ListenError, UsageError } from "./errors.js";
import { createStyle, wantsColor } from "./output/format.js";
import { type CreateProgramOptions, createContext, createProgram } from "./program.js";

/** Exit status of a command refused or failed: the broker's error, a network failure. */
export const EXIT_FAILURE = 1;
/** Exit status of a command whose flags, files, config or environment variables are invalid. */
export const EXIT_USAGE = 2;

/** What to do next, for the errors a user can fix. */
const HINTS: Partial<Record<string, string>> = {
  UNAUTHENTICATED:
    "Log in with `mercato login --url <broker> --key <mk_…>`, or create an account with `mercato account create`.",
  INVALID_API_KEY: "The key is revoked, expired or unknown to this broker: log in again with a working key.",
  INSUFFICIENT_FUNDS: "Add money with `mercato topup <usd>`; see the balance with `mercato balance`.",
  RATE_LIMITED: "Wait and try again, or raise the key's rate limit.",
};

/**
 * The hint of an error, knowing which command ran. A `SERVICE_UNAVAILABLE` the broker answered
 * (it has a request id) comes from a running broker that has something off; only one that no
 * broker answered means there may be no broker at all.
 */
function hintFor(error: MercatoError, command: string | undefined): string | undefined {
  if (error.code !== "SERVICE_UNAVAILABLE") return HINTS[error.code];
  if (error.requestId === undefined) {
    return "Is the broker running? Start one with `mercato broker start --dev`, or pass --url.";
  }
  if (command === "topup") {
    return "Top-ups are off on this broker (no payment provider). For free test money, use a broker started in dev mode: `mercato broker start --dev`, or `npm start -- --dev` in the repository.";
  }
  return undefined;
}

/**
 * Runs `mercato` with the arguments after the program name and returns the exit status.
 * Expected failures are printed without a stack: `mercato: CODE: message` (as JSON on standard error
 * with `--json`); a bug is rethrown.
 */
export async function runCli(args: readonly string[], options: CreateProgramOptions = {}): Promise<number> {
  const context = createContext(options);
  const asJson = args.includes("--json");
  const style = createStyle(
    wantsColor({ isTTY: context.stderrIsTTY, flag: !args.includes("--no-color"), env: context.env }),
  );
  const fail = (status: number, code: string, message: string, extra: Record<string, unknown> = {}) => {
    if (asJson) context.stderr(`${JSON.stringify({ error: { code, message, ...extra } })}\n`);
    else
      context.stderr(
        `${style.red("mercato:")} ${code === "USAGE" ? "" : `${style.bold(code)}: `}${message}\n`,
      );
    return status;
  };
  let command: string | undefined;
  try {
    const program = createProgram(options);
    program.hook("preAction", (_program, actionCommand) => {
      command = actionCommand.name();
    });
    await program.parseAsync([...args], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and the version are printed by commander and end with status 0.
      if (error.exitCode === 0) return 0;
      const message = error.message.replace(/^error: /, "");
      if (asJson) return fail(EXIT_USAGE, "USAGE", message);
      context.stderr(`${style.red("mercato:")} ${message}\n${style.dim("(run with --help for usage)")}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof UsageError) return fail(EXIT_USAGE, "USAGE", error.message);
    if (isMercatoError(error)) return printMercatoError(error);
    if (error instanceof ListenError) return fail(EXIT_FAILURE, "USAGE", `cannot listen: ${error.message}`);
    throw error;
  }

  function printMercatoError(error: MercatoError): number {
    if (asJson) {
      return fail(EXIT_FAILURE, error.code, error.message, {
        ...(error.details !== undefined && { details: error.details }),
        ...(error.requestId !== undefined && { request_id: error.requestId }),
      });
    }
    fail(EXIT_FAILURE, error.code, error.message);
    for (const issue of issuesOf(error.details)) context.stderr(`  - ${issue}\n`);
    const hint = hintFor(error, command);
    if (hint !== undefined) context.stderr(`${style.dim(hint)}\n`);
    return EXIT_FAILURE;
  }
}

/** The field errors of a `VALIDATION_ERROR` (`details.issues`), as `path: message` lines. */
function issuesOf(details: unknown): string[] {
  const issues = (details as { issues?: unknown } | undefined)?.issues;
  if (!Array.isArray(issues)) return [];
  return issues.flatMap((issue: { path?: unknown; message?: unknown }) =>
    typeof issue?.message === "string"
      ? [`${typeof issue.path === "string" && issue.path !== "" ? `${issue.path}: ` : ""}${issue.message}`]
      : [],
  );
}
