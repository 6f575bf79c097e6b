import type { StandardSchemaV1 } from "./standard-schema.js";

/** One validation problem, as the kit reports it in `details.issues`: a dotted path and a message. */
export interface ValidationIssue {
  /** Dotted path to the offending value (`symbol`, `legs.0.price`); empty for the value itself. */
  path: string;
  message: string;
}

/** The outcome of {@link validateWith}. */
export type ValidationOutcome<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

/** Runs a Standard Schema (sync or async) over `value` and flattens its issues. */
export async function validateWith<Schema extends StandardSchemaV1>(
  schema: Schema,
  value: unknown,
): Promise<ValidationOutcome<StandardSchemaV1.InferOutput<Schema>>> {
  let result = schema["~standard"].validate(value);
  if (result instanceof Promise) result = await result;
  if (result.issues === undefined) {
    return {
      ok: true,
      value: (result as StandardSchemaV1.SuccessResult<StandardSchemaV1.InferOutput<Schema>>).value,
    };
  }
  return { ok: false, issues: result.issues.map(flattenIssue) };
}

/** `issues` as one line: `symbol: expected string; body: …`. */
export function summarizeIssues(issues: readonly ValidationIssue[], root: string): string {
  return issues.map((issue) => `${issue.path || root}: ${issue.message}`).join("; ");
}

function flattenIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const path = (issue.path ?? [])
    .map((segment) => String(typeof segment === "object" && segment !== null ? segment.key : segment))
    .join(".");
  return { path, message: issue.message };
}
