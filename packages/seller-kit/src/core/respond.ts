import type { MercatoError } from "@mercato/protocol";
import type { SellerKitResponse } from "./types.js";

const JSON_TYPE = "application/json; charset=utf-8";

/** The headers of every answer: its content type and the request's id. */
export function headersFor(requestId: string, contentType = JSON_TYPE): Record<string, string> {
  return { "content-type": contentType, "x-request-id": requestId };
}

/** A JSON answer. */
export function respond(status: number, body: string, requestId: string): SellerKitResponse {
  return { status, headers: headersFor(requestId), body };
}

/** An error's envelope as the answer, with an `allow` header when `allow` is given (a 405). */
export function failure(error: MercatoError, requestId: string, allow?: string): SellerKitResponse {
  const response = respond(error.status, JSON.stringify(error.toEnvelope(requestId)), requestId);
  if (allow) response.headers.allow = allow;
  return response;
}
