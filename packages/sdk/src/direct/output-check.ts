import type { Requester } from "../client/request.js";

/** One way an output misses its schema: where (a JSON Pointer, "" for the whole output) and what. */
export interface OutputIssue {
  path: string;
  message: string;
}

/** Checks an output against an agent's output schema: its first issues, or undefined when it fits. */
export type OutputCheck = (output: unknown) => OutputIssue[] | undefined;

/** How many issues a failed check lists (as the broker does). */
export const MAX_OUTPUT_ISSUES = 10;

/** How long an agent's contract is kept before `GET /agents/{id}` is asked again, ms. */
export const CONTRACT_TTL_MS = 5 * 60_000;

/** The fields of `GET /agents/{id}` the check reads: `output_schema` may be absent on an older broker. */
interface AgentContract {
  output_schema?: unknown;
}

/** A compiled validator as ajv makes one. */
interface AjvValidate {
  (data: unknown): boolean;
  errors?: Array<{ instancePath?: string; message?: string }> | null;
}

/** The part of an ajv instance the check uses. */
interface AjvLike {
  compile(schema: object): AjvValidate;
}

/**
 * Output checks of one client's direct calls: each agent's `output_schema` read from
 * `GET /agents/{id}` (kept {@link CONTRACT_TTL_MS}) and compiled once with ajv (JSON Schema 2020-12).
 * ajv is loaded with a dynamic import the first time an agent has a schema, so that the SDK's main
 * bundle does not carry it.
 */
export function createOutputChecks(request: Requester, now: () => number = Date.now) {
  const cache = new Map<string, { at: number; check: Promise<OutputCheck | undefined> }>();
  let ajv: Promise<AjvLike> | undefined;

  const load = (): Promise<AjvLike> => {
    ajv ??= import("ajv/dist/2020.js").then((module) => {
      // A CommonJS module: its export is the class, under `default` once or twice by loader.
      const exported = module as unknown as { default: { default?: unknown } };
      const Ajv2020 = (exported.default.default ?? exported.default) as new (options: object) => AjvLike;
      // Formats are annotations here, as in JSON Schema 2020-12 by default; sellers' schemas may use
      // keywords ajv's strict mode would refuse.
      return new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    });
    return ajv;
  };

  const compile = async (schema: object): Promise<OutputCheck | undefined> => {
    let validate: AjvValidate;
    try {
      validate = (await load()).compile(schema);
    } catch {
      // The broker checked the schema at registration: one ajv cannot compile is not the seller's
      // fault to pin on its answers.
      return undefined;
    }
    return (output) => {
      if (validate(output)) return undefined;
      return (validate.errors ?? []).slice(0, MAX_OUTPUT_ISSUES).map((error) => ({
        path: error.instancePath ?? "",
        message: error.message ?? "does not match the schema",
      }));
    };
  };

  /**
   * The output check of an agent's current contract (undefined: no output schema). A failure to
   * read the contract rejects and is not kept, so that the next call asks again.
   */
  return (agentId: string, signal?: AbortSignal): Promise<OutputCheck | undefined> => {
    const kept = cache.get(agentId);
    if (kept !== undefined && now() - kept.at < CONTRACT_TTL_MS) return kept.check;
    const check = request("get", "/agents/{id}", { params: { id: agentId } }, { signal }).then((agent) => {
      const schema = (agent as AgentContract).output_schema;
      return typeof schema === "object" && schema !== null ? compile(schema) : undefined;
    });
    const entry = { at: now(), check };
    cache.set(agentId, entry);
    check.catch(() => {
      if (cache.get(agentId) === entry) cache.delete(agentId);
    });
    return check;
  };
}
