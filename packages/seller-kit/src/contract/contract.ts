import type { StandardSchemaV1 } from "../validation/index.js";

/** Where the kit serves its contract, below its endpoint: `GET {api_endpoint}/.well-known/mercato-contract`. */
export const CONTRACT_PATH = "/.well-known/mercato-contract";

/** The JSON Schema dialect the marketplace speaks (what the broker validates with). */
const TARGET = "draft-2020-12";

/** A JSON Schema document, as a JSON object. */
export type JsonSchemaObject = Record<string, unknown>;

/**
 * What the kit serves at {@link CONTRACT_PATH}: the JSON Schemas (draft 2020-12) of the input it
 * takes and of the output it answers, derived from its `input` and `output` Standard Schemas;
 * `null` when the kit has none or it cannot be converted. The shape `POST /agents/register` takes.
 */
export interface SellerContract {
  input_schema: JsonSchemaObject | null;
  output_schema: JsonSchemaObject | null;
}

/**
 * The part of Standard JSON Schema v1 (https://standardschema.dev/json-schema) the kit uses: a
 * Standard Schema that can describe itself as JSON Schema (zod 4.2+, arktype, valibot through
 * `toStandardJsonSchema`). Checked at run time: a schema without it is served as `null`.
 */
interface StandardJsonSchemaProps {
  readonly jsonSchema: {
    readonly input: (options: { readonly target: string }) => unknown;
    readonly output: (options: { readonly target: string }) => unknown;
  };
}

/**
 * The contract of a kit with these schemas. The input's JSON Schema describes what a buyer sends
 * (the schema's input side: defaults optional); the output's describes what the kit answers, which
 * is the output schema's parsed value (its output side: defaults filled in, unknown keys of a zod
 * object stripped). A schema that cannot be converted (a zod transform, a `Date`) is served as
 * `null`, and `warn` says why, once.
 */
export function deriveContract(
  input: StandardSchemaV1 | undefined,
  output: StandardSchemaV1 | undefined,
  warn: (message: string) => void,
): SellerContract {
  return {
    input_schema: jsonSchemaOf(input, "input", warn),
    output_schema: jsonSchemaOf(output, "output", warn),
  };
}

function jsonSchemaOf(
  schema: StandardSchemaV1 | undefined,
  side: "input" | "output",
  warn: (message: string) => void,
): JsonSchemaObject | null {
  if (schema === undefined) return null;
  const converter = (schema["~standard"] as Partial<StandardJsonSchemaProps>).jsonSchema;
  if (typeof converter?.[side] !== "function") return null;
  let converted: unknown;
  try {
    converted = converter[side]({ target: TARGET });
    // Only what survives JSON is served: a converter's stray function or cycle fails here.
    converted = JSON.parse(JSON.stringify(converted)) as unknown;
  } catch (error) {
    warn(
      `mercato seller kit: the ${side} schema cannot be written as JSON Schema ` +
        `(${error instanceof Error ? error.message : String(error)}); ${CONTRACT_PATH} serves ${side}_schema: null`,
    );
    return null;
  }
  if (typeof converted !== "object" || converted === null || Array.isArray(converted)) return null;
  return converted as JsonSchemaObject;
}
