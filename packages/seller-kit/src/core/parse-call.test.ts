import { MercatoError } from "@mercato/protocol";
import { describe, expect, it } from "vitest";
import { parseCall } from "./parse-call.js";

const encoder = new TextEncoder();

describe("parseCall", () => {
  it("parses a seller call", () => {
    expect(parseCall(encoder.encode('{"input":{"a":1},"call_id":"call_1","timeout_ms":5000}'))).toEqual({
      input: { a: 1 },
      call_id: "call_1",
      timeout_ms: 5000,
    });
  });

  it("refuses bytes that are not UTF-8 JSON as INVALID_JSON", () => {
    for (const bytes of [encoder.encode("{nope"), new Uint8Array([0x7b, 0xff, 0x7d])]) {
      const refusal = parseCall(bytes);
      expect(refusal).toBeInstanceOf(MercatoError);
      expect((refusal as MercatoError).code).toBe("INVALID_JSON");
    }
  });

  it("refuses a body that is no seller call as VALIDATION_ERROR, with its issues", () => {
    const refusal = parseCall(encoder.encode('{"input":1,"timeout_ms":5000}')) as MercatoError;
    expect(refusal.code).toBe("VALIDATION_ERROR");
    expect(refusal.message).toMatch(/^Invalid call: call_id: /);
    expect(refusal.details).toMatchObject({ issues: [{ path: "call_id" }] });
  });
});
