import { createRequire } from "node:module";
import { MercatoError } from "@mercato/protocol/errors";

/** How many problems an input refusal lists. */
const MAX_ISSUES = 10;
/** Compiled input schemas kept, by agent (the least recently used goes first). */
const MAX_COMPILED = 500;

interface Validate {
  (data: unknown): boolean;
  errors?: Array<{ instancePath?: string; message?: string }> | null;
}

const require = createRequire(import.meta.url);

/**
 * Checks inputs against agents' input schemas (JSON Schema 2020-12, compiled once per agent and
 * schema with ajv) before anything is paid. Formats are annotations, as in 2020-12 by default.
 */
export function createInputChecks() {
  // ajv is CommonJS; its 2020-12 build is the one the broker's contract compiler uses.
  const Ajv2020 = require("ajv/dist/2020.js") as {
    default: new (options: object) => { compile(schema: object): Validate };
  };
  const ajv = new Ajv2020.default({ strict: false, allErrors: true, validateFormats: false });
  const compiled = new Map<string, { schema: string; validate: Validate }>();

  const validator = (agentId: string, schema: object): Validate => {
    const text = JSON.stringify(schema);
    const kept = compiled.get(agentId);
    if (kept && kept.schema === text) {
      compiled.delete(agentId);
      compiled.set(agentId, kept);
      return kept.validate;
    }
    const validate = ajv.compile(schema);
    compiled.set(agentId, { schema: text, validate });
    if (compiled.size > MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
    return validate;
  };

  return {
    /**
     * @throws MercatoError `VALIDATION_ERROR` listing where the input misses the schema, before any money is set aside.
     */
    check(agentId: string, schema: Record<string, unknown> | null | undefined, input: unknown): void {
      if (!schema) return;
      let validate: Validate;
      try {
        validate = validator(agentId, schema);
      } catch {
        // A schema the broker accepted but this ajv cannot compile: the broker checks the input itself.
        return;
      }
      if (validate(input)) return;
      const issues = (validate.errors ?? []).slice(0, MAX_ISSUES).map((error) => ({
        path: error.instancePath ?? "",
        message: error.message ?? "is invalid",
      }));
      throw new MercatoError(
        "VALIDATION_ERROR",
        `The input does not match ${agentId}'s input schema: ${issues.map((i) => `${i.path || "(input)"} ${i.message}`).join("; ")}. Nothing was charged.`,
        { details: { agent_id: agentId, issues } },
      );
    },
  };
}

export type InputChecks = ReturnType<typeof createInputChecks>;
