import { MercatoError } from "@mercato/protocol";
import { checkContractSchema } from "../contracts/index.js";
import type { EndpointPolicy } from "../platform/endpoint-policy.js";
import type { RegistryDeps } from "./deps.js";
import type { AgentRecord, AgentSchemasPatch, RegistryStore } from "./port.js";

// What the registry's routes share: finding the agent a request names, checking its contract.

/**
 * The request's contract schemas, checked (see `checkContractSchema`), as the JSON text to store;
 * `null` (PATCH) removes one, a field left out is kept.
 *
 * @throws MercatoError `VALIDATION_ERROR` saying what is wrong with a schema.
 */
export function checkedSchemas(
  deps: Pick<RegistryDeps, "invoke">,
  body: { input_schema?: Record<string, unknown> | null; output_schema?: Record<string, unknown> | null },
): AgentSchemasPatch {
  const check = (schema: Record<string, unknown> | null | undefined, field: string) =>
    schema == null ? schema : checkContractSchema(schema, field, deps.invoke.contractCompiler);
  return {
    input: check(body.input_schema, "input_schema"),
    output: check(body.output_schema, "output_schema"),
  };
}

export async function findAgent(store: Pick<RegistryStore, "getAgent">, id: string): Promise<AgentRecord> {
  const agent = await store.getAgent(id);
  if (!agent) throw agentNotFound(id);
  return agent;
}

export async function ownAgent(
  store: Pick<RegistryStore, "getAgent">,
  accountId: string,
  id: string,
): Promise<AgentRecord> {
  const agent = await findAgent(store, id);
  if (agent.ownerId !== accountId) {
    throw new MercatoError("FORBIDDEN", "Only the agent's owner can change it");
  }
  return agent;
}

export function agentNotFound(id: string): MercatoError {
  return new MercatoError("AGENT_NOT_FOUND", `No agent ${id}`);
}

export function endpointPolicy(deps: Pick<RegistryDeps, "config" | "resolveHost">): EndpointPolicy {
  return { dev: deps.config.dev, resolveHost: deps.resolveHost };
}
