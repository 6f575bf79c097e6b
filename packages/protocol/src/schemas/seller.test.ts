import { describe, expect, it } from "vitest";
import { SellerCallRequest, SellerCallResponse } from "./seller.js";

describe("SellerCallRequest", () => {
  it("accepts the seller protocol's body with any JSON input, and drops unknown fields", () => {
    for (const input of [{ symbol: "BTC" }, "text", 3, null, [1, 2], false]) {
      const parsed = SellerCallRequest.parse({ input, call_id: "call_1", timeout_ms: 5000, extra: 1 });
      expect(parsed).toStrictEqual({ input, call_id: "call_1", timeout_ms: 5000 });
    }
  });

  it.each<[string, unknown]>([
    ["a missing input", { call_id: "call_1", timeout_ms: 5000 }],
    ["a missing call_id", { input: 1, timeout_ms: 5000 }],
    ["an empty call_id", { input: 1, call_id: "", timeout_ms: 5000 }],
    ["a numeric call_id", { input: 1, call_id: 7, timeout_ms: 5000 }],
    ["a missing timeout_ms", { input: 1, call_id: "call_1" }],
    ["a zero timeout_ms", { input: 1, call_id: "call_1", timeout_ms: 0 }],
    ["a negative timeout_ms", { input: 1, call_id: "call_1", timeout_ms: -1 }],
    ["a fractional timeout_ms", { input: 1, call_id: "call_1", timeout_ms: 1.5 }],
    ["a string timeout_ms", { input: 1, call_id: "call_1", timeout_ms: "5000" }],
    ["null", null],
    ["an array", []],
  ])("refuses %s", (_label, body) => {
    expect(SellerCallRequest.safeParse(body).success).toBe(false);
  });
});

describe("SellerCallResponse", () => {
  it("accepts {output} with any JSON value, null included", () => {
    expect(SellerCallResponse.parse({ output: { price: 1 } })).toStrictEqual({ output: { price: 1 } });
    expect(SellerCallResponse.parse({ output: null })).toStrictEqual({ output: null });
  });

  it("refuses a body without output", () => {
    expect(SellerCallResponse.safeParse({ result: 1 }).success).toBe(false);
    expect(SellerCallResponse.safeParse("ok").success).toBe(false);
  });
});
