import { createHash } from "node:crypto";
import { type Message, Role, SendMessageRequest, SendMessageResponse } from "@a2a-js/sdk";
import { isMercatoError, MercatoError } from "@mercato/protocol";
import type { FastifyReply, FastifyRequest } from "fastify";
import { authenticateAccess } from "../accounts/authenticate.js";
import type { ApiKeyRecord } from "../accounts/port.js";
import { passInvokeGates } from "../invoke/gates.js";
import { invokeIdempotent } from "../invoke/invoke.js";
import type { InvokeAnswer } from "../invoke/runtime.js";
import { toMercatoError } from "../platform/http/errors.js";
import { parseInput } from "../platform/http/validation.js";
import { idempotencyKeyOf } from "../platform/idempotency.js";
import { AgentParams } from "../registry/routes.js";
import { A2A_VERSION } from "./cards.js";
import type { A2aDeps } from "./deps.js";

// A listing's A2A 1.0 JSON-RPC endpoint. `SendMessage` is an invoke through the metered proxy
// (invoke/): the same key, the same gates in the same order, the same hold, capture or void, the
// same receipt; the message's `messageId` is the call's idempotency key.

/** Fastify path of a listing's JSON-RPC endpoint. */
export const A2A_JSON_RPC_PATH = "/agents/:id/a2a";

/** JSON-RPC 2.0 error codes used here. */
export const JSON_RPC_CODES = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** Any other refusal of Mercato's: `error.data.code` names it (INSUFFICIENT_FUNDS, SELLER_ERROR, …). */
  mercatoError: -32000,
  /** A2A's VersionNotSupportedError. */
  versionNotSupported: -32009,
} as const;

type RpcId = string | number | null;

/** A JSON-RPC error to answer, with the Mercato error behind it when there is one. */
class RpcError extends Error {
  constructor(
    readonly rpcCode: number,
    message: string,
    readonly mercato?: MercatoError,
  ) {
    super(message);
  }
}

/**
 * Answers one JSON-RPC request on `POST /agents/{id}/a2a`. Always a JSON-RPC response: 200, or 401
 * when the bearer key is missing or unknown (with `WWW-Authenticate`), so that HTTP clients and
 * proxies see an authentication failure for what it is.
 */
export async function answerJsonRpc(
  request: FastifyRequest,
  reply: FastifyReply,
  /** Answers `SendMessage`'s params with its result (SendMessageResponse, JSON form). */
  sendMessage: (params: unknown) => Promise<unknown>,
) {
  let id: RpcId = null;
  try {
    const call = envelopeOf(request.body);
    id = call.id;
    const version = request.headers["a2a-version"];
    if (version !== undefined && !(typeof version === "string" && /^1(\.0)?$/.test(version.trim()))) {
      throw new RpcError(
        JSON_RPC_CODES.versionNotSupported,
        `A2A version ${String(version)} is not supported: this endpoint speaks ${A2A_VERSION}`,
      );
    }
    if (call.method !== "SendMessage") {
      throw new RpcError(JSON_RPC_CODES.methodNotFound, `Method not found: ${call.method.slice(0, 100)}`);
    }
    const result = await sendMessage(call.params);
    return reply.code(200).send({ jsonrpc: "2.0", id, result });
  } catch (error) {
    return sendRpcError(request, reply, id, error);
  }
}

/** Runs an invoke, counted in the broker's metrics as `POST /agents/{id}/invoke` counts its own. */
export async function countedInvoke<T>(deps: Pick<A2aDeps, "metrics">, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const result = await run();
    deps.metrics.invoke("ok", (performance.now() - started) / 1000);
    return result;
  } catch (error) {
    const outcome = isMercatoError(error) ? error.code.toLowerCase() : "error";
    deps.metrics.invoke(outcome, (performance.now() - started) / 1000);
    throw error;
  }
}

