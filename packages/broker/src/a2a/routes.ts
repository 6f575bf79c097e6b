import { MercatoError } from "@mercato/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { errorResponses, NO_ERROR_RESPONSES } from "../platform/http/error-responses.js";
import { parseInput } from "../platform/http/validation.js";
import { findAgent } from "../registry/agent-lookup.js";
import { assertServable } from "../registry/endpoint-verification.js";
import { AgentParams } from "../registry/routes.js";
import {
  type AgentCardJson,
  CARD_MAX_AGE_S,
  type CardBase,
  listingCard,
  marketplaceCard,
  withSignature,
} from "./cards.js";
import type { A2aDeps } from "./deps.js";
import {
  A2A_JSON_RPC_PATH,
  answerJsonRpc,
  JSON_RPC_OPENAPI,
  listingSendMessage,
  sendRpcError,
} from "./json-rpc.js";
import { marketplaceSendMessage } from "./marketplace.js";

/** Where the marketplace's own card is (A2A's well-known path). */
export const MARKETPLACE_CARD_PATH = "/.well-known/agent-card.json";
/** The marketplace's own JSON-RPC endpoint (skills search and call). */
export const MARKETPLACE_JSON_RPC_PATH = "/a2a";

/**
 * Registers the A2A routes: the marketplace's card, each active listing's signed card, and each
 * listing's JSON-RPC endpoint. They answer A2A's own shapes rather than the protocol's schemas, so
 * they are plain Fastify routes (as the payment webhooks are), listed in the OpenAPI document by
 * {@link A2A_OPENAPI_PATHS}. Errors are the broker's `{error: {code, message}}` on the card routes,
 * JSON-RPC errors on the endpoint.
 */
export function registerA2aRoutes(app: FastifyInstance, deps: A2aDeps): void {
  app.get(MARKETPLACE_CARD_PATH, async (request, reply) => {
    const base = signedCardBase(deps, request);
    return sendCard(reply, await signed(deps, marketplaceCard(base), base));
  });
  app.get("/agents/:id/agent-card.json", async (request, reply) => {
    const params = parseInput(AgentParams, request.params, "path");
    const agent = await findAgent(deps.store, params.id);
    // The same refusal as a purchase or an invoke: a card is an offer to be called.
    assertServable(agent, {
      dev: deps.config.dev,
      now: deps.clock.now().toISOString(),
      action: " and has no agent card",
    });
    const base = signedCardBase(deps, request);
    const card = listingCard(agent, await deps.store.getAgentContract(agent.id), base);
    return sendCard(reply, await signed(deps, card, base));
  });
  app.route({
    method: "POST",
    url: A2A_JSON_RPC_PATH,
    // A body Fastify refused (not JSON, too large, too deep) is answered as JSON-RPC too.
    errorHandler: (error, request, reply) => sendRpcError(request, reply, null, error),
    handler: (request, reply) => answerJsonRpc(request, reply, listingSendMessage(deps, request, reply)),
  });
  app.route({
    method: "POST",
    url: MARKETPLACE_JSON_RPC_PATH,
    errorHandler: (error, request, reply) => sendRpcError(request, reply, null, error),
    handler: (request, reply) =>
      answerJsonRpc(request, reply, marketplaceSendMessage(deps, request, reply, cardBase(deps, request))),
  });
}

/**
 * The broker's public URL: `--public-url` when set, else the URL the request came to, as purchases
 * and grants name it (for the links of a search answer, which nothing signs).
 */
function cardBase(deps: Pick<A2aDeps, "config">, request: FastifyRequest): CardBase {
  const url = deps.config.publicUrl ?? `${request.protocol}://${request.host}`;
  return { url: url.replace(/\/+$/, "") };
}

/**
 * The base URL a card signs (its interface and `jku`): `--public-url`, or in dev mode the request's.
 * Outside dev mode a card never signs a URL the request named: anyone could send `Host: evil.example`
 * and get a card, signed by the broker, that sends its readers' calls and keys elsewhere.
 * @throws MercatoError `SERVICE_UNAVAILABLE` outside dev mode without `--public-url`.
 */
