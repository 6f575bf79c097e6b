import { MAX_JSON_DEPTH } from "@mercato/protocol";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { checkOutput, handlerOutput, serializeOutput } from "./check-output.js";

describe("handlerOutput", () => {
  it("sends undefined as null and keeps falsy values", () => {
    expect(handlerOutput(undefined)).toBeNull();
    for (const value of [null, 0, "", false]) expect(handlerOutput(value)).toBe(value);
  });

  it("throws a TypeError for what JSON cannot carry", () => {
    expect(() => handlerOutput(() => 1)).toThrow(TypeError);
    expect(() => handlerOutput(Symbol("x"))).toThrow(/symbol/);
  });
});

describe("checkOutput", () => {
  const Output = z.object({ price: z.number().positive(), currency: z.string().default("USD") });

  it("answers the schema's parsed value", async () => {
    expect(await checkOutput(Output, { price: 1, extra: true })).toEqual({
      ok: true,
      value: { price: 1, currency: "USD" },
    });
  });

  it("refuses a broken promise as the seller's 500, output_schema, with at most 10 issues", async () => {
    const checked = await checkOutput(Output, { price: -1 });
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.error.status).toBe(500);
    expect(checked.error.code).toBe("INTERNAL_ERROR");
    expect(checked.error.details).toMatchObject({ reason: "output_schema", issues: [{ path: "price" }] });

    const Many = z.object(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, z.string()])));
    const many = await checkOutput(Many, {});
    expect(many.ok).toBe(false);
    if (many.ok) return;
    expect((many.error.details as { issues: unknown[] }).issues).toHaveLength(10);
  });
});

describe("serializeOutput", () => {
  it("wraps the output as {output}", () => {
    expect(serializeOutput({ a: 1 })).toBe('{"output":{"a":1}}');
    expect(serializeOutput(undefined)).toBe('{"output":null}');
  });

  it("throws for a bigint, a cycle, or an output deeper than the broker takes", () => {
    expect(() => serializeOutput(1n)).toThrow(TypeError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => serializeOutput(cycle)).toThrow(TypeError);
    let deep: unknown = 1;
    for (let level = 0; level <= MAX_JSON_DEPTH; level++) deep = [deep];
    expect(() => serializeOutput(deep)).toThrow(RangeError);
  });
});
