import { ErrorEnvelopeSchema, SellerCallResponse } from "@mercato/protocol";
import { describe, expect, it, vi } from "vitest";
import { createSellerHandler, type SellerCallContext } from "./create-seller-handler.js";

const ENDPOINT = "http://seller.test/agents/prices";

function call(body: unknown, init: RequestInit = {}, url = ENDPOINT): Request {
  return new Request(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

/** The response's JSON body, checked to be an error envelope with `code` and `status`. */
async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
  const body = ErrorEnvelopeSchema.parse(await response.json());
  expect(body.error.code).toBe(code);
  expect(body.error.request_id).toBe(response.headers.get("x-request-id"));
  expect(body.error.request_id).toMatch(/^req_[0-9a-f]{32}$/);
  return body.error;
}

describe("createSellerHandler: calls", () => {
  it("calls the handler with the input and the call's context, and answers {output}", async () => {
    const seen: [unknown, SellerCallContext][] = [];
    const handle = createSellerHandler({
      handler: async (input, context) => {
        seen.push([input, context]);
        return { price: 64_000, symbol: (input as { symbol: string }).symbol };
      },
    });
    const response = await handle(call({ input: { symbol: "BTC" }, call_id: "call_1", timeout_ms: 5000 }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(SellerCallResponse.parse(await response.json())).toEqual({
      output: { price: 64_000, symbol: "BTC" },
    });
    expect(seen).toHaveLength(1);
    const [[input, context]] = seen as [[unknown, SellerCallContext]];
    expect(input).toEqual({ symbol: "BTC" });
    expect(context.callId).toBe("call_1");
    expect(context.timeoutMs).toBe(5000);
    expect(context.signal).toBeInstanceOf(AbortSignal);
    expect(context.signal.aborted).toBe(false);
  });

  it("serves POST on any path, and sends a handler's undefined as null", async () => {
    const handle = createSellerHandler({ handler: () => undefined });
    for (const url of [
      "http://seller.test/",
      "http://seller.test/a/b/c?x=1",
      "http://seller.test/x/health",
    ]) {
      const response = await handle(call({ input: null, call_id: "c", timeout_ms: 1 }, {}, url));
      expect(response.status).toBe(200);
      expect(await response.json()).toStrictEqual({ output: null });
    }
  });

  it("keeps falsy outputs as they are", async () => {
    for (const output of [0, "", false, []]) {
      const handle = createSellerHandler({ handler: () => output });
      const response = await handle(call({ input: 1, call_id: "c", timeout_ms: 1000 }));
      expect(await response.json()).toStrictEqual({ output });
    }
  });

  it.each<[string, string]>([
    ["an empty body", ""],
    ["text", "hello"],
    ["truncated JSON", '{"input": 1,'],
  ])("answers 400 INVALID_JSON to %s, without calling the handler", async (_label, body) => {
    const handler = vi.fn();
    const response = await createSellerHandler({ handler })(call(body));
    await expectError(response, 400, "INVALID_JSON");
    expect(handler).not.toHaveBeenCalled();
  });

  it.each<[string, unknown, string]>([
    ["no call_id", { input: 1, timeout_ms: 1000 }, "call_id"],
    ["no input", { call_id: "c", timeout_ms: 1000 }, "input"],
    ["a zero timeout_ms", { input: 1, call_id: "c", timeout_ms: 0 }, "timeout_ms"],
    ["a string timeout_ms", { input: 1, call_id: "c", timeout_ms: "1000" }, "timeout_ms"],
    ["an array", [1, 2], ""],
    ["null", null, ""],
  ])("answers 400 VALIDATION_ERROR to %s, naming the field", async (_label, body, field) => {
    const handler = vi.fn();
    const response = await createSellerHandler({ handler })(call(body));
    const error = await expectError(response, 400, "VALIDATION_ERROR");
    expect(error.message).toMatch(/^Invalid call: /);
    expect(error.details?.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: field })]));
    expect(handler).not.toHaveBeenCalled();
  });
});

