import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorEnvelopeSchema } from "../schemas/common.js";
import { ERROR_CODE_LIST, ERROR_CODES, type ErrorCode, isErrorCode, statusForCode } from "./codes.js";
import { isMercatoError, MercatoError } from "./mercato-error.js";

describe("error codes", () => {
  it("lists every code once, each with an HTTP error status", () => {
    expect(ERROR_CODE_LIST).toEqual(Object.keys(ERROR_CODES));
    expect(new Set(ERROR_CODE_LIST).size).toBe(ERROR_CODE_LIST.length);
    for (const code of ERROR_CODE_LIST) {
      expect(code).toMatch(/^[A-Z][A-Z_]*[A-Z]$/);
      expect(statusForCode(code)).toBe(ERROR_CODES[code]);
      expect(statusForCode(code)).toBeGreaterThanOrEqual(400);
      expect(statusForCode(code)).toBeLessThan(600);
    }
  });

  it.each<[ErrorCode, number]>([
    ["VALIDATION_ERROR", 400],
    ["INVALID_AMOUNT", 400],
    ["UNAUTHENTICATED", 401],
    ["INSUFFICIENT_FUNDS", 402],
    ["FORBIDDEN", 403],
    ["AGENT_NOT_FOUND", 404],
    ["CONFLICT", 409],
    ["RATE_LIMITED", 429],
    ["INTERNAL_ERROR", 500],
    ["SELLER_ERROR", 502],
    ["SELLER_UNAVAILABLE", 503],
    ["SELLER_TIMEOUT", 504],
  ])("%s answers HTTP %i", (code, status) => {
    expect(ERROR_CODES[code]).toBe(status);
  });

  it("isErrorCode accepts only the closed set, not inherited keys", () => {
    expect(isErrorCode("AGENT_NOT_FOUND")).toBe(true);
    for (const value of [
      "agent_not_found",
      "NOPE",
      "",
      "toString",
      "__proto__",
      "constructor",
      404,
      null,
      undefined,
    ]) {
      expect(isErrorCode(value)).toBe(false);
    }
  });
});

describe("MercatoError", () => {
  it("is an Error with its code, the code's status and the message", () => {
    const error = new MercatoError("AGENT_NOT_FOUND", "No agent agent_abc123");
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(MercatoError);
    expect(error.name).toBe("MercatoError");
    expect(error.code).toBe("AGENT_NOT_FOUND");
    expect(error.status).toBe(404);
    expect(error.message).toBe("No agent agent_abc123");
    expect(error.details).toBeUndefined();
    expect(error.requestId).toBeUndefined();
    expect("cause" in error).toBe(false);
    expect(error.stack).toContain("No agent agent_abc123");
    expect(String(error)).toBe("MercatoError: No agent agent_abc123");
  });

  it.each(ERROR_CODE_LIST)("%s takes its status from ERROR_CODES", (code) => {
    expect(new MercatoError(code, "x").status).toBe(ERROR_CODES[code]);
  });

  it("keeps details, requestId, an explicit status and the native cause", () => {
    const cause = new TypeError("fetch failed");
    const details = { agent_id: "agent_abc123", retry_after: 3 };
    const error = new MercatoError("SELLER_UNAVAILABLE", "The seller could not be reached", {
      status: 599,
      details,
      requestId: "req_123",
      cause,
    });
    expect(error.status).toBe(599);
    expect(error.details).toEqual({ agent_id: "agent_abc123", retry_after: 3 });
    expect(error.requestId).toBe("req_123");
    expect(error.cause).toBe(cause);
    expect(Object.hasOwn(error, "cause")).toBe(true);
  });

  it("keeps a cause that is not an Error", () => {
    expect(new MercatoError("INTERNAL_ERROR", "x", { cause: "boom" }).cause).toBe("boom");
    expect(new MercatoError("INTERNAL_ERROR", "x", { cause: null }).cause).toBeNull();
  });

  it("sets no cause when the cause is undefined", () => {
    const error = new MercatoError("INTERNAL_ERROR", "x", { cause: undefined });
    expect(Object.hasOwn(error, "cause")).toBe(false);
  });

  it("can be thrown and caught by class", () => {
    expect(() => {
      throw new MercatoError("FORBIDDEN", "Not your agent");
    }).toThrow(MercatoError);
    expect(() => {
      throw new MercatoError("FORBIDDEN", "Not your agent");
    }).toThrow("Not your agent");
  });
});