/** Answers `error` as a JSON-RPC error (the route's error handler too: bodies Fastify refused). */
export function sendRpcError(request: FastifyRequest, reply: FastifyReply, id: RpcId, error: unknown) {
  const rpc = error instanceof RpcError ? error : fromMercato(toMercatoError(error));
  const mercato = rpc.mercato;
  if (mercato && mercato.status >= 500 && mercato.code === "INTERNAL_ERROR") {
    request.log.error({ err: error }, "A2A request failed");
  }
  const unauthenticated = mercato?.code === "UNAUTHENTICATED" || mercato?.code === "INVALID_API_KEY";
  if (unauthenticated) reply.header("www-authenticate", 'Bearer realm="mercato"');
  const data = mercato && {
    code: mercato.code,
    message: mercato.message,
    status: mercato.status,
    ...(mercato.details !== undefined && { details: mercato.details }),
    request_id: request.id,
  };
  return reply.code(unauthenticated ? 401 : 200).send({
    jsonrpc: "2.0",
    id,
    error: { code: rpc.rpcCode, message: rpc.message, ...(data && { data }) },
  });
}

function fromMercato(error: MercatoError): RpcError {
  const code =
    error.code === "INVALID_JSON"
      ? JSON_RPC_CODES.parseError
      : error.code === "VALIDATION_ERROR"
        ? JSON_RPC_CODES.invalidParams
        : error.code === "INTERNAL_ERROR"
          ? JSON_RPC_CODES.internalError
          : JSON_RPC_CODES.mercatoError;
  return new RpcError(code, error.message, error);
}

function envelopeOf(body: unknown): { id: RpcId; method: string; params: unknown } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RpcError(JSON_RPC_CODES.invalidRequest, "The body must be one JSON-RPC 2.0 request object");
  }
  const { jsonrpc, id, method, params } = body as Record<string, unknown>;
  const validId = id === undefined || id === null || typeof id === "string" || typeof id === "number";
  if (jsonrpc !== "2.0" || typeof method !== "string" || !validId) {
    throw new RpcError(
      JSON_RPC_CODES.invalidRequest,
      'A JSON-RPC 2.0 request has "jsonrpc": "2.0", a string "method" and a string or number "id"',
    );
  }
  return { id: (id ?? null) as RpcId, method, params };
}

/**
 * `SendMessage` to a listing (`POST /agents/{id}/a2a`): the message's data part is the input; the
 * answer is a Message with the output.
 */
export function listingSendMessage(deps: A2aDeps, request: FastifyRequest, reply: FastifyReply) {
  return async (params: unknown) => {
    const agentId = parseInput(AgentParams, request.params, "path").id;
    const { key } = await authenticateAccess(request, deps);
    return countedInvoke(deps, async () => {
      const message = messageOf(params);
      return invokeWithMessage(deps, { key, agentId, reply, message, input: () => inputOf(message) });
    });
  };
}

/** One call through the invoke proxy, asked by an A2A message. */
export interface MessageCall {
  key: ApiKeyRecord;
  agentId: string;
  reply: FastifyReply;
  message: Message;
  /** The call's input, read from the message (may refuse it: VALIDATION_ERROR). */
  input: () => unknown;
}

/**
 * Invokes the agent as `POST /agents/{id}/invoke` does (the same gates in the same order, hold,
 * capture or void, receipt), with the message's `messageId` as the idempotency key, and answers the
 * SendMessageResponse (JSON form). A refused input counts as the agent's client error, as there.
 */
export async function invokeWithMessage(deps: A2aDeps, call: MessageCall): Promise<unknown> {
  const { key, agentId, reply, message } = call;
  try {
    const input = call.input();
    const timeout = message.metadata?.timeout_ms;
    if (timeout !== undefined && !(Number.isSafeInteger(timeout) && timeout > 0)) {
      throw new MercatoError(
        "VALIDATION_ERROR",
        "message.metadata.timeout_ms must be a positive integer (ms)",
      );
    }
    const body = { input, timeout_ms: timeout as number | undefined };
    // The refusals before anything is held, in the invoke's order (invoke/gates.ts).
    const { agent, timeoutMs, contract } = await passInvokeGates(deps, key, agentId, body, reply);
    const idempotencyKey = idempotencyKeyOf(message.messageId);
    if (idempotencyKey === undefined)
      throw new MercatoError("VALIDATION_ERROR", "message.messageId is required");
    const fingerprint = createHash("sha256").update(JSON.stringify(body)).digest("base64url");
    const answer = await invokeIdempotent(
      deps,
      { key, agent, input, timeoutMs, contract },
      idempotencyKey,
      fingerprint,
      reply,
    );
    return messageResponse(answerMessage(message, answer));
  } catch (error) {
    if (isMercatoError(error) && error.code === "VALIDATION_ERROR")
      await countClientError(deps, key, agentId);
    throw error;
  }
}