describe("createSellerHandler: failures of the handler", () => {
  it("answers 500 INTERNAL_ERROR without leaking the message or stack, and reports the error", async () => {
    const thrown = new Error("password=hunter2 at db.internal:5432");
    const onError = vi.fn();
    const handle = createSellerHandler({
      handler: async () => {
        throw thrown;
      },
      onError,
    });
    const response = await handle(call({ input: 1, call_id: "call_boom", timeout_ms: 1000 }));
    const text = await response.clone().text();
    const error = await expectError(response, 500, "INTERNAL_ERROR");
    expect(error.message).toBe("The seller's handler failed");
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("at ");
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]?.[0]).toBe(thrown);
    expect(onError.mock.calls[0]?.[1]).toMatchObject({ callId: "call_boom", timeoutMs: 1000 });
  });

  it("reports with console.error by default", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const handle = createSellerHandler({
        handler: () => {
          throw new Error("sync failure");
        },
      });
      await expectError(
        await handle(call({ input: 1, call_id: "c9", timeout_ms: 1000 })),
        500,
        "INTERNAL_ERROR",
      );
      expect(spy).toHaveBeenCalledWith("mercato seller handler failed on call c9", expect.any(Error));
    } finally {
      spy.mockRestore();
    }
  });

  it("still answers 500 when onError itself throws", async () => {
    const handle = createSellerHandler({
      handler: () => Promise.reject("not even an Error"),
      onError: () => {
        throw new Error("reporter down");
      },
    });
    await expectError(
      await handle(call({ input: 1, call_id: "c", timeout_ms: 1000 })),
      500,
      "INTERNAL_ERROR",
    );
  });

  it("treats an output JSON cannot carry as a failure of the handler", async () => {
    const onError = vi.fn();
    const handle = createSellerHandler({ handler: () => ({ big: 10n }), onError });
    await expectError(
      await handle(call({ input: 1, call_id: "c", timeout_ms: 1000 })),
      500,
      "INTERNAL_ERROR",
    );
    expect(onError.mock.calls[0]?.[0]).toBeInstanceOf(TypeError);
  });

  it("aborts the handler's signal when timeout_ms has passed", async () => {
    let reason: unknown;
    const handle = createSellerHandler({
      handler: (_input, { signal }) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener("abort", () => {
            reason = signal.reason;
            reject(signal.reason);
          });
        }),
      onError: () => undefined,
    });
    const response = await handle(call({ input: 1, call_id: "c", timeout_ms: 20 }));
    await expectError(response, 500, "INTERNAL_ERROR");
    expect((reason as Error).name).toBe("TimeoutError");
  });

  it("does not abort at once for a timeout_ms too large for a timer", async () => {
    const handle = createSellerHandler({
      handler: async (_input, { signal }) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        return signal.aborted;
      },
    });
    const response = await handle(call({ input: 1, call_id: "c", timeout_ms: 2 ** 40 }));
    expect(await response.json()).toEqual({ output: false });
  });

  it("aborts the handler's signal when the caller goes away", async () => {
    const controller = new AbortController();
    let aborted = false;
    const handle = createSellerHandler({
      handler: (_input, { signal }) =>
        new Promise((resolve) => {
          signal.addEventListener("abort", () => {
            aborted = true;
            resolve("stopped");
          });
          controller.abort();
        }),
    });
    const response = await handle(
      call({ input: 1, call_id: "c", timeout_ms: 60_000 }, { signal: controller.signal }),
    );
    expect(aborted).toBe(true);
    expect(await response.json()).toEqual({ output: "stopped" });
  });
});

describe("createSellerHandler: health and other methods", () => {
  it.each([
    "http://seller.test/health",
    "http://seller.test/agents/prices/health",
    "http://seller.test/agents/prices/health/",
  ])("answers GET %s with {status: ok} without calling the handler", async (url) => {
    const handler = vi.fn();
    const response = await createSellerHandler({ handler })(new Request(url));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
    expect(handler).not.toHaveBeenCalled();
  });

  it.each<[string, string]>([
    ["GET", ENDPOINT],
    ["GET", "http://seller.test/healthz"],
    ["PUT", ENDPOINT],
    ["DELETE", "http://seller.test/health"],
  ])("answers %s %s with 405 METHOD_NOT_ALLOWED", async (method, url) => {
    const response = await createSellerHandler({ handler: vi.fn() })(new Request(url, { method }));
    await expectError(response, 405, "METHOD_NOT_ALLOWED");
    expect(response.headers.get("allow")).toBe("POST");
  });
});
