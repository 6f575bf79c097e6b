import type { IncomingMessage, ServerResponse } from "node:http";
import { MercatoError } from "@mercato/protocol";
import type { SellerCore } from "../core/index.js";
import { serveNode, write } from "./node.js";

/** The part of an Express request the kit uses (Express's own `Request` fits). */
export interface ExpressLikeRequest extends IncomingMessage {
  /** The URL before mounting stripped its prefix: what the broker signed. */
  originalUrl?: string;
  /** Set by body parsers: a `Buffer` from `express.raw()` is used as is. */
  body?: unknown;
}

/** An Express (or Connect) middleware: `app.use("/agent", kit.express())`. */
export type SellerExpressMiddleware = (
  req: ExpressLikeRequest,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** What the kit says when a body parser got to the body first. */
export const PARSED_BODY_MESSAGE =
  "The seller kit needs the request's raw body to verify its signature, but a body parser already consumed it: " +
  'mount the kit before express.json() (app.use("/agent", kit.express()) first), or give it express.raw({ type: "*/*" })';

/**
 * The kit's core as Express middleware. It answers every request that reaches it (it never calls
 * `next`), verifying against `req.originalUrl`. The body is read from the stream when no parser has
 * consumed it, or taken from `req.body` when `express.raw()` left a `Buffer` there; a body another
 * parser already turned into an object cannot be verified and is answered 500 (and reported to `onError`).
 */
export function createExpressMiddleware(core: SellerCore): SellerExpressMiddleware {
  return (req, res) => {
    const target = req.originalUrl ?? req.url ?? "/";
    if (req.method !== "POST" || !req.readableEnded) {
      serveNode(core, req, res, target, undefined);
      return;
    }
    if (req.body instanceof Uint8Array) {
      serveNode(core, req, res, target, req.body);
      return;
    }
    write(res, core.fail(new MercatoError("INTERNAL_ERROR", PARSED_BODY_MESSAGE), "request"));
  };
}
