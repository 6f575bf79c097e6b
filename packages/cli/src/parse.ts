import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { isUsdAmount } from "@mercato/protocol";
import type { CliContext } from "./context.js";
import { UsageError } from "./errors.js";

/** A whole number flag within bounds. */
export function parseInteger(flag: string, value: string, min: number, max: number): number {
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return number;
}

/** A USD amount flag (`0.02`, `25.00`): at most six decimals, as the broker takes it. */
export function parseUsdFlag(flag: string, value: string): string {
  const trimmed = value.trim().replace(/^\$/, "");
  if (!isUsdAmount(trimmed) || trimmed.startsWith("-")) {
    throw new UsageError(`${flag} must be an amount of USD such as 0.02 or 25.00, got "${value}"`);
  }
  return trimmed;
}

/** An ISO 8601 timestamp flag (`2027-01-01`, `2027-01-01T00:00:00Z`), sent as the full form. */
export function parseTimestamp(flag: string, value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new UsageError(`${flag} must be a date or an ISO 8601 timestamp, got "${value}"`);
  }
  return date.toISOString();
}

/**
 * Text given inline, as `@path` (a file, relative to the working directory) or as `-` (standard
 * input): the convention of curl's `-d`.
 */
export async function readArgument(context: CliContext, flag: string, value: string): Promise<string> {
  if (value === "-") return context.readStdin();
  if (!value.startsWith("@")) return value;
  const path = resolve(context.cwd, value.slice(1));
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(
      `${flag}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

/** JSON from {@link readArgument}. */
export async function readJsonArgument(context: CliContext, flag: string, value: string): Promise<unknown> {
  const text = await readArgument(context, flag, value);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `${flag} must be JSON (inline, @file or - for standard input): ${(error as Error).message}`,
    );
  }
}

/** A JSON file given by path or `-`, as `agents register --file` takes it. */
export async function readJsonFile(context: CliContext, flag: string, path: string): Promise<unknown> {
  return readJsonArgument(context, flag, path === "-" ? "-" : `@${path}`);
}
