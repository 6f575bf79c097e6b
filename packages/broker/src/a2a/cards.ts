import { AgentCard, type AgentSkill, type SecurityScheme } from "@a2a-js/sdk";
import { formatUsd, roundTo } from "@mercato/protocol";
import type { AgentContractRecord, AgentRecord } from "../registry/port.js";
import { scoreFigures } from "../registry/presenters.js";
import type { AgentCardJws } from "../signing/signer.js";
import { BROKER_VERSION } from "../version.js";

// Agent cards (A2A 1.0): the marketplace's own, and one per active listing. A card is built in the
// SDK's typed form (`AgentCard`, checked by tsc) and served in its JSON form (`AgentCard.toJSON`),
// which is the form the official SDK canonicalizes, signs and verifies.

/** The A2A protocol version the cards and the JSON-RPC endpoint speak. */
export const A2A_VERSION = "1.0";
/** The extension carrying a listing's price and measured figures (docs/a2a.md). */
export const PRICING_EXTENSION_URI = "https://mercato.dev/a2a/ext/pricing/v1";
/** The extension carrying a listing's contract: its input and output JSON Schemas (docs/a2a.md). */
export const CONTRACT_EXTENSION_URI = "https://mercato.dev/a2a/ext/contract/v1";
/** How long a client may keep a card, seconds: figures move, so not long. */
export const CARD_MAX_AGE_S = 300;

/** A card's JSON form, as served (what `AgentCard.toJSON` gives). */
export type AgentCardJson = Record<string, unknown>;

const JSON_MODES = ["application/json"];

/** Where the broker is, as seen from outside: links in a card are absolute. */
export interface CardBase {
  /** The broker's public URL, without a trailing slash. */
  url: string;
}

const bearer = (description: string, format: string): SecurityScheme => ({
  scheme: {
    $case: "httpAuthSecurityScheme",
    value: { scheme: "Bearer", bearerFormat: format, description },
  },
});

const ACCESS_KEY = bearer(
  "A Mercato access key (sk_live_…; sk_test_… from a dev broker), bought for this agent with POST /purchase: each successful call is charged the listing's price",
  "Mercato access key",
);
const ACCOUNT_KEY = bearer(
  "A Mercato account key (mk_…): buys access keys (POST /purchase) and manages the account",
  "Mercato account key",
);

/** The card of one active listing, unsigned, in its JSON form. */
export function listingCard(
  agent: AgentRecord,
  contract: AgentContractRecord | undefined,
  base: CardBase,
): AgentCardJson {
  const description =
    agent.description.trim() === "" ? `${agent.name}, on the Mercato marketplace` : agent.description;
  const skill: AgentSkill = {
    id: "invoke",
    name: agent.name,
    description: `${description}\n\nSend one data part holding the call's input (JSON, checked against the input schema in the ${CONTRACT_EXTENSION_URI} extension when there is one); the answer's data part is the seller's output. Each successful call costs the price in the ${PRICING_EXTENSION_URI} extension; a failed one costs nothing.`,
    tags: [...new Set([agent.category, ...agent.tags])],
    examples: [],
    inputModes: JSON_MODES,
    outputModes: JSON_MODES,
    securityRequirements: [],
  };
  const card: AgentCard = {
    name: agent.name,
    description,
    supportedInterfaces: [
      {
        url: `${base.url}/agents/${agent.id}/a2a`,
        protocolBinding: "JSONRPC",
        tenant: "",
        protocolVersion: A2A_VERSION,
      },
    ],
    provider: { organization: "Mercato", url: base.url },
    version: agent.version,
    documentationUrl: `${base.url}/docs`,
    capabilities: {
      streaming: false,
      pushNotifications: false,
      extendedAgentCard: false,
      extensions: [
        {
          uri: PRICING_EXTENSION_URI,
          description: "The listing's price per successful call and the figures Mercato measured",
          required: false,
          params: pricingParams(agent),
        },
        {
          uri: CONTRACT_EXTENSION_URI,
          description: "The JSON Schemas the call's input and the seller's output must match",
          required: false,
          params: contractParams(contract),
        },
      ],
    },
    securitySchemes: { accessKey: ACCESS_KEY },
    securityRequirements: [{ schemes: { accessKey: { list: [] } } }],
    defaultInputModes: JSON_MODES,
    defaultOutputModes: JSON_MODES,
    skills: [skill],
    signatures: [],
  };
  return AgentCard.toJSON(card) as AgentCardJson;
}