describe("MercatoError.toEnvelope", () => {
  it("has the wire shape, without details when there are none", () => {
    const envelope = new MercatoError("AGENT_NOT_FOUND", "No agent", { requestId: "req_1" }).toEnvelope();
    expect(envelope).toStrictEqual({
      error: { code: "AGENT_NOT_FOUND", message: "No agent", request_id: "req_1" },
    });
    expect(Object.hasOwn(envelope.error, "details")).toBe(false);
  });

  it("includes details when present", () => {
    const error = new MercatoError("VALIDATION_ERROR", "Bad body", {
      requestId: "req_2",
      details: { issues: [{ path: ["name"], message: "Required" }] },
    });
    expect(error.toEnvelope()).toStrictEqual({
      error: {
        code: "VALIDATION_ERROR",
        message: "Bad body",
        details: { issues: [{ path: ["name"], message: "Required" }] },
        request_id: "req_2",
      },
    });
  });

  it("takes the request id argument over its own, and falls back to an empty string", () => {
    const withId = new MercatoError("CONFLICT", "x", { requestId: "req_own" });
    expect(withId.toEnvelope("req_given").error.request_id).toBe("req_given");
    expect(withId.toEnvelope().error.request_id).toBe("req_own");
    expect(new MercatoError("CONFLICT", "x").toEnvelope().error.request_id).toBe("");
  });

  it("does not carry status, cause or stack onto the wire", () => {
    const envelope = new MercatoError("INTERNAL_ERROR", "x", {
      cause: new Error("secret"),
      status: 500,
    }).toEnvelope("req_3");
    expect(Object.keys(envelope)).toEqual(["error"]);
    expect(Object.keys(envelope.error).sort()).toEqual(["code", "message", "request_id"]);
    expect(JSON.stringify(envelope)).not.toContain("secret");
  });

  it.each(ERROR_CODE_LIST)("the envelope of %s satisfies ErrorEnvelopeSchema", (code) => {
    const envelope = new MercatoError(code, "m", { details: { a: 1 } }).toEnvelope("req_x");
    expect(ErrorEnvelopeSchema.parse(envelope)).toEqual(envelope);
  });
});

