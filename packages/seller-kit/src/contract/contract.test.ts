import { ErrorEnvelopeSchema } from "@mercato/protocol";
import { afterEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import * as z from "zod";
import type { SellerKitOptions, SellerKitResponse } from "../core/index.js";
import { type SellerKit, sellerKit } from "../kit/index.js";
import type { StandardSchemaV1 } from "../validation/index.js";
import { deriveContract } from "./contract.js";

afterEach(() => {
  vi.restoreAllMocks();
});

const encoder = new TextEncoder();

/** A kit that takes unsigned calls (the contract and the output check do not depend on signatures). */
function kitWith(options: Partial<SellerKitOptions>): SellerKit {
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
  return sellerKit({ verify: false, handler: () => null, ...options } as SellerKitOptions);
}

async function get(kit: SellerKit, target: string) {
  const answer = await kit.handle({
    method: "GET",
    target,
    headers: () => undefined,
    body: new Uint8Array(),
  });
  return { status: answer.status, json: JSON.parse(answer.body) as unknown };
}

async function callWith(kit: SellerKit, input: unknown): Promise<SellerKitResponse & { json: unknown }> {
  const body = JSON.stringify({ input, call_id: "c1", timeout_ms: 5000 });
  const answer = await kit.handle({
    method: "POST",
    target: "/agent",
    headers: () => undefined,
    body: encoder.encode(body),
  });
  return { ...answer, json: JSON.parse(answer.body) };
}

/** A Standard Schema of another vendor, without Standard JSON Schema. */
const positive: StandardSchemaV1<number> = {
  "~standard": {
    version: 1,
    vendor: "test",
    validate: (value) =>
      typeof value === "number" && value > 0 ? { value } : { issues: [{ message: "must be positive" }] },
  },
};

describe("the contract a kit serves", () => {
  it.each([
    "/.well-known/mercato-contract",
    "/agent/.well-known/mercato-contract",
    "/agent/.well-known/mercato-contract/",
    "/agent/.well-known/mercato-contract?v=1",
  ])("serves GET %s", async (target) => {
    const kit = kitWith({ input: z.object({ q: z.string() }) });
    expect(await get(kit, target)).toEqual({
      status: 200,
      json: { input_schema: expect.objectContaining({ type: "object" }), output_schema: null },
    });
  });

  it("describes what a buyer sends (defaults optional) and what the kit answers (defaults filled in)", () => {
    const Both = z.object({ n: z.number().int().default(3) });
    const contract = deriveContract(Both, Both, () => undefined);
    expect(contract.input_schema).not.toHaveProperty("required");
    expect(contract.output_schema).toMatchObject({ required: ["n"], additionalProperties: false });
  });

  it("serves null, and warns once at creation, for a schema JSON Schema cannot describe", async () => {
    const warn = vi.fn();
    const contract = deriveContract(
      z.string(),
      z.string().transform((text) => text.length),
      warn,
    );
    expect(contract).toEqual({
      input_schema: { $schema: "https://json-schema.org/draft/2020-12/schema", type: "string" },
      output_schema: null,
    });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toMatch(
      /the output schema cannot be written as JSON Schema \(Transforms cannot be represented.*output_schema: null/,
    );
  });

  it("serves null for a Standard Schema without Standard JSON Schema, and still checks with it", async () => {
    const kit = kitWith({
      input: positive,
      output: positive,
      handler: (n: unknown) => (n as number) - 2,
      onError: () => undefined,
    });
    expect(kit.contract).toEqual({ input_schema: null, output_schema: null });
    expect((await callWith(kit, 5)).json).toEqual({ output: 3 });
    expect((await callWith(kit, 1)).status).toBe(500);
  });

  it("refuses at creation an input or output that is not a Standard Schema", () => {
    for (const name of ["input", "output"]) {
      expect(() => kitWith({ [name]: { parse: () => 1 } })).toThrow(
        expect.objectContaining({
          code: "VALIDATION_ERROR",
          message: `sellerKit: ${name} must be a Standard Schema (zod 4, valibot, arktype, …)`,
        }),
      );
    }
  });
});

describe("the output schema, on calls the broker proxies", () => {
  const Summary = z.object({ summary: z.string().min(1), words: z.number().int().positive() });

  it("answers 500 output_schema to an output that breaks it: the seller's failure, reported, counted", async () => {
    const onError = vi.fn();
    const kit = kitWith({ output: Summary, handler: () => ({ summary: "", words: 0 }), onError });
    const answer = await callWith(kit, "news");
    expect(answer.status).toBe(500);
    const { error } = ErrorEnvelopeSchema.parse(answer.json);
    expect(error).toMatchObject({
      code: "INTERNAL_ERROR",
      message: "The seller's output does not match its output schema",
      details: {
        reason: "output_schema",
        issues: [
          { path: "summary", message: expect.stringMatching(/>=1 characters/) },
          { path: "words", message: expect.stringMatching(/>0/) },
        ],
      },
    });
    expect(onError).toHaveBeenCalledWith(
      expect.objectContaining({ code: "INTERNAL_ERROR" }),
      expect.objectContaining({ stage: "output", callId: "c1" }),
    );
    expect(kit.stats()).toMatchObject({ calls: 1, successes: 0, failures: 1, rejected: 0 });
  });

  it("shows at most 10 issues", async () => {
    const kit = kitWith({
      output: z.array(z.string()),
      handler: () => Array.from({ length: 25 }, (_, index) => index),
      onError: () => undefined,
    });
    const { error } = ErrorEnvelopeSchema.parse((await callWith(kit, null)).json);
    expect(error.details?.issues).toHaveLength(10);
  });

  it("checks a handler's undefined as the null it is sent as", async () => {
    const kit = kitWith({ output: z.null(), handler: () => undefined });
    expect((await callWith(kit, 1)).json).toEqual({ output: null });
  });

  it("answers 500 and reports when the output schema itself throws", async () => {
    const onError = vi.fn();
    const broken: StandardSchemaV1 = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: () => {
          throw new Error("schema bug");
        },
      },
    };
    const kit = kitWith({ output: broken, handler: () => 1, onError });
    expect((await callWith(kit, 1)).status).toBe(500);
    expect(onError).toHaveBeenCalledWith(expect.any(Error), expect.objectContaining({ stage: "handler" }));
  });

  it("types the handler's return from the output schema", () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    sellerKit({
      verify: false,
      input: z.object({ text: z.string() }),
      output: Summary,
      handler: async ({ text }) => {
        expectTypeOf(text).toBeString();
        return { summary: text, words: 1 };
      },
    });
    sellerKit({
      verify: false,
      output: Summary,
      // @ts-expect-error: the output schema wants a summary and a word count
      handler: () => ({ summary: 1 }),
    });
  });
});
