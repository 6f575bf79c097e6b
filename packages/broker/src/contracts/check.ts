import { MercatoError } from "@mercato/protocol";
import { type ContractCompiler, type ContractIssue, capText } from "./compile.js";
import { CONTRACT_LIMITS, DRAFT_2020_12 } from "./limits.js";
import { assertSameWithoutUnicode, linearRegExp } from "./linear-regexp.js";

/** Keywords whose value is one subschema applied to the same value. */
const IN_PLACE_ONE = ["not", "if", "then", "else"] as const;
/** Keywords whose value is a list of subschemas applied to the same value. */
const IN_PLACE_LIST = ["allOf", "anyOf", "oneOf"] as const;
/** Keywords whose value maps names to subschemas applied to the same value. */
const IN_PLACE_MAP = ["dependentSchemas"] as const;
/** Keywords whose value is one subschema applied to values inside this one (items, properties). */
const INSIDE_ONE = [
  "items",
  "contains",
  "additionalProperties",
  "propertyNames",
  "unevaluatedItems",
  "unevaluatedProperties",
] as const;
const INSIDE_LIST = ["prefixItems"] as const;
const INSIDE_MAP = ["properties", "patternProperties"] as const;
/** Keywords whose value maps names to subschemas evaluated only through a `$ref`. */
const DEFINITIONS = ["$defs", "definitions"] as const;
/**
 * Keywords refused outright: a base URI or an anchor would let a `$ref` leave the document or
 * resolve by name (and, in an ajv instance shared by every listing, collide with another's).
 */
const REFUSED: Readonly<Record<string, string>> = {
  $id: "must not set $id: a contract is one self-contained document",
  $anchor: 'must not use $anchor: refer with a JSON Pointer ("#/$defs/name")',
  $dynamicAnchor: "must not use $dynamicAnchor",
  $dynamicRef: 'must not use $dynamicRef: use $ref with a JSON Pointer ("#/$defs/name")',
  $recursiveRef: "must not use $recursiveRef (draft 2019-09): use $ref",
  $recursiveAnchor: "must not use $recursiveAnchor (draft 2019-09)",
};

/** A reason a schema is refused, at a JSON Pointer into it. */
class Refusal extends Error {
  constructor(
    readonly pointer: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Checks a listing's `input_schema` or `output_schema` and returns it as the JSON text to store:
 * at most 64 KiB serialized, no deeper than 32 levels, a valid draft 2020-12 schema (meta-schema)
 * that ajv compiles, whose `$ref`s are JSON Pointers into the document itself (never a URL: nothing
 * is fetched), whose patterns run in linear time, and whose worst-case cost per validated value
 * stays within {@link CONTRACT_LIMITS}.
 *
 * @throws MercatoError `VALIDATION_ERROR` with `details.issues` (`path` is the field, then a JSON
 *   Pointer into the schema) saying why.
 */
export function checkContractSchema(schema: unknown, field: string, compiler: ContractCompiler): string {
  const refuse = (issues: ContractIssue[]): never => {
    const first = issues[0] as ContractIssue;
    throw new MercatoError("VALIDATION_ERROR", `Invalid ${field}: ${first.path}: ${first.message}`, {
      details: { issues },
    });
  };
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
    return refuse([{ path: field, message: "must be a JSON Schema object" }]);
  }
  const text = JSON.stringify(schema);
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > CONTRACT_LIMITS.maxBytes) {
    return refuse([
      { path: field, message: `is ${bytes} bytes as JSON; at most ${CONTRACT_LIMITS.maxBytes} are allowed` },
    ]);
  }
  try {
    checkDocument(schema);
    const dialect = (schema as Record<string, unknown>).$schema;
    if (Object.hasOwn(schema, "$schema") && dialect !== DRAFT_2020_12) {
      // Before the meta-schema: ajv would look for the named one (it never fetches it).
      throw new Refusal("/$schema", `must be "${DRAFT_2020_12}" (or left out)`);
    }
    const meta = compiler.metaIssues(schema);
    if (meta.length > 0) {
      return refuse(
        meta.map((issue) => ({ path: capText(`${field}${issue.path}`), message: issue.message })),
      );
    }
    checkSchema(schema as Record<string, unknown>, "", schema as Record<string, unknown>);
    checkCost(schema as Record<string, unknown>);
  } catch (error) {
    if (error instanceof Refusal) {
      return refuse([{ path: capText(`${field}${error.pointer}`), message: capText(error.message) }]);
    }
    throw error;
  }
  try {
    compiler.compile(schema);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return refuse([{ path: field, message: capText(`does not compile: ${reason}`) }]);
  }
  return text;
}

