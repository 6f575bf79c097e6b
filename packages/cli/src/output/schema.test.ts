import { describe, expect, it } from "vitest";
import * as z from "zod";
import { latencyText, NEW_LISTING, NOT_MEASURED, successText, uptimeText } from "./figures.js";
import { createStyle } from "./format.js";
import { formatSchema, schemaFields } from "./schema.js";

const plain = createStyle(false);

/** A JSON Schema as the seller kit derives it from zod (Standard JSON Schema, draft 2020-12). */
const jsonSchemaOf = (schema: z.ZodType, side: "input" | "output" = "input") =>
  schema["~standard"].jsonSchema[side]({ target: "draft-2020-12" }) as Record<string, unknown>;

describe("schemaFields", () => {
  it("lists an object's fields with their type, whether required, and their description", () => {
    const Risk = z.object({
      positions: z
        .array(z.object({ symbol: z.string().describe("Ticker"), quantity: z.number().positive() }))
        .min(1),
      horizon: z.enum(["1d", "7d"]).default("1d").describe("How far ahead"),
      note: z.string().max(200).optional(),
      confidence: z.number().int().min(0).max(100).nullable(),
    });
    expect(schemaFields(jsonSchemaOf(Risk))).toEqual([
      { name: "positions", type: "object[]", required: true, description: "" },
      { name: "positions[].symbol", type: "string", required: true, description: "Ticker" },
      { name: "positions[].quantity", type: "number (> 0)", required: true, description: "" },
      { name: "horizon", type: '"1d" | "7d"', required: false, description: 'How far ahead; default "1d"' },
      { name: "note", type: "string (≤ 200 chars)", required: false, description: "" },
      { name: "confidence", type: "integer (≥ 0, ≤ 100) | null", required: true, description: "" },
    ]);
  });

  it("names a schema that is not an object (value)", () => {
    expect(schemaFields(jsonSchemaOf(z.array(z.string())))).toEqual([
      { name: "(value)", type: "string[]", required: true, description: "" },
    ]);
    expect(schemaFields({})).toEqual([{ name: "(value)", type: "any", required: true, description: "" }]);
  });
});

describe("formatSchema", () => {
  it("prints an indented table, not JSON", () => {
    const Summary = z.object({
      summary: z.string().min(1).describe("The summary, in one paragraph"),
      words: z.number().int().positive(),
    });
    expect(formatSchema(jsonSchemaOf(Summary, "output"), plain).split("\n")).toEqual([
      "  FIELD    TYPE                REQUIRED  DESCRIPTION",
      "  summary  string (≥ 1 chars)  yes       The summary, in one paragraph",
      "  words    integer (> 0)       yes",
    ]);
  });

  it("says when a listing declares no schema", () => {
    expect(formatSchema(null, plain)).toBe("  none declared");
    expect(formatSchema(undefined, plain)).toBe("  none declared");
    expect(formatSchema({ type: "object" }, plain)).toBe("  an object with no declared fields");
  });
});

describe("measured figures", () => {
  const measured = { success_rate: 0.975, avg_response_time_ms: 312.4, uptime_24h: 1, total_calls: 40 };

  it("shows measured figures as figures", () => {
    expect([successText(measured), latencyText(measured, " ms"), uptimeText(measured)]).toEqual([
      "97.5%",
      "312 ms",
      "100.0%",
    ]);
  });

  it("shows new instead of a success rate or a latency for a listing without calls", () => {
    // Even where a broker still sends the prior's figures: no calls means no evidence.
    const fresh = { success_rate: 0.95, avg_response_time_ms: 500, uptime_24h: null, total_calls: 0 };
    expect([successText(fresh), latencyText(fresh), uptimeText(fresh)]).toEqual([
      NEW_LISTING,
      NEW_LISTING,
      NOT_MEASURED,
    ]);
  });

  it("shows — for a figure that was not measured", () => {
    const gaps = { success_rate: null, avg_response_time_ms: null, uptime_24h: null, total_calls: 3 };
    expect([successText(gaps), latencyText(gaps), uptimeText(gaps)]).toEqual(["—", "—", "—"]);
  });
});
