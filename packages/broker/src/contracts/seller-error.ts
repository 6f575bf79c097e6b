import { CONTRACT_LIMITS } from "./limits.js";

/** A seller's own refusal, as passed on to the buyer: strings only, capped, sanitised. */
export interface SellerErrorSummary {
  code: string;
  message: string;
  issues?: { path: string; message: string }[];
}

/** Characters of a seller's error code and message passed on. */
export const SELLER_ERROR_LIMITS = { code: 64, message: 500 } as const;

/** C0 and C1 controls, and the Unicode bidirectional overrides and isolates (text that reorders what follows). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * The seller's error envelope (`{"error": {"code", "message", "details"?: {"issues"?}}}`) of a
 * non-2xx answer, reduced to what a buyer needs to fix its input: the code, the message and up to
 * ten issues' path and message, each a string with control characters removed and cut to size.
 * Nothing else of the seller's body is kept; the broker never acts on it. Undefined when the body
 * has no such envelope.
 */
export function summariseSellerError(body: unknown): SellerErrorSummary | undefined {
  const error = field(body, "error");
  const code = field(error, "code");
  const message = field(error, "message");
  if (typeof code !== "string" || typeof message !== "string") return undefined;
  const summary: SellerErrorSummary = {
    code: clean(code, SELLER_ERROR_LIMITS.code),
    message: clean(message, SELLER_ERROR_LIMITS.message),
  };
  const issues = field(field(error, "details"), "issues");
  if (Array.isArray(issues)) {
    const kept: { path: string; message: string }[] = [];
    for (const issue of issues.slice(0, CONTRACT_LIMITS.maxIssues)) {
      const text = field(issue, "message");
      if (typeof text !== "string") continue;
      const path = field(issue, "path");
      kept.push({
        path: typeof path === "string" ? clean(path, CONTRACT_LIMITS.maxIssueText) : "",
        message: clean(text, CONTRACT_LIMITS.maxIssueText),
      });
    }
    if (kept.length > 0) summary.issues = kept;
  }
  return summary;
}

/** An own property of a plain JSON object, or undefined. */
function field(value: unknown, name: string): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value) || !Object.hasOwn(value, name)) {
    return undefined;
  }
  return (value as Record<string, unknown>)[name];
}

function clean(text: string, max: number): string {
  // Cut first (bounds the work), clean, and never leave half a surrogate pair.
  let out = text.slice(0, max * 2).replace(UNSAFE, "");
  if (out.length > max) out = out.slice(0, max);
  if (/[\ud800-\udbff]$/.test(out)) out = out.slice(0, -1);
  return out;
}