/** Mercato itself as an agent: search the marketplace, call a listed agent. Unsigned, JSON form. */
export function marketplaceCard(base: CardBase): AgentCardJson {
  const card: AgentCard = {
    name: "Mercato",
    description:
      "A marketplace where AI agents buy and sell each other's services, paid per successful call. Search the listings, then call one through the broker's metered proxy: every listed agent also has its own signed card at /agents/{id}/agent-card.json, with its price, figures and contract.",
    supportedInterfaces: [
      { url: `${base.url}/a2a`, protocolBinding: "JSONRPC", tenant: "", protocolVersion: A2A_VERSION },
    ],
    provider: { organization: "Mercato", url: base.url },
    version: BROKER_VERSION,
    documentationUrl: `${base.url}/docs`,
    capabilities: { streaming: false, pushNotifications: false, extendedAgentCard: false, extensions: [] },
    securitySchemes: { accountKey: ACCOUNT_KEY, accessKey: ACCESS_KEY },
    securityRequirements: [],
    defaultInputModes: JSON_MODES,
    defaultOutputModes: JSON_MODES,
    skills: [
      {
        id: "search",
        name: "Search the marketplace",
        description: `Finds listed agents by words, category, price and trust, best first. Send one data part holding the query, as GET ${base.url}/agents/search takes it: {"q", "category", "tags", "max_price", "min_trust", "sort", "limit", "cursor"}, all optional; no key needed. The answer's data part is {results, next_cursor}; each result names its signed agent card (agent_card_url).`,
        tags: ["search", "marketplace", "discovery"],
        examples: ["an agent that summarizes crypto news for under 0.05 USD a call"],
        inputModes: JSON_MODES,
        outputModes: JSON_MODES,
        securityRequirements: [],
      },
      {
        id: "call",
        name: "Call a listed agent",
        description: `Calls a listed agent through the broker's metered proxy. Send one data part {"agent_id", "input"} with the agent's access key as the bearer (an account key buys one: POST ${base.url}/purchase); the message's messageId makes retries safe. The price is held and charged only when the seller answers; the answer's data part is the seller's output, its metadata the transaction_id, cost_usd and the receipt signed by the broker. The same call goes to ${base.url}/agents/{agent_id}/a2a.`,
        tags: ["invoke", "payments", "agents"],
        examples: [],
        inputModes: JSON_MODES,
        outputModes: JSON_MODES,
        securityRequirements: [{ schemes: { accessKey: { list: [] } } }],
      },
    ],
    signatures: [],
  };
  return AgentCard.toJSON(card) as AgentCardJson;
}

/** The card with its signature. */
export function withSignature(card: AgentCardJson, signature: AgentCardJws): AgentCardJson {
  return { ...card, signatures: [signature] };
}

/**
 * The pricing extension's params: the price (a decimal string of USD as the ledger moves it, and
 * integer micro-USD) and the figures of GET /agents/{id}, rounded for people. A figure not measured
 * yet is left out rather than null: the SDK's canonical form drops nulls, so they would be unsigned.
 */
function pricingParams(agent: AgentRecord): Record<string, unknown> {
  const figures = scoreFigures(agent.scores, agent.scores.measured, agent.counters.calls);
  const measured = Object.fromEntries(
    Object.entries({
      success_rate: figures.success_rate,
      avg_response_time_ms: figures.avg_response_time_ms,
      uptime_24h: figures.uptime_24h,
      last_updated: agent.metricsUpdatedAt,
    }).filter(([, value]) => value !== null && value !== undefined),
  );
  return {
    agent_id: agent.id,
    currency: agent.pricing.currency,
    pricing_model: agent.pricing.model,
    price_per_call_usd: formatUsd(agent.pricing.priceMicros),
    price_per_call_micros: agent.pricing.priceMicros,
    tier: agent.pricing.tier,
    min_calls: agent.pricing.minCalls,
    metrics: {
      total_calls: figures.total_calls,
      trust_score: figures.trust_score,
      cost_per_success_usd: formatUsd(Math.round(agent.scores.costPerSuccessMicros)),
      ranked_success_rate: roundTo(agent.scores.successRate, 4),
      ...measured,
    },
  };
}

/** The contract extension's params: the listing's schemas, each left out when it has none. */
function contractParams(contract: AgentContractRecord | undefined): Record<string, unknown> {
  const parse = (text: string | null | undefined) =>
    text == null ? undefined : (JSON.parse(text) as unknown);
  const input = parse(contract?.inputSchema);
  const output = parse(contract?.outputSchema);
  return {
    content_type: "application/json",
    ...(input !== undefined && { input_schema: input }),
    ...(output !== undefined && { output_schema: output }),
  };
}
