import { isMercatoError, MercatoError } from "@mercato/protocol";

const FASTIFY_CODES: Record<string, MercatoError["code"]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "VALIDATION_ERROR",
  FST_ERR_CTP_EMPTY_JSON_BODY: "INVALID_JSON",
  FST_ERR_CTP_INVALID_JSON_BODY: "INVALID_JSON",
};

const BY_STATUS: Record<number, MercatoError["code"]> = {
  401: "UNAUTHENTICATED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "RATE_LIMITED",
};

/**
 * Turns anything a request threw into a `MercatoError`: ours pass through, Fastify's client
 * errors (bad JSON, too large, wrong media type) get their protocol code, and anything else is an
 * `INTERNAL_ERROR` whose message reveals nothing (the original is kept as `cause` for the log).
 */
export function toMercatoError(error: unknown): MercatoError {
  if (isMercatoError(error)) return error;
  const fastify = error as { code?: string; statusCode?: number; message?: string };
  const status = fastify.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    const code =
      (fastify.code !== undefined ? FASTIFY_CODES[fastify.code] : undefined) ??
      (error instanceof SyntaxError || fastify.code?.startsWith("FST_ERR_CTP")
        ? "INVALID_JSON"
        : undefined) ??
      BY_STATUS[status] ??
      "VALIDATION_ERROR";
    const message =
      code === "INVALID_JSON"
        ? `The body is not valid JSON: ${fastify.message ?? "parse error"}`
        : (fastify.message ?? "Bad request");
    return new MercatoError(code, message, { status, cause: error });
  }
  return new MercatoError("INTERNAL_ERROR", "Internal error: the broker failed to handle this request", {
    cause: error,
  });
}