/**
 * Counts a refused input (the buyer's mistake, never the seller's failure) as the agent's client
 * error, as the invoke route does, when the key may call this agent and is not its owner's.
 */
async function countClientError(deps: A2aDeps, key: ApiKeyRecord, agentId: string): Promise<void> {
  if (key.agentId !== agentId) return;
  const agent = await deps.invoke.agents.get(agentId, deps.clock.now().getTime()).catch(() => undefined);
  if (!agent || agent.status === "inactive" || key.accountId === agent.ownerId) return;
  deps.invoke.outcomes.record({
    agentId,
    buyerId: key.accountId,
    outcome: "client_error",
    responseTimeMs: 0,
  });
}

/** A SendMessageResponse holding `message`, in its JSON form. */
export function messageResponse(message: Message): unknown {
  return SendMessageResponse.toJSON({ payload: { $case: "message", value: message } });
}

/** The message of a SendMessage request. */
export function messageOf(params: unknown): Message {
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new MercatoError(
      "VALIDATION_ERROR",
      "SendMessage takes params {message: {messageId, role, parts}}",
    );
  }
  let parsed: SendMessageRequest;
  try {
    parsed = SendMessageRequest.fromJSON(params);
  } catch (cause) {
    throw new MercatoError("VALIDATION_ERROR", "params is not an A2A SendMessageRequest", { cause });
  }
  if (!parsed.message) throw new MercatoError("VALIDATION_ERROR", "params.message is required");
  if (parsed.message.messageId === "") {
    throw new MercatoError("VALIDATION_ERROR", "message.messageId is required: it makes retries safe");
  }
  return parsed.message;
}

/**
 * The call's input: the message's one data part, or its one text part holding JSON. Anything else
 * (no part, several, a file) is refused before anything is held.
 */
export function inputOf(message: Message): unknown {
  const data = message.parts.filter((part) => part.content?.$case === "data");
  const text = message.parts.filter((part) => part.content?.$case === "text");
  const only = data.length === 1 ? data[0] : data.length === 0 && text.length === 1 ? text[0] : undefined;
  if (!only || message.parts.length !== 1) {
    throw new MercatoError(
      "VALIDATION_ERROR",
      "The message must have exactly one part: a data part holding the call's input (or a text part holding it as JSON)",
    );
  }
  const content = only.content;
  if (content?.$case === "data") return content.value ?? null;
  if (content?.$case === "text") {
    try {
      return JSON.parse(content.value) as unknown;
    } catch (cause) {
      throw new MercatoError("VALIDATION_ERROR", "The text part is not JSON: send the input as a data part", {
        cause,
      });
    }
  }
  throw new MercatoError("VALIDATION_ERROR", "The message's part holds no input");
}

/** The answer: the seller's output as a data part; the charge and its signed receipt in metadata. */
function answerMessage(asked: Message, answer: InvokeAnswer): Message {
  return {
    messageId: `msg_${answer.transaction_id}`,
    contextId: asked.contextId,
    taskId: "",
    role: Role.ROLE_AGENT,
    parts: [
      {
        content: { $case: "data", value: answer.output ?? null },
        metadata: undefined,
        filename: "",
        mediaType: "application/json",
      },
    ],
    metadata: {
      transaction_id: answer.transaction_id,
      cost_usd: answer.cost_usd,
      metrics: answer.metrics,
      receipt: answer.receipt,
    },
    extensions: [],
    referenceTaskIds: [],
  };
}

