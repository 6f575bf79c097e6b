import { type Message, Role } from "@a2a-js/sdk";
import { SearchAgentsQuery } from "@mercato/protocol";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { authenticateAccess } from "../accounts/authenticate.js";
import { parseInput } from "../platform/http/validation.js";
import { presentSearchResult } from "../registry/presenters.js";
import { searchListings } from "../registry/search.js";
import type { CardBase } from "./cards.js";
import type { A2aDeps } from "./deps.js";
import { countedInvoke, inputOf, invokeWithMessage, messageOf, messageResponse } from "./json-rpc.js";

// Mercato's own JSON-RPC endpoint (`POST /a2a`), the interface of the marketplace's card: its two
// skills, told apart by the data part. `{agent_id, input}` calls that agent (its access key as the
// bearer, exactly as `POST /agents/{id}/a2a`); anything else is a search query.

const CallData = z.strictObject({
  agent_id: z.string().min(1).max(64),
  input: z.unknown(),
});

/** `SendMessage` to the marketplace: search (no key needed) or call (the agent's access key). */
export function marketplaceSendMessage(
  deps: A2aDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  base: CardBase,
) {
  return async (params: unknown) => {
    const message = messageOf(params);
    const data = inputOf(message);
    if (typeof data === "object" && data !== null && !Array.isArray(data) && "agent_id" in data) {
      const call = parseInput(CallData, data, "the call's data part");
      const { key } = await authenticateAccess(request, deps);
      return countedInvoke(deps, () =>
        invokeWithMessage(deps, {
          key,
          agentId: call.agent_id,
          reply,
          message,
          input: () => call.input ?? null,
        }),
      );
    }
    return messageResponse(await search(deps, message, data, base));
  };
}

/** The `search` skill: `GET /agents/search` with the data part as its query, answered as a data part. */
async function search(deps: A2aDeps, asked: Message, data: unknown, base: CardBase): Promise<Message> {
  const query = parseInput(SearchAgentsQuery, data ?? {}, "the search's data part");
  const page = await searchListings(deps.store, query);
  const results = page.agents.map((agent) => ({
    ...presentSearchResult(agent),
    agent_card_url: `${base.url}/agents/${agent.id}/agent-card.json`,
  }));
  return {
    messageId: `msg_search_${asked.messageId}`.slice(0, 255),
    contextId: asked.contextId,
    taskId: "",
    role: Role.ROLE_AGENT,
    parts: [
      {
        content: { $case: "data", value: { results, next_cursor: page.nextCursor } },
        metadata: undefined,
        filename: "",
        mediaType: "application/json",
      },
    ],
    metadata: { skill: "search" },
    extensions: [],
    referenceTaskIds: [],
  };
}
