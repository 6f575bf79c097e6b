import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { MercatoError } from "@mercato/protocol";
import type { SellerCore, SellerKitResponse } from "../core/index.js";
import { announcesTooMuch, EMPTY_BODY, joinChunks, TOO_LARGE } from "./body.js";

/** A `node:http` request listener: `http.createServer(kit.node)`. */
export type SellerNodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/** The kit's core as a `node:http` request listener, verifying against `req.url`. */
export function createNodeListener(core: SellerCore): SellerNodeListener {
  return (req, res) => serveNode(core, req, res, req.url ?? "/", undefined);
}

/**
 * Serves one Node request: reads the body (unless `body` is given) within `maxBodyBytes`, runs the
 * core, writes its answer. No Web `Request` is built on this path.
 */
export function serveNode(
  core: SellerCore,
  req: IncomingMessage,
  res: ServerResponse,
  target: string,
  body: Uint8Array | undefined,
): void {
  const method = req.method ?? "GET";
  const headers = (name: string) => headerValue(req.headers, name);
  if (method !== "POST") {
    void core.handle({ method, target, headers, body: EMPTY_BODY }).then((answer) => write(res, answer));
    return;
  }

  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  const run = (bytes: Uint8Array) =>
    core
      .handle({ method, target, headers, body: bytes, signal: controller.signal })
      .then((answer) => write(res, answer));

  if (body !== undefined) {
    void run(body);
    return;
  }
  readNodeBody(req, core.maxBodyBytes).then(
    (read) => {
      if (read === TOO_LARGE) {
        // The rest of the body is not read: close the connection instead of draining it.
        write(res, core.tooLarge(), true);
        return;
      }
      return run(read);
    },
    (cause: unknown) => {
      write(
        res,
        core.fail(
          new MercatoError("VALIDATION_ERROR", "The request body could not be read", { cause }),
          "request",
        ),
        true,
      );
    },
  );
}

/** A header of a Node request, several values joined with ", " as HTTP folds them. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** Reads a Node request's body, giving up once it passes `limit` bytes. */
export function readNodeBody(req: IncomingMessage, limit: number): Promise<Uint8Array | typeof TOO_LARGE> {
  if (announcesTooMuch(headerValue(req.headers, "content-length"), limit)) return Promise.resolve(TOO_LARGE);
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const stop = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Uint8Array) => {
      size += chunk.byteLength;
      if (size > limit) {
        stop();
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(joinChunks(chunks, size));
    };
    const onError = (error: unknown) => {
      stop();
      reject(error);
    };
    const onClose = () => {
      stop();
      reject(new Error("The request was closed before its body ended"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/** Writes the core's answer, unless the client has gone. */
export function write(res: ServerResponse, answer: SellerKitResponse, close = false): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(answer.status, close ? { ...answer.headers, connection: "close" } : answer.headers);
  res.end(answer.body);
}
