import { MercatoError } from "@mercato/protocol";
import type * as z from "zod";

/**
 * Parses `value` with a protocol schema.
 *
 * @throws MercatoError `VALIDATION_ERROR` listing every issue as `{path, message}`.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || where,
    message: issue.message,
  }));
  const first = issues[0];
  const summary = first ? `${first.path}: ${first.message}` : `invalid ${where}`;
  throw new MercatoError(
    "VALIDATION_ERROR",
    `Invalid ${where}: ${summary}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`,
    { details: { issues } },
  );
}