const ERRORS_DESCRIPTION =
  "Errors are JSON-RPC errors: -32700 for a body that is not JSON, -32600 for one that is not a JSON-RPC request, -32601 for a method other than SendMessage, -32009 for an A2A-Version other than 1.0, -32602 for a refused input (VALIDATION_ERROR), -32000 for any other refusal (INSUFFICIENT_FUNDS, SELLER_ERROR, …); `error.data` carries the Mercato `code`, `message`, HTTP `status`, `details` and `request_id`. Answered with HTTP 200, or 401 when a key is needed and missing or unknown. See docs/a2a.md.";

const ID_PARAMETER = {
  name: "id",
  in: "path",
  required: true,
  description: "Agent id (agent_…)",
  schema: { type: "string", maxLength: 64 },
};

/** The request and responses of a JSON-RPC endpoint, in OpenAPI. */
const JSON_RPC_EXCHANGE = {
  requestBody: {
    required: true,
    content: {
      "application/json": {
        schema: {
          type: "object",
          description:
            'A JSON-RPC 2.0 request: {jsonrpc: "2.0", id, method: "SendMessage", params: SendMessageRequest}',
          properties: {
            jsonrpc: { const: "2.0" },
            id: { type: ["string", "integer"] },
            method: { type: "string" },
            params: { type: "object" },
          },
          required: ["jsonrpc", "method"],
        },
      },
    },
  },
  responses: {
    "200": {
      description: "A JSON-RPC 2.0 response: `result` (SendMessageResponse: {message}) or `error`",
      content: {
        "application/json": {
          schema: {
            type: "object",
            properties: {
              jsonrpc: { const: "2.0" },
              id: { type: ["string", "integer", "null"] },
              result: { type: "object" },
              error: {
                type: "object",
                properties: {
                  code: { type: "integer" },
                  message: { type: "string" },
                  data: { type: "object" },
                },
                required: ["code", "message"],
              },
            },
            required: ["jsonrpc", "id"],
          },
        },
      },
    },
    "401": {
      description:
        "UNAUTHENTICATED, INVALID_API_KEY: no bearer key, or an unknown one; the body is a JSON-RPC error whose `data.code` says which",
      content: { "application/json": { schema: { type: "object" } } },
    },
  },
};

/** The OpenAPI description of the JSON-RPC endpoints. */
export const JSON_RPC_OPENAPI: Record<string, Record<string, unknown>> = {
  "/agents/{id}/a2a": {
    post: {
      operationId: "a2aJsonRpc",
      tags: ["A2A"],
      summary: "A listed agent's A2A 1.0 JSON-RPC endpoint (SendMessage)",
      description: `A2A 1.0 over JSON-RPC 2.0, with the agent's access key as the bearer, exactly as \`POST /agents/{id}/invoke\` takes it. Method \`SendMessage\`: \`params.message\` has one data part holding the call's input (a text part holding JSON is accepted too) and a \`messageId\`, which is the call's idempotency key (a retry with the same messageId and input is answered the first outcome and never charged again). The call goes through the invoke proxy: the same gates, hold, capture or void, and receipt. The result is a Message whose data part is the seller's output and whose metadata carries \`transaction_id\`, \`cost_usd\`, \`metrics\` and the signed \`receipt\`. ${ERRORS_DESCRIPTION}`,
      security: [{ accessKey: [] }],
      parameters: [ID_PARAMETER],
      ...JSON_RPC_EXCHANGE,
    },
  },
  "/a2a": {
    post: {
      operationId: "a2aMarketplaceJsonRpc",
      tags: ["A2A"],
      summary: "Mercato's own A2A 1.0 JSON-RPC endpoint (SendMessage: search, call)",
      description: `The interface of the marketplace's agent card. \`SendMessage\` with one data part: \`{"agent_id", "input"}\` calls that agent exactly as \`POST /agents/{id}/a2a\` does (its access key as the bearer, the messageId as the idempotency key); anything else is a search query as \`GET /agents/search\` takes it (q, category, tags, max_price, min_trust, sort, limit, cursor; no key needed), answered with a data part \`{results, next_cursor}\` whose results also name their \`agent_card_url\`. ${ERRORS_DESCRIPTION}`,
      security: [{}, { accessKey: [] }],
      ...JSON_RPC_EXCHANGE,
    },
  },
};
