import type { Socket } from "node:net";
import { exceedsJsonDepth, MAX_JSON_DEPTH, MercatoError } from "@mercato/protocol";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { pino } from "pino";
import { newId } from "../ids.js";
import { toMercatoError } from "./errors.js";

// The HTTP plumbing of the broker's Fastify app that is no module's: the JSON body parser, the error
// answers (also to bytes that are not HTTP) and the logger.

/**
 * Replaces Fastify's JSON body parser with one that also refuses a body nested deeper than an
 * input may be (plus the object around it): handling such a body would overflow the stack
 * wherever it is serialised again (a fingerprint, the call to the seller).
 */
export function limitJsonDepth(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    parseJson(request, typeof body === "string" ? body : body.toString("utf8"), (error, value) => {
      if (error) return done(error, undefined);
      if (exceedsJsonDepth(value, MAX_JSON_DEPTH + 1)) {
        return done(
          new MercatoError(
            "VALIDATION_ERROR",
            `The body nests arrays and objects too deeply: an input may nest at most ${MAX_JSON_DEPTH} levels`,
            { details: { max_depth: MAX_JSON_DEPTH } },
          ),
          undefined,
        );
      }
      done(null, value);
    });
  });
}

/** Answers an error with its envelope and status (logged when it is the broker's fault). */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const mercato = toMercatoError(error);
  if (mercato.status >= 500) request.log.error({ err: error }, "request failed");
  if (mercato.code === "UNAUTHENTICATED" || mercato.code === "INVALID_API_KEY") {
    reply.header("www-authenticate", 'Bearer realm="mercato"');
  }
  void reply.code(mercato.status).send(mercato.toEnvelope(request.id));
}

/**
 * Answers bytes Node's HTTP parser refused (not HTTP, headers too large, a request too slow) with
 * the error envelope, then closes the connection. A response already being written on the
 * connection is not interleaved with: the connection is only closed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const status =
    error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : error.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
  const message =
    status === 408
      ? "The request did not arrive in time"
      : status === 431
        ? "The request's headers are too large"
        : "The request is not valid HTTP/1.1";
  const requestId = newId("req");
  const body = JSON.stringify(
    new MercatoError("VALIDATION_ERROR", message, { status }).toEnvelope(requestId),
  );
  if (socket.writable && socket.bytesWritten === 0) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

/** The broker's logger: pino JSON on stdout, never with a key or a cookie. */
export function createLogger(level: string): FastifyBaseLogger {
  return pino({
    level,
    redact: { paths: ["req.headers.authorization", "req.headers.cookie"], censor: "[redacted]" },
  });
}