/** The document as JSON: depth, and no key that JavaScript objects treat specially. */
function checkDocument(value: unknown, pointer = "", depth = 1): void {
  if (value === null || typeof value !== "object") return;
  if (depth > CONTRACT_LIMITS.maxDepth) {
    throw new Refusal(pointer, `nests deeper than ${CONTRACT_LIMITS.maxDepth} levels`);
  }
  for (const [key, child] of Object.entries(value)) {
    if (key === "__proto__") throw new Refusal(pointer, 'must not have a "__proto__" key');
    checkDocument(child, `${pointer}/${escapePointer(key)}`, depth + 1);
  }
}

/** One subschema and every subschema under it: keywords, `$ref`s, `enum`s, patterns. */
function checkSchema(schema: unknown, pointer: string, root: Record<string, unknown>): void {
  if (typeof schema === "boolean") return;
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
    throw new Refusal(pointer, "must be a schema (an object or a boolean)");
  }
  const s = schema as Record<string, unknown>;
  for (const [keyword, reason] of Object.entries(REFUSED)) {
    if (Object.hasOwn(s, keyword)) throw new Refusal(`${pointer}/${escapePointer(keyword)}`, reason);
  }
  if (Object.hasOwn(s, "$schema") && (pointer !== "" || s.$schema !== DRAFT_2020_12)) {
    throw new Refusal(
      `${pointer}/$schema`,
      pointer === "" ? `must be "${DRAFT_2020_12}" (or left out)` : "may appear only at the root",
    );
  }
  if (Object.hasOwn(s, "$ref")) resolveRef(s.$ref, `${pointer}/$ref`, root);
  if (Array.isArray(s.enum) && s.enum.length > CONTRACT_LIMITS.maxEnumValues) {
    throw new Refusal(
      `${pointer}/enum`,
      `has ${s.enum.length} values; at most ${CONTRACT_LIMITS.maxEnumValues} are allowed`,
    );
  }
  if (typeof s.pattern === "string") checkPattern(s.pattern, `${pointer}/pattern`);
  if (s.uniqueItems === true) {
    const max = s.maxItems;
    if (typeof max !== "number" || max > CONTRACT_LIMITS.maxUniqueItems) {
      throw new Refusal(
        `${pointer}/uniqueItems`,
        `needs "maxItems" of at most ${CONTRACT_LIMITS.maxUniqueItems} beside it (comparing items costs the square of their number)`,
      );
    }
  }
  for (const [keyword, child] of subschemas(s)) {
    const at = `${pointer}/${keyword}`;
    if (keyword.startsWith("patternProperties/")) {
      checkPattern(unescapePointer(keyword.slice("patternProperties/".length)), at);
    }
    checkSchema(child, at, root);
  }
}

function checkPattern(pattern: string, pointer: string): void {
  if (pattern.length > CONTRACT_LIMITS.maxPatternLength) {
    throw new Refusal(
      pointer,
      `is a pattern of ${pattern.length} characters; at most ${CONTRACT_LIMITS.maxPatternLength} are allowed`,
    );
  }
  try {
    assertSameWithoutUnicode(pattern);
    linearRegExp(pattern);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Refusal(
      pointer,
      `must be a pattern that runs in linear time (no backreferences, lookaround or \\p{…} classes): ${reason}`,
    );
  }
}

/**
 * Every direct subschema of `schema`, as [the JSON Pointer's steps from `schema`, subschema],
 * with whether it applies to the same value or to values inside it.
 */
