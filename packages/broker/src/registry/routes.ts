import { ENDPOINT_CHALLENGE_PATH, MercatoError, parseUsd, SearchAgentsQuery } from "@mercato/protocol";
import { z } from "zod";
import { CONTRACT_LIMITS } from "../contracts/index.js";
import { checkSellerEndpoint } from "../platform/endpoint-policy.js";
import { type Route, routeDefiner } from "../platform/http/route.js";
import { newId } from "../platform/ids.js";
import { DEFAULT_FRAUD_SETTINGS } from "../platform/settings.js";
import { agentNotFound, checkedSchemas, endpointPolicy, findAgent, ownAgent } from "./agent-lookup.js";
import type { RegistryDeps } from "./deps.js";
import {
  newChallengeToken,
  presentVerification,
  servableEndpoint,
  VERIFY_RETRY_MS,
} from "./endpoint-verification.js";
import type { AgentPatch } from "./port.js";
import { presentAgentDetail, presentPriceChange, presentSearchResult } from "./presenters.js";
import { enforceRegistrationRate, listingLimits } from "./registration-limit.js";
import { searchListings } from "./search.js";

/** The `{id}` of an agent's routes. */
export const AgentParams = z.object({ id: z.string().max(64).describe("Agent id (agent_…)") });
/** Largest registration or update body: two contract schemas of 64 KiB and the listing. */
const LISTING_BODY_LIMIT = 2 * CONTRACT_LIMITS.maxBytes + 32 * 1024;
const CONTRACT_DESCRIPTION = `\`input_schema\` and \`output_schema\` (optional) are the listing's contract: JSON Schemas (draft 2020-12) of the call's \`input\` and the seller's \`output\`. Each must be a valid schema of at most ${CONTRACT_LIMITS.maxBytes / 1024} KiB as JSON, nested at most ${CONTRACT_LIMITS.maxDepth} levels, whose \`$ref\`s are JSON Pointers into the same document (no URL is fetched; \`$id\`, \`$anchor\` and \`$dynamicRef\` are refused), whose patterns run on a linear-time engine (no backreferences or lookaround, at most ${CONTRACT_LIMITS.maxPatternLength} characters), with at most ${CONTRACT_LIMITS.maxEnumValues} values per \`enum\`, \`uniqueItems\` only beside a \`maxItems\` of at most ${CONTRACT_LIMITS.maxUniqueItems}, and at most ${CONTRACT_LIMITS.maxEvaluations} subschemas evaluated against one value; else 400 VALIDATION_ERROR saying where and why. The proxy refuses input that breaks the input schema (400 VALIDATION_ERROR, nothing held or charged) and treats an output that breaks the output schema as the seller's failed call (502 SELLER_ERROR, not charged). See docs/contracts.md.`;
const FRAUD = DEFAULT_FRAUD_SETTINGS;
const defineRoute = routeDefiner<RegistryDeps>();

