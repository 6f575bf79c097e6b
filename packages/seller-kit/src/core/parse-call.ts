import { MercatoError, SellerCallRequest } from "@mercato/protocol";
import { summarizeIssues } from "../validation/index.js";

/** The body of a call, as `SellerCallRequest` parses it. */
export type CallRequest = ReturnType<typeof SellerCallRequest.parse>;

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** The call's body (`{input, call_id, timeout_ms}`), or the error to refuse it with: 400 `INVALID_JSON` or `VALIDATION_ERROR`. */
export function parseCall(bytes: Uint8Array): CallRequest | MercatoError {
  let body: unknown;
  try {
    body = JSON.parse(utf8Decoder.decode(bytes));
  } catch {
    return new MercatoError("INVALID_JSON", "The body is not valid JSON");
  }
  const parsed = SellerCallRequest.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
  return new MercatoError("VALIDATION_ERROR", `Invalid call: ${summarizeIssues(issues, "body")}`, {
    details: { issues },
  });
}
