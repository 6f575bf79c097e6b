import { isMercatoError, type MercatoError } from "@mercato/protocol";
import { describe, expect, it } from "vitest";
import { checkContractSchema } from "../../src/contracts/check.js";
import { createContractCompiler } from "../../src/contracts/compile.js";
import { CONTRACT_LIMITS } from "../../src/contracts/limits.js";
import { linearRegExp } from "../../src/contracts/linear-regexp.js";

const compiler = createContractCompiler();

/** The refusal of `schema`, or a failure when it is accepted. */
function refusal(schema: unknown): { path: string; message: string } {
  try {
    checkContractSchema(schema, "input_schema", compiler);
  } catch (error) {
    if (!isMercatoError(error)) throw error;
    expect((error as MercatoError).code).toBe("VALIDATION_ERROR");
    const issues = (error as MercatoError).details?.issues as { path: string; message: string }[];
    expect(issues.length).toBeGreaterThan(0);
    return issues[0] as { path: string; message: string };
  }
  throw new Error(`accepted: ${JSON.stringify(schema).slice(0, 200)}`);
}

const twentyProperties = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: Object.fromEntries(
    Array.from({ length: 20 }, (_, i) => [
      `field${i}`,
      { type: "string", maxLength: 100, pattern: "^[a-z0-9 ]*$" },
    ]),
  ),
  required: ["field0"],
  additionalProperties: false,
};

describe("checkContractSchema: what a seller's schema may not do (attacks)", () => {
  it("refuses a remote $ref, such as the cloud metadata address, without fetching it", () => {
    for (const ref of [
      "http://169.254.169.254/latest/meta-data/",
      "https://example.com/schema.json",
      "other.json#/x",
      "//169.254.169.254/x",
      "urn:x",
    ]) {
      expect(refusal({ type: "object", properties: { a: { $ref: ref } } })).toMatchObject({
        path: "input_schema/properties/a/$ref",
        message: expect.stringContaining("remote and relative references are not fetched"),
      });
    }
  });

  it("refuses $id, $anchor and $dynamicRef, which would give a $ref another base or a name to resolve", () => {
    expect(refusal({ $id: "http://169.254.169.254/", type: "object" }).path).toBe("input_schema/$id");
    expect(refusal({ $defs: { a: { $id: "https://evil.example/a" } } }).path).toBe(
      "input_schema/$defs/a/$id",
    );
    expect(refusal({ $defs: { a: { $anchor: "a" } } }).path).toBe("input_schema/$defs/a/$anchor");
    expect(refusal({ $dynamicRef: "http://169.254.169.254/#meta" }).path).toBe("input_schema/$dynamicRef");
    expect(refusal({ $schema: "http://169.254.169.254/schema" }).path).toBe("input_schema/$schema");
    expect(refusal({ $schema: "http://json-schema.org/draft-07/schema#" }).message).toContain("2020-12");
  });

  it("refuses a $ref to something the document does not have, also through the prototype chain", () => {
    expect(refusal({ $ref: "#/constructor" }).message).toContain("names nothing");
    expect(refusal({ $ref: "#/__proto__/x" }).message).toContain("names nothing");
    expect(refusal({ $ref: "#/$defs/missing" }).message).toContain("names nothing");
  });

  it('refuses a "__proto__" key anywhere in the document', () => {
    const schema = JSON.parse('{"type":"object","properties":{"__proto__":{"type":"string"}}}');
    expect(refusal(schema)).toMatchObject({
      path: "input_schema/properties",
      message: expect.stringContaining("__proto__"),
    });
  });

  it("refuses a pattern that would backtrack catastrophically, and one that runs only with backtracking", () => {
    // Each of these takes minutes or more against a few thousand characters on a backtracking engine.
    for (const pattern of ["^(a+)+$", "a*a*a*a*b", "^(\\s*,?\\s*)*$"]) {
      // Accepted, but run on the linear-time engine: the attack test is that validation ends (see validators.test.ts).
      expect(() => checkContractSchema({ type: "string", pattern }, "input_schema", compiler)).not.toThrow();
    }
    for (const pattern of ["^(a)\\1$", "^(?=a)a$", "^\\p{L}+$", "^\\u{1F600}$", "\\-"]) {
      expect(refusal({ type: "string", pattern })).toMatchObject({
        path: "input_schema/pattern",
        message: expect.stringContaining("linear time"),
      });
    }
    // Lookbehind: newer V8 engines (Node 24) run it in linear time, Node 20's cannot. Either way it
    // never reaches a backtracking engine: accepted where the linear engine takes it, refused elsewhere.
    const lookbehind = { type: "string", pattern: "(?<!x)y" };
    if (linearEngineTakes("(?<!x)y")) {
      expect(() => checkContractSchema(lookbehind, "input_schema", compiler)).not.toThrow();
    } else {
      expect(refusal(lookbehind).message).toContain("linear time");
    }
    expect(refusal({ patternProperties: { "(a)\\1": true } }).path).toBe(
      "input_schema/patternProperties/(a)\\1",
    );
    expect(
      refusal({ type: "string", pattern: "a".repeat(CONTRACT_LIMITS.maxPatternLength + 1) }).message,
    ).toContain("at most 512");
  });

  it("refuses a schema nested deeper than 32 levels", () => {
    let schema: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < 40; i++) schema = { type: "object", properties: { a: schema } };
    expect(refusal(schema).message).toContain("deeper than 32");
  });

  it("refuses a schema over 64 KiB, and an enormous enum", () => {
    const big = { type: "string", description: "x".repeat(CONTRACT_LIMITS.maxBytes) };
    expect(refusal(big)).toMatchObject({ path: "input_schema", message: expect.stringContaining("65536") });
    expect(refusal({ enum: Array.from({ length: 257 }, (_, i) => i) })).toMatchObject({
      path: "input_schema/enum",
      message: expect.stringContaining("at most 256"),
    });
  });

  it("refuses $refs that multiply (a billion laughs) and a $ref loop that never goes into the value", () => {
    const defs: Record<string, unknown> = { d0: { type: "string" } };
    for (let i = 1; i <= 30; i++)
      defs[`d${i}`] = { allOf: [{ $ref: `#/$defs/d${i - 1}` }, { $ref: `#/$defs/d${i - 1}` }] };
    expect(refusal({ $defs: defs, $ref: "#/$defs/d30" }).message).toContain("too costly");
    expect(
      refusal({ $defs: { a: { anyOf: [{ $ref: "#/$defs/a" }] } }, $ref: "#/$defs/a" }).message,
    ).toContain("never end");
    expect(refusal({ not: { $ref: "#" } }).message).toContain("never end");
  });

  it("refuses uniqueItems without a small maxItems (comparing items is quadratic)", () => {
    expect(refusal({ type: "array", uniqueItems: true }).path).toBe("input_schema/uniqueItems");
    expect(refusal({ type: "array", uniqueItems: true, maxItems: 100_000 }).path).toBe(
      "input_schema/uniqueItems",
    );
    expect(() =>
      checkContractSchema({ type: "array", uniqueItems: true, maxItems: 1000 }, "input_schema", compiler),
    ).not.toThrow();
  });

  it("refuses what is not a valid draft 2020-12 schema, saying where", () => {
    expect(refusal({ type: "strin" }).path).toBe("input_schema/type");
    expect(refusal({ properties: { a: { minLength: -1 } } }).path).toBe(
      "input_schema/properties/a/minLength",
    );
    expect(refusal([]).message).toContain("JSON Schema object");
    expect(refusal("string").message).toContain("JSON Schema object");
  });
});

