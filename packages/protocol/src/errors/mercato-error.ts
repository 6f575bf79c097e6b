import { ERROR_CODES, type ErrorCode, isErrorCode } from "./codes.js";

/** The wire form of every error: `{"error": {"code", "message", "details"?, "request_id"}}`. */
export interface ErrorEnvelope {
  error: {
    code: ErrorCode;
    message: string;
    details?: Record<string, unknown>;
    request_id: string;
  };
}

/** Options of {@link MercatoError}. */
export interface MercatoErrorOptions {
  /** HTTP status; defaults to the code's status. */
  status?: number;
  /** Structured facts about the error, safe to show the caller. */
  details?: Record<string, unknown>;
  /** The request id the broker gave the failed request. */
  requestId?: string;
  /** The underlying error, kept as the native `cause`. */
  cause?: unknown;
}

/**
 * The one error class of Mercato. `code` comes from the closed set in {@link ERROR_CODES};
 * `status` is its HTTP status; `requestId` ties it to the broker's logs.
 *
 * @example
 * throw new MercatoError("AGENT_NOT_FOUND", `No agent ${id}`);
 */
export class MercatoError extends Error {
  override readonly name = "MercatoError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  readonly requestId: string | undefined;

  constructor(code: ErrorCode, message: string, options: MercatoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code];
    this.details = options.details;
    this.requestId = options.requestId;
  }

  /** The wire envelope of this error. */
  toEnvelope(requestId = this.requestId ?? ""): ErrorEnvelope {
    const error: ErrorEnvelope["error"] = { code: this.code, message: this.message, request_id: requestId };
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }

  /**
   * Rebuilds a `MercatoError` from an HTTP answer's status and parsed body. A body that is not an
   * envelope with a known code becomes `INTERNAL_ERROR` (5xx) or `VALIDATION_ERROR` (4xx),
   * keeping the status.
   */
  static fromResponse(status: number, body: unknown, cause?: unknown): MercatoError {
    const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
    const code = isErrorCode(error?.code)
      ? error.code
      : status >= 500
        ? "INTERNAL_ERROR"
        : "VALIDATION_ERROR";
    const message = typeof error?.message === "string" ? error.message : `The broker answered HTTP ${status}`;
    const options: MercatoErrorOptions = { status, cause };
    if (isRecord(error?.details)) options.details = error.details;
    if (typeof error?.request_id === "string") options.requestId = error.request_id;
    return new MercatoError(code, message, options);
  }
}

/** True when `value` is a {@link MercatoError} (also across bundled copies of this package). */
export function isMercatoError(value: unknown): value is MercatoError {
  return value instanceof MercatoError || (value instanceof Error && value.name === "MercatoError");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