function subschemas(schema: Record<string, unknown>, kinds?: "in-place" | "inside"): [string, unknown][] {
  const found: [string, unknown][] = [];
  const one = (keywords: readonly string[]) => {
    for (const k of keywords) if (Object.hasOwn(schema, k)) found.push([k, schema[k]]);
  };
  const list = (keywords: readonly string[]) => {
    for (const k of keywords) {
      const value = schema[k];
      if (Object.hasOwn(schema, k) && Array.isArray(value))
        for (const [i, v] of value.entries()) found.push([`${k}/${i}`, v]);
    }
  };
  const map = (keywords: readonly string[]) => {
    for (const k of keywords) {
      const value = schema[k];
      if (!Object.hasOwn(schema, k) || value === null || typeof value !== "object") continue;
      for (const [name, v] of Object.entries(value)) found.push([`${k}/${escapePointer(name)}`, v]);
    }
  };
  if (kinds !== "inside") {
    one(IN_PLACE_ONE);
    list(IN_PLACE_LIST);
    map(IN_PLACE_MAP);
  }
  if (kinds !== "in-place") {
    one(INSIDE_ONE);
    list(INSIDE_LIST);
    map(INSIDE_MAP);
  }
  if (kinds === undefined) map(DEFINITIONS);
  return found;
}

/** The subschema a `$ref` names: a JSON Pointer into this document ("#" or "#/…"), never a URL. */
function resolveRef(ref: unknown, pointer: string, root: Record<string, unknown>): [string, unknown] {
  if (typeof ref !== "string" || !(ref === "#" || ref.startsWith("#/"))) {
    throw new Refusal(
      pointer,
      'must be a JSON Pointer into this schema ("#" or "#/$defs/name"): remote and relative references are not fetched',
    );
  }
  let target: unknown = root;
  let path: string;
  try {
    path = decodeURIComponent(ref.slice(1));
  } catch {
    throw new Refusal(pointer, "is not a valid URI fragment");
  }
  for (const step of path === "" ? [] : path.slice(1).split("/")) {
    const key = unescapePointer(step);
    // Own properties only: "#/constructor" names nothing.
    if (target === null || typeof target !== "object" || !Object.hasOwn(target, key)) {
      throw new Refusal(pointer, `names nothing in this schema: ${JSON.stringify(ref)}`);
    }
    target = (target as Record<string, unknown>)[key];
  }
  return [path, target];
}

/**
 * The worst-case number of subschemas evaluated against one value, `$ref`s expanded where they
 * are: at most `maxEvaluations`. A `$ref` to a schema it is inside of counts once when the way
 * there goes into the data (each round then checks a smaller value); one that does not would
 * recurse forever on the same value, and is refused.
 */
function checkCost(root: Record<string, unknown>): void {
  const max = CONTRACT_LIMITS.maxEvaluations;
  let cost = 0;
  /** The `$ref` targets being expanded, each with the descents into the data when it was entered. */
  const expanding = new Map<string, number>();
  const visit = (schema: unknown, pointer: string, descents: number): void => {
    cost += 1;
    if (cost > max) {
      throw new Refusal(
        pointer,
        `makes the schema too costly to check: more than ${max} subschemas may be evaluated against one value ($refs expanded)`,
      );
    }
    if (typeof schema !== "object" || schema === null) return;
    const s = schema as Record<string, unknown>;
    for (const [keyword, child] of subschemas(s, "in-place")) visit(child, `${pointer}/${keyword}`, descents);
    for (const [keyword, child] of subschemas(s, "inside"))
      visit(child, `${pointer}/${keyword}`, descents + 1);
    if (!Object.hasOwn(s, "$ref")) return;
    const [target, subschema] = resolveRef(s.$ref, `${pointer}/$ref`, root);
    const entered = expanding.get(target);
    if (entered !== undefined) {
      if (entered === descents) {
        throw new Refusal(
          `${pointer}/$ref`,
          "refers back to a schema it is inside of without going into the value: it would never end",
        );
      }
      return;
    }
    expanding.set(target, descents);
    visit(subschema, target, descents);
    expanding.delete(target);
  };
  expanding.set("", 0);
  visit(root, "", 0);
}

function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

function unescapePointer(step: string): string {
  return step.replaceAll("~1", "/").replaceAll("~0", "~");
}