describe("MercatoError.fromResponse", () => {
  it("rebuilds an error from a valid envelope", () => {
    const cause = new Error("HTTP 404");
    const body = {
      error: {
        code: "AGENT_NOT_FOUND",
        message: "No agent agent_abc123",
        details: { agent_id: "agent_abc123" },
        request_id: "req_abc",
      },
    };
    const error = MercatoError.fromResponse(404, body, cause);
    expect(error).toBeInstanceOf(MercatoError);
    expect(error.code).toBe("AGENT_NOT_FOUND");
    expect(error.status).toBe(404);
    expect(error.message).toBe("No agent agent_abc123");
    expect(error.details).toEqual({ agent_id: "agent_abc123" });
    expect(error.requestId).toBe("req_abc");
    expect(error.cause).toBe(cause);
  });

  it("keeps the HTTP status even when it differs from the code's", () => {
    const error = MercatoError.fromResponse(500, {
      error: { code: "AGENT_NOT_FOUND", message: "m", request_id: "r" },
    });
    expect(error.code).toBe("AGENT_NOT_FOUND");
    expect(error.status).toBe(500);
  });

  it("sets no cause when none is given", () => {
    const error = MercatoError.fromResponse(404, {
      error: { code: "NOT_FOUND", message: "m", request_id: "r" },
    });
    expect(Object.hasOwn(error, "cause")).toBe(false);
  });

  it("round-trips toEnvelope through JSON for every code", () => {
    for (const code of ERROR_CODE_LIST) {
      const original = new MercatoError(code, `failed: ${code}`, { details: { n: 1 }, requestId: "req_rt" });
      const body: unknown = JSON.parse(JSON.stringify(original.toEnvelope()));
      const rebuilt = MercatoError.fromResponse(original.status, body);
      expect(rebuilt.code).toBe(code);
      expect(rebuilt.status).toBe(original.status);
      expect(rebuilt.message).toBe(original.message);
      expect(rebuilt.details).toEqual({ n: 1 });
      expect(rebuilt.requestId).toBe("req_rt");
    }
  });

  const garbage: [string, unknown][] = [
    ["null", null],
    ["undefined", undefined],
    ["a string", "<html>Bad Gateway</html>"],
    ["a number", 42],
    ["an array", [{ error: { code: "NOT_FOUND" } }]],
    ["an empty object", {}],
    ["an error that is a string", { error: "boom" }],
    ["an error that is null", { error: null }],
    ["an error that is an array", { error: [] }],
    ["an unknown code", { error: { code: "NOPE", message: "custom", request_id: "req_g" } }],
    ["a lower-case code", { error: { code: "not_found", message: "custom", request_id: "req_g" } }],
    ["an inherited key as code", { error: { code: "toString", message: "custom", request_id: "req_g" } }],
    ["a numeric code", { error: { code: 404, message: "custom", request_id: "req_g" } }],
  ];

  it.each(garbage)("turns a 4xx with %s into VALIDATION_ERROR keeping the status", (_label, body) => {
    const error = MercatoError.fromResponse(404, body);
    expect(error).toBeInstanceOf(MercatoError);
    expect(error.code).toBe("VALIDATION_ERROR");
    expect(error.status).toBe(404);
  });

  it.each(garbage)("turns a 5xx with %s into INTERNAL_ERROR keeping the status", (_label, body) => {
    const error = MercatoError.fromResponse(502, body);
    expect(error.code).toBe("INTERNAL_ERROR");
    expect(error.status).toBe(502);
  });

  it("uses a generic message when the body has none, and keeps a string message with an unknown code", () => {
    expect(MercatoError.fromResponse(503, null).message).toBe("The broker answered HTTP 503");
    expect(MercatoError.fromResponse(400, "oops").message).toBe("The broker answered HTTP 400");
    expect(MercatoError.fromResponse(400, { error: { message: 7 } }).message).toBe(
      "The broker answered HTTP 400",
    );
    const unknownCode = MercatoError.fromResponse(418, {
      error: { code: "TEAPOT", message: "short and stout" },
    });
    expect(unknownCode.message).toBe("short and stout");
    expect(unknownCode.code).toBe("VALIDATION_ERROR");
  });

  it("drops details that are not an object and a request id that is not a string", () => {
    const error = MercatoError.fromResponse(409, {
      error: { code: "CONFLICT", message: "m", details: ["a"], request_id: 12 },
    });
    expect(error.code).toBe("CONFLICT");
    expect(error.details).toBeUndefined();
    expect(error.requestId).toBeUndefined();
    expect(
      MercatoError.fromResponse(409, { error: { code: "CONFLICT", message: "m", details: null } }).details,
    ).toBeUndefined();
    expect(
      MercatoError.fromResponse(409, { error: { code: "CONFLICT", message: "m", details: "text" } }).details,
    ).toBeUndefined();
  });

  it("uses 500 as the boundary between 4xx and 5xx garbage", () => {
    expect(MercatoError.fromResponse(499, null).code).toBe("VALIDATION_ERROR");
    expect(MercatoError.fromResponse(500, null).code).toBe("INTERNAL_ERROR");
    expect(MercatoError.fromResponse(599, null).code).toBe("INTERNAL_ERROR");
  });

  it("property: never throws and always yields a known code with the given status", () => {
    fc.assert(
      fc.property(fc.integer({ min: 400, max: 599 }), fc.jsonValue(), (status, body) => {
        const error = MercatoError.fromResponse(status, body);
        expect(isErrorCode(error.code)).toBe(true);
        expect(error.status).toBe(status);
        expect(typeof error.message).toBe("string");
      }),
    );
  });
});

describe("isMercatoError", () => {
  it("recognises instances", () => {
    expect(isMercatoError(new MercatoError("INTERNAL_ERROR", "x"))).toBe(true);
    expect(isMercatoError(MercatoError.fromResponse(500, null))).toBe(true);
  });

  it("recognises a MercatoError from another bundled copy by its name", () => {
    class OtherCopyMercatoError extends Error {
      override readonly name = "MercatoError";
    }
    expect(isMercatoError(new OtherCopyMercatoError("x"))).toBe(true);
  });

  it("refuses other errors and look-alike objects", () => {
    expect(isMercatoError(new Error("x"))).toBe(false);
    expect(isMercatoError(new TypeError("x"))).toBe(false);
    expect(isMercatoError({ name: "MercatoError", code: "INTERNAL_ERROR", message: "x", status: 500 })).toBe(
      false,
    );
    expect(isMercatoError(new MercatoError("INTERNAL_ERROR", "x").toEnvelope())).toBe(false);
    expect(isMercatoError("MercatoError")).toBe(false);
    expect(isMercatoError(null)).toBe(false);
    expect(isMercatoError(undefined)).toBe(false);
  });
});
