import type { IncomingMessage, ServerResponse } from "node:http";
import { ENDPOINT_CHALLENGE_PATH, MercatoError } from "@mercato/protocol";
import { CONTRACT_PATH } from "../contract/index.js";
import type { SellerCore, SellerKitResponse } from "../core/index.js";
import { EMPTY_BODY } from "./body.js";
import { headerValue } from "./node.js";

/** The part of a Fastify request the kit uses (Fastify's own `FastifyRequest` fits). */
export interface FastifyLikeRequest {
  raw: IncomingMessage;
  method: string;
  /** The URL as received, before any `rewriteUrl`. */
  originalUrl: string;
  body?: unknown;
}

/** The part of a Fastify reply the kit uses. */
export interface FastifyLikeReply {
  raw: ServerResponse;
  code(statusCode: number): FastifyLikeReply;
  headers(values: Record<string, string>): FastifyLikeReply;
  send(payload?: unknown): FastifyLikeReply;
}

type FastifyLikeHandler = (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<unknown>;

/** The part of a Fastify instance the kit's plugin uses (Fastify's own `FastifyInstance` fits). */
export interface FastifyLikeInstance {
  removeAllContentTypeParsers(): unknown;
  addContentTypeParser(
    contentType: string,
    options: { parseAs: "buffer"; bodyLimit: number },
    parser: (
      request: FastifyLikeRequest,
      body: Uint8Array,
      done: (error: Error | null, body?: unknown) => void,
    ) => void,
  ): unknown;
  setErrorHandler(
    handler: (error: FastifyLikeError, request: FastifyLikeRequest, reply: FastifyLikeReply) => unknown,
  ): unknown;
  post(path: string, handler: FastifyLikeHandler): unknown;
  get(path: string, handler: FastifyLikeHandler): unknown;
}

/** An error Fastify raised before the handler (body too large, bad content type). */
export interface FastifyLikeError {
  statusCode?: number | undefined;
  message: string;
}

/** A Fastify plugin: `app.register(kit.fastify, { prefix: "/agent" })`. */
export type SellerFastifyPlugin = (
  instance: FastifyLikeInstance,
  options: Record<string, unknown>,
) => Promise<void>;

/**
 * The kit's core as a Fastify plugin. In its own encapsulated scope it registers `POST /`,
 * `GET /health`, `GET /.well-known/mercato-contract`, the endpoint challenge
 * (`GET /.well-known/mercato-challenge/:token`) and (when on) the metrics path, under the prefix it is registered with; it replaces
 * the scope's body parsers with one that keeps the raw bytes of any content type (the signature
 * covers them), and answers Fastify's own refusals (too large, bad content type) with the
 * protocol's envelope.
 */
export function createFastifyPlugin(core: SellerCore): SellerFastifyPlugin {
  const plugin: SellerFastifyPlugin = async (instance) => {
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser(
      "*",
      { parseAs: "buffer", bodyLimit: core.maxBodyBytes },
      (_request, body, done) => done(null, body),
    );
    instance.setErrorHandler((error, _request, reply) => send(reply, answerFastifyError(core, error)));

    const handler: FastifyLikeHandler = async (request, reply) => {
      const res = reply.raw;
      const controller = new AbortController();
      res.once("close", () => {
        if (!res.writableFinished) controller.abort();
      });
      const answer = await core.handle({
        method: request.method,
        target: request.originalUrl,
        headers: (name) => headerValue(request.raw.headers, name),
        body: request.body instanceof Uint8Array ? request.body : EMPTY_BODY,
        signal: controller.signal,
      });
      return send(reply, answer);
    };
    instance.post("/", handler);
    instance.get("/health", handler);
    instance.get(CONTRACT_PATH, handler);
    instance.get(`${ENDPOINT_CHALLENGE_PATH}:token`, handler);
    if (core.metricsPath !== undefined) instance.get(core.metricsPath, handler);
  };
  // Names the plugin in Fastify's logs and errors.
  Object.defineProperty(plugin, Symbol.for("fastify.display-name"), { value: "@mercato/seller-kit" });
  return plugin;
}

function answerFastifyError(core: SellerCore, error: FastifyLikeError): SellerKitResponse {
  const status = error.statusCode ?? 500;
  if (status === 413) return core.tooLarge();
  if (status === 415) return core.fail(new MercatoError("UNSUPPORTED_MEDIA_TYPE", error.message), "request");
  if (status >= 400 && status < 500) {
    return core.fail(new MercatoError("VALIDATION_ERROR", error.message, { status }), "request");
  }
  return core.fail(error, "request");
}

function send(reply: FastifyLikeReply, answer: SellerKitResponse): FastifyLikeReply {
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}