describe("checkContractSchema: what it accepts", () => {
  it("accepts a 20-property schema, returning its JSON text as given", () => {
    expect(checkContractSchema(twentyProperties, "input_schema", compiler)).toBe(
      JSON.stringify(twentyProperties),
    );
  });

  it("accepts a recursive tree, whose $ref goes into the value before coming back", () => {
    const tree = {
      $defs: {
        node: {
          type: "object",
          properties: {
            name: { type: "string" },
            children: { type: "array", items: { $ref: "#/$defs/node" } },
          },
        },
      },
      $ref: "#/$defs/node",
    };
    expect(() => checkContractSchema(tree, "output_schema", compiler)).not.toThrow();
    expect(() =>
      checkContractSchema({ type: "array", items: { $ref: "#" } }, "output_schema", compiler),
    ).not.toThrow();
  });

  it("accepts what zod 4 makes of a schema, property names like constructor included", async () => {
    const { z } = await import("zod");
    const schema = z.toJSONSchema(
      z.object({
        email: z.email(),
        id: z.uuid(),
        at: z.iso.datetime(),
        n: z.number().int().min(0),
        kind: z.enum(["a", "b"]),
        constructor: z.string().optional(),
        tags: z.array(z.string()).max(10),
      }),
    );
    expect(() => checkContractSchema(schema, "input_schema", compiler)).not.toThrow();
    const check = compiler.compile(schema);
    expect(
      check({
        email: "a@b.co",
        id: "00000000-0000-0000-0000-000000000000",
        at: "2026-01-01T00:00:00Z",
        n: 1,
        kind: "a",
        tags: [],
      }),
    ).toEqual([]);
    expect(check({ email: "nope" })[0]).toMatchObject({
      path: expect.any(String),
      message: expect.any(String),
    });
  });
});

/** Whether this engine's linear-time regular expressions take `pattern`. */
function linearEngineTakes(pattern: string): boolean {
  try {
    linearRegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