/** Agent registration, updates, search and categories. */
export const registryRoutes: Route<RegistryDeps>[] = [
  defineRoute({
    method: "POST",
    url: "/agents/register",
    operationId: "registerAgent",
    tag: "Agents",
    summary: "Register an agent",
    description: [
      "Puts a seller's endpoint on the marketplace at a price per call. The endpoint must be https and resolve to public addresses (dev mode allows http and local addresses).",
      "",
      `Outside dev mode the listing goes active only once its endpoint proves it serves this account: the broker GETs \`{api_endpoint}${ENDPOINT_CHALLENGE_PATH}{token}\` (no redirects, ${5} s, 16 KiB at most) and expects \`{"token": "<token>", "owner": "<your account id>"}\` (or \`"agents": ["<agent id>", …]\` naming this listing), which the seller kit answers by itself. The broker tries once at registration: \`status\` is \`registered\` when the proof came, else \`pending_verification\` with the reason and the challenge URL in \`verification\`; the listing is then not listed, purchasable or callable until \`POST /agents/{id}/verify\` succeeds. In dev mode the listing is active at once.`,
      "",
      CONTRACT_DESCRIPTION,
      "",
      `Limits per account (defaults; the broker's \`--max-agents-per-account\` and \`--registration-rate-limit\`): at most ${FRAUD.maxAgentsPerAccount} agents that are not deactivated, pending ones included (past it, LISTING_LIMIT_REACHED, 403), and ${FRAUD.registrationsPerHour} registrations, endpoint changes and re-activations per hour (past it, RATE_LIMITED, 429, with Retry-After). A refused registration lists nothing. Several listings may share one endpoint: the broker health-checks each distinct endpoint once per interval, whatever the number of listings.`,
    ].join("\n"),
    auth: "account",
    body: "RegisterAgentRequest",
    // Two contract schemas of up to 64 KiB each, and the listing.
    bodyLimit: LISTING_BODY_LIMIT,
    errors: ["INVALID_ENDPOINT", "LISTING_LIMIT_REACHED"],
    rateLimited: true,
    success: {
      status: 201,
      schema: "RegisterAgentResponse",
      description: "The new agent's id, and whether its endpoint is verified",
    },
    async handler({ deps, caller, body, reply }) {
      // First: the allowance also bounds the DNS lookups and endpoint checks registrations cause.
      await enforceRegistrationRate(deps, caller.account.id, reply);
      const schemas = checkedSchemas(deps, body);
      await checkSellerEndpoint(body.api_endpoint, endpointPolicy(deps));
      const now = deps.clock.now().toISOString();
      const dev = deps.config.dev;
      const registered = await deps.store.insertAgent(
        {
          id: newId("agent"),
          ownerId: caller.account.id,
          name: body.name,
          description: body.description,
          category: body.category,
          tags: body.tags ?? [],
          version: body.version ?? "1.0.0",
          apiEndpoint: body.api_endpoint,
          // Outside dev mode a listing waits, off the market, for its endpoint's proof.
          status: dev ? "active" : "inactive",
          endpoint: {
            verifiedAt: dev ? now : null,
            challenge: dev ? null : newChallengeToken(),
            graceUntil: null,
            checkedAt: dev ? now : null,
            error: null,
          },
          pricing: {
            model: "per_call",
            priceMicros: Number(parseUsd(body.pricing.price_per_call)),
            currency: "USD",
            tier: body.pricing.tier ?? "basic",
            minCalls: body.pricing.min_calls ?? 1,
          },
          schemas,
          createdAt: now,
        },
        listingLimits(deps),
      );
      let agent = registered;
      if (dev) deps.health?.track(agent.id);
      else agent = (await deps.endpoints.verify(registered)) ?? registered;
      return {
        agent_id: agent.id,
        status: agent.status === "inactive" ? ("pending_verification" as const) : ("registered" as const),
        verification: presentVerification(agent, deps.clock.now().toISOString()),
      };
    },
  }),
  defineRoute({
    method: "POST",
    url: "/agents/:id/verify",
    operationId: "verifyAgentEndpoint",
    tag: "Agents",
    summary: "Verify an agent's endpoint",
    description: `Asks the agent's endpoint for its challenge again (see \`POST /agents/register\`); owner only. When the endpoint answers naming this listing or its owner, the listing is verified and, if it was waiting for the proof, goes active. An already verified endpoint is not asked again. At most one attempt per agent every ${VERIFY_RETRY_MS / 1000} s (else 429). A listing its owner deactivated is re-activated (and verified) with PATCH {status: "active"}.`,
    auth: "account",
    params: AgentParams,
    errors: ["AGENT_NOT_FOUND", "CONFLICT", "RATE_LIMITED"],
    success: {
      status: 200,
      schema: "VerifyAgentResponse",
      description: "The agent's status and verification",
    },
    async handler({ deps, caller, params, reply }) {
      let agent = await ownAgent(deps.store, caller.account.id, params.id);
      const nowMs = deps.clock.now().getTime();
      if (agent.endpoint.verifiedAt === null) {
        if (agent.status === "inactive" && agent.endpoint.challenge === null) {
          throw new MercatoError(
            "CONFLICT",
            `Agent ${agent.id} is deactivated: re-activate it with PATCH {"status": "active"}, which verifies its endpoint`,
          );
        }
        const last = agent.endpoint.checkedAt === null ? undefined : Date.parse(agent.endpoint.checkedAt);
        if (last !== undefined && nowMs - last < VERIFY_RETRY_MS) {
          const retryAfter = Math.max(1, Math.ceil((last + VERIFY_RETRY_MS - nowMs) / 1000));
          reply.header("retry-after", retryAfter);
          throw new MercatoError(
            "RATE_LIMITED",
            `Agent ${agent.id}'s endpoint was checked less than ${VERIFY_RETRY_MS / 1000} s ago; retry in ${retryAfter} s`,
            { details: { retry_after_s: retryAfter } },
          );
        }
        agent = (await deps.endpoints.verify(agent)) ?? (await findAgent(deps.store, agent.id));
      }
      return {
        agent_id: agent.id,
        status: agent.status,
        verification: presentVerification(agent, deps.clock.now().toISOString()),
      };
    },
  }),
  defineRoute({
    method: "GET",
    url: "/agents/search",
    operationId: "searchAgents",
    tag: "Agents",
    summary: "Search agents",
    description:
      "Listed agents (not deactivated) matching every filter, best first. The default order is cost per success: price_per_call / ranking.success_lower_bound, a conservative (90% lower confidence bound) estimate of the success rate on the listing's per-buyer capped 30-day record and its category's prior, so that a new agent (or one with a lucky call) does not outrank a long record. `success_rate`, `avg_response_time_ms` and `uptime_24h` are measured, null with no data yet (`total_calls: 0` is a new listing). See docs/ranking.md. Pages with `next_cursor`.",
    auth: "none",
    query: SearchAgentsQuery,
    success: { status: 200, schema: "SearchAgentsResponse", description: "A page of results" },
    async handler({ deps, query }) {
      const page = await searchListings(deps.store, query);
      return { results: page.agents.map(presentSearchResult), next_cursor: page.nextCursor };
    },
  }),
  defineRoute({
    method: "GET",
    url: "/categories",
    operationId: "listCategories",
    tag: "Agents",
    summary: "List categories",
    description: "Categories of listed agents with the number of agents in each, largest first.",
    auth: "none",
    success: { status: 200, schema: "CategoryList", description: "The categories" },
    async handler({ deps }) {
      return { categories: await deps.store.listCategories() };
    },
  }),
  defineRoute({
    method: "GET",
    url: "/agents/:id",
    operationId: "getAgent",
    tag: "Agents",
    summary: "Get an agent",
    description:
      "The agent with its pricing and metrics (smoothed estimates until calls are measured), and its contract: `input_schema` and `output_schema` as registered (null without one), which the SDK uses to check outputs in direct mode.",
    auth: "none",
    params: AgentParams,
    errors: ["AGENT_NOT_FOUND"],
    success: { status: 200, schema: "AgentDetail", description: "The agent" },
    async handler({ deps, params }) {
      const agent = await findAgent(deps.store, params.id);
      return presentAgentDetail(
        agent,
        deps.clock.now().toISOString(),
        await deps.store.getAgentContract(agent.id),
      );
    },
  }),
  defineRoute({
    method: "GET",
    url: "/agents/:id/price-history",
    operationId: "getAgentPriceHistory",
    tag: "Agents",
    summary: "An agent's price history",
    description: "Every price the agent has asked, newest first.",
    auth: "none",
    params: AgentParams,
    errors: ["AGENT_NOT_FOUND"],
    success: { status: 200, schema: "PriceHistory", description: "The price history" },
    async handler({ deps, params }) {
      const agent = await findAgent(deps.store, params.id);
      const history = await deps.store.listPriceHistory(agent.id);
      return { agent_id: agent.id, data: history.map(presentPriceChange) };
    },
  }),
  defineRoute({
    method: "PATCH",
    url: "/agents/:id",
    operationId: "updateAgent",
    tag: "Agents",
    summary: "Update an agent",
    description:
      "Changes any of the registration's fields; owner only. A new price is kept in the price history. `status` deactivates or re-activates. Outside dev mode, a new `api_endpoint` (or re-activating a listing whose endpoint is not verified) takes the listing off the market until the endpoint proves it serves this listing (see `POST /agents/register`); the broker tries at once, and `verification` says how it went. A new `api_endpoint` or a re-activation takes from the account's hourly registration allowance (RATE_LIMITED, 429), and a re-activation counts against its limit of listings (LISTING_LIMIT_REACHED, 403).",
    auth: "account",
    params: AgentParams,
    body: "UpdateAgentRequest",
    bodyLimit: LISTING_BODY_LIMIT,
    errors: ["AGENT_NOT_FOUND", "INVALID_ENDPOINT", "LISTING_LIMIT_REACHED"],
    rateLimited: true,
    success: { status: 200, schema: "AgentDetail", description: "The updated agent" },
    async handler({ deps, caller, params, body, reply }) {
      let agent = await ownAgent(deps.store, caller.account.id, params.id);
      const schemas = checkedSchemas(deps, body);
      const moved = body.api_endpoint !== undefined && body.api_endpoint !== agent.apiEndpoint;
      const reactivating = body.status === "active" && agent.status === "inactive";
      if (moved || reactivating) await enforceRegistrationRate(deps, caller.account.id, reply);
      if (body.api_endpoint !== undefined) await checkSellerEndpoint(body.api_endpoint, endpointPolicy(deps));
      const now = deps.clock.now().toISOString();
      const needsProof = !deps.config.dev && (moved || (reactivating && !servableEndpoint(agent, now)));
      if (needsProof || body.status === "inactive" || (deps.config.dev && moved)) {
        // The listing is off the market (or stays so) until the new endpoint proves it serves it.
        const waits = needsProof && body.status !== "inactive";
        const reset = await deps.store.setEndpointProof(
          agent.id,
          deps.config.dev && moved
            ? { verifiedAt: now, challenge: null, graceUntil: null, checkedAt: now, error: null }
            : body.status === "inactive"
              ? { challenge: null, ...(moved && { verifiedAt: null, graceUntil: null, error: null }) }
              : {
                  verifiedAt: null,
                  // A new endpoint gets a new token: an answer prepared for the old one proves nothing.
                  challenge: moved ? newChallengeToken() : (agent.endpoint.challenge ?? newChallengeToken()),
                  graceUntil: null,
                  checkedAt: null,
                  error: null,
                },
          { at: now, ...(waits && { status: "inactive" as const }) },
        );
        if (!reset) throw agentNotFound(agent.id);
        agent = reset;
      }
      const patch: AgentPatch = {
        ...(body.name !== undefined && { name: body.name }),
        ...(body.description !== undefined && { description: body.description }),
        ...(body.category !== undefined && { category: body.category }),
        ...(body.tags !== undefined && { tags: body.tags }),
        ...(body.version !== undefined && { version: body.version }),
        ...(body.api_endpoint !== undefined && { apiEndpoint: body.api_endpoint }),
        ...((schemas.input !== undefined || schemas.output !== undefined) && { schemas }),
        // A listing waiting for its endpoint's proof goes active only with the proof.
        ...(body.status !== undefined &&
          !(needsProof && body.status === "active") && { status: body.status }),
      };
      if (body.pricing !== undefined) {
        const p = body.pricing;
        patch.pricing = {
          ...agent.pricing,
          ...(p.price_per_call !== undefined && { priceMicros: Number(parseUsd(p.price_per_call)) }),
          ...(p.tier !== undefined && { tier: p.tier }),
          ...(p.min_calls !== undefined && { minCalls: p.min_calls }),
        };
      }
      let updated = await deps.store.updateAgent(agent.id, patch, now, listingLimits(deps));
      deps.invoke.agents.invalidate(agent.id);
      deps.invoke.contracts.invalidate(agent.id);
      if (!updated) throw agentNotFound(agent.id);
      if (needsProof && body.status !== "inactive") {
        updated = (await deps.endpoints.verify(updated)) ?? (await findAgent(deps.store, agent.id));
      }
      if (updated.status === "inactive") deps.health?.untrack(agent.id);
      else if (body.status === "active" || body.api_endpoint !== undefined) deps.health?.track(agent.id);
      return presentAgentDetail(
        updated,
        deps.clock.now().toISOString(),
        await deps.store.getAgentContract(agent.id),
      );
    },
  }),
  defineRoute({
    method: "DELETE",
    url: "/agents/:id",
    operationId: "deactivateAgent",
    tag: "Agents",
    summary: "Deactivate an agent",
    description:
      'Takes the agent off the marketplace: it is no longer listed, purchasable or callable. Owner only; re-activate with PATCH {status: "active"}.',
    auth: "account",
    params: AgentParams,
    errors: ["AGENT_NOT_FOUND"],
    success: { status: 200, schema: "DeactivateAgentResponse", description: "The agent is inactive" },
    async handler({ deps, caller, params }) {
      const agent = await ownAgent(deps.store, caller.account.id, params.id);
      if (agent.status !== "inactive" || agent.endpoint.challenge !== null) {
        // A pending challenge is dropped too: a later proof must not re-activate what its owner took off.
        await deps.store.setEndpointProof(
          agent.id,
          { challenge: null },
          { status: "inactive", at: deps.clock.now().toISOString() },
        );
        deps.invoke.agents.invalidate(agent.id);
      }
      deps.health?.untrack(agent.id);
      return { agent_id: agent.id, status: "inactive" as const };
    },
  }),
];