function signedCardBase(deps: Pick<A2aDeps, "config">, request: FastifyRequest): CardBase {
  if (deps.config.publicUrl === undefined && !deps.config.dev) {
    throw new MercatoError(
      "SERVICE_UNAVAILABLE",
      "Agent cards sign the broker's URL: this broker serves none until it is started with --public-url (MERCATO_PUBLIC_URL)",
    );
  }
  return cardBase(deps, request);
}

async function signed(deps: Pick<A2aDeps, "signer">, card: AgentCardJson, base: CardBase) {
  const signature = await deps.signer.signAgentCard(card, { jku: `${base.url}/.well-known/jwks.json` });
  return withSignature(card, signature);
}

function sendCard(reply: FastifyReply, card: AgentCardJson) {
  return reply
    .header("cache-control", `public, max-age=${CARD_MAX_AGE_S}`)
    .type("application/json; charset=utf-8")
    .send(card);
}

const CARD_SCHEMA = {
  type: "object",
  description:
    "An A2A 1.0 AgentCard in its JSON form, signed by the broker (`signatures`: a flattened JWS over the card's RFC 8785 canonical form; protected header alg EdDSA, kid, typ JOSE, jku). See docs/a2a.md.",
  properties: {
    name: { type: "string" },
    description: { type: "string" },
    version: { type: "string" },
    supportedInterfaces: { type: "array", items: { type: "object" } },
    capabilities: { type: "object" },
    securitySchemes: { type: "object" },
    defaultInputModes: { type: "array", items: { type: "string" } },
    defaultOutputModes: { type: "array", items: { type: "string" } },
    skills: { type: "array", items: { type: "object" } },
    signatures: {
      type: "array",
      items: {
        type: "object",
        properties: { protected: { type: "string" }, signature: { type: "string" } },
        required: ["protected", "signature"],
      },
    },
  },
  required: ["name", "description", "version", "capabilities", "skills", "signatures"],
};

const cardResponse = (description: string) => ({
  description,
  headers: {
    "Cache-Control": {
      description: `public, max-age=${CARD_MAX_AGE_S}`,
      schema: { type: "string" },
    },
  },
  content: { "application/json": { schema: CARD_SCHEMA } },
});

/** The OpenAPI description of the routes {@link registerA2aRoutes} adds. */
export const A2A_OPENAPI_PATHS: Record<string, Record<string, unknown>> = {
  [MARKETPLACE_CARD_PATH]: {
    get: {
      operationId: "getMarketplaceAgentCard",
      tags: ["A2A"],
      summary: "Mercato as an A2A agent: its signed agent card",
      description:
        "The marketplace's own A2A 1.0 agent card: skills `search` (the marketplace's search) and `call` (buy access and call a listed agent), the bearer keys, signed by the broker's Ed25519 key (verify it with the keys at /.well-known/jwks.json). See docs/a2a.md.",
      security: [],
      responses: { "200": cardResponse("The card"), ...NO_ERROR_RESPONSES },
    },
  },
  "/agents/{id}/agent-card.json": {
    get: {
      operationId: "getAgentCard",
      tags: ["A2A"],
      summary: "A listed agent's signed A2A agent card",
      description:
        "The A2A 1.0 agent card of an active listing: its skill, its JSON-RPC interface (`POST /agents/{id}/a2a`), its contract and its price and measured figures (two AgentExtensions, contract/v1 and pricing/v1, whose URIs and params docs/a2a.md lists), signed by the broker's Ed25519 key so that a client can check it offline against /.well-known/jwks.json. A listing that may not be bought (deactivated, or its endpoint not proven) has no card: AGENT_INACTIVE, as `POST /purchase` answers. See docs/a2a.md.",
      security: [],
      parameters: [
        {
          name: "id",
          in: "path",
          required: true,
          description: "Agent id (agent_…)",
          schema: { type: "string", maxLength: 64 },
        },
      ],
      responses: {
        "200": cardResponse("The card"),
        ...errorResponses(["VALIDATION_ERROR", "AGENT_NOT_FOUND", "AGENT_INACTIVE"]),
      },
    },
  },
  ...JSON_RPC_OPENAPI,
};
