import { formatTable, type Style } from "./format.js";

/** One field of a JSON Schema, as people read it: a dotted name, a type, required or not, a description. */
export interface SchemaField {
  /** Dotted path (`legs[].price`); `(value)` for a schema that is not an object. */
  name: string;
  type: string;
  required: boolean;
  description: string;
}

type Schema = Record<string, unknown>;

/** How deep nested objects are listed: deeper ones show as `object`. */
const MAX_DEPTH = 3;
/** Fields listed at most; the rest are counted. */
const MAX_FIELDS = 40;

/**
 * The fields of a JSON Schema object, nested objects and arrays of objects flattened to dotted
 * names (`legs[].price`). A schema that is not an object is one field named `(value)`.
 */
export function schemaFields(schema: Schema): SchemaField[] {
  const fields: SchemaField[] = [];
  if (!isObjectSchema(schema)) {
    return [{ name: "(value)", type: typeOf(schema), required: true, description: describe(schema) }];
  }
  collect(schema, "", 1, fields);
  return fields;
}

/**
 * A JSON Schema as an indented table (FIELD, TYPE, REQUIRED, DESCRIPTION), or `none` when the
 * listing declares none: what `mercato agents show` prints for `input_schema` and `output_schema`.
 */
export function formatSchema(schema: Schema | null | undefined, style: Style): string {
  if (schema === null || schema === undefined) return `  ${style.dim("none declared")}`;
  const fields = schemaFields(schema);
  if (fields.length === 0) return `  ${style.dim("an object with no declared fields")}`;
  const shown = fields.slice(0, MAX_FIELDS);
  const table = formatTable(
    [{ title: "FIELD" }, { title: "TYPE" }, { title: "REQUIRED" }, { title: "DESCRIPTION" }],
    shown.map((field) => [field.name, field.type, field.required ? "yes" : "no", field.description]),
    style,
  );
  const more = fields.length - shown.length;
  return [
    ...table.split("\n").map((line) => `  ${line}`),
    ...(more > 0 ? [`  ${style.dim(`… and ${more} more (--json shows them all)`)}`] : []),
  ].join("\n");
}

function collect(schema: Schema, prefix: string, depth: number, fields: SchemaField[]): void {
  const properties = asSchema(schema.properties) ?? {};
  const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
  for (const [key, value] of Object.entries(properties)) {
    const property = asSchema(value) ?? {};
    const name = `${prefix}${key}`;
    fields.push({
      name,
      type: typeOf(property),
      required: required.has(key),
      description: describe(property),
    });
    if (depth >= MAX_DEPTH) continue;
    if (isObjectSchema(property)) collect(property, `${name}.`, depth + 1, fields);
    const items = asSchema(property.items);
    if (items !== undefined && isObjectSchema(items)) collect(items, `${name}[].`, depth + 1, fields);
  }
}

/** A JSON Schema's type in a few characters: `string`, `integer ≥ 1`, `string[]`, `"up" | "down"`. */
function typeOf(schema: Schema): string {
  if ("const" in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => JSON.stringify(value)).join(" | ");
  const union = (Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : [])
    .map(asSchema)
    .filter((member): member is Schema => member !== undefined);
  if (union.length > 0) return union.map(typeOf).join(" | ");
  if (typeof schema.$ref === "string") return schema.$ref.replace(/^#\/(\$defs|definitions)\//, "");
  const types = Array.isArray(schema.type)
    ? schema.type.map(String)
    : typeof schema.type === "string"
      ? [schema.type]
      : [];
  if (types.length === 0) return isObjectSchema(schema) ? "object" : "any";
  return types
    .map((type) => (type === "array" ? arrayType(schema) : type + bounds(schema, type)))
    .join(" | ");
}

function arrayType(schema: Schema): string {
  const items = asSchema(schema.items);
  const item = items === undefined ? "any" : typeOf(items);
  return `${item.includes(" ") ? `(${item})` : item}[]`;
}

/** The limits worth reading next to a type: lengths and ranges. */
function bounds(schema: Schema, type: string): string {
  const parts: string[] = [];
  const number = (key: string) => (typeof schema[key] === "number" ? (schema[key] as number) : undefined);
  if (type === "string") {
    const min = number("minLength");
    const max = number("maxLength");
    if (min !== undefined && min > 0) parts.push(`≥ ${min} chars`);
    if (max !== undefined) parts.push(`≤ ${max} chars`);
    if (typeof schema.format === "string") parts.push(schema.format);
  }
  if (type === "number" || type === "integer") {
    // zod writes the safe-integer range on every integer: it says nothing to a person.
    const min = number("minimum");
    const max = number("maximum");
    if (min !== undefined && min !== Number.MIN_SAFE_INTEGER) parts.push(`≥ ${min}`);
    if (number("exclusiveMinimum") !== undefined) parts.push(`> ${number("exclusiveMinimum")}`);
    if (max !== undefined && max !== Number.MAX_SAFE_INTEGER) parts.push(`≤ ${max}`);
    if (number("exclusiveMaximum") !== undefined) parts.push(`< ${number("exclusiveMaximum")}`);
  }
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`;
}

function describe(schema: Schema): string {
  const text = typeof schema.description === "string" ? schema.description : "";
  const extra = "default" in schema ? `default ${JSON.stringify(schema.default)}` : "";
  // One line per field: a description's own line breaks would break the table.
  return [text.replace(/\s+/g, " ").trim(), extra].filter(Boolean).join("; ");
}

function isObjectSchema(schema: Schema): boolean {
  return schema.type === "object" || (schema.type === undefined && asSchema(schema.properties) !== undefined);
}

function asSchema(value: unknown): Schema | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Schema) : undefined;
}
