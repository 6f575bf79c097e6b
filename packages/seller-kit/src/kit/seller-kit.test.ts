import { ErrorEnvelopeSchema, MercatoError, SellerCallResponse } from "@mercato/protocol";
import { afterEach, beforeAll, describe, expect, expectTypeOf, it, vi } from "vitest";
import * as z from "zod";
import type { SellerCallContext, SellerKitOptions, SellerKitResponse } from "../core/index.js";
import {
  brokerKey,
  CALL_HEADERS,
  callBody,
  NOW,
  signedHeaders,
  TEST_OWNER,
  type TestBrokerKey,
} from "../testing/index.js";
import { type SellerKit, sellerKit } from "./seller-kit.js";

let key: TestBrokerKey;
let otherKey: TestBrokerKey;
beforeAll(async () => {
  key = await brokerKey("k1");
  // Another key pair published under the same kid: signatures by it must not verify.
  otherKey = { ...(await brokerKey("k1")), jwks: { keys: [] } };
});

afterEach(() => {
  vi.restoreAllMocks();
});

const encoder = new TextEncoder();

/** A kit verifying with the test key on the fixed clock. */
function kitWith<Options extends Partial<SellerKitOptions>>(options: Options = {} as Options): SellerKit {
  return sellerKit({
    owner: TEST_OWNER,
    jwks: key.jwks,
    now: () => NOW,
    handler: () => ({ price: 64_000 }),
    ...options,
  } as SellerKitOptions);
}

interface Answer extends SellerKitResponse {
  json: unknown;
}

async function post(
  kit: SellerKit,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
  target = "/agent",
  signal?: AbortSignal,
): Promise<Answer> {
  const answer = await kit.handle({
    method: "POST",
    target,
    headers: (name) => headers[name],
    body: typeof body === "string" ? encoder.encode(body) : body,
    signal,
  });
  return { ...answer, json: JSON.parse(answer.body) };
}

/** POSTs a call signed with `signer` (default: the broker's key). */
async function signedPost(
  kit: SellerKit,
  callId: string,
  options: {
    body?: string;
    input?: unknown;
    timeoutMs?: number;
    signer?: TestBrokerKey;
    timestamp?: number;
  } = {},
): Promise<Answer> {
  const body = options.body ?? callBody(callId, options.input ?? { symbol: "BTC" }, options.timeoutMs);
  const headers = await signedHeaders({
    key: options.signer ?? key,
    callId,
    body,
    ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
  });
  return post(kit, body, headers);
}

function expectError(answer: Answer, status: number, code: string) {
  expect(answer.status).toBe(status);
  expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
  const { error } = ErrorEnvelopeSchema.parse(answer.json);
  expect(error.code).toBe(code);
  expect(error.request_id).toBe(answer.headers["x-request-id"]);
  expect(error.request_id).toMatch(/^req_[0-9a-f]{32}$/);
  return error;
}

describe("sellerKit: verified calls", () => {
  it("serves a call signed by the broker, with the signed facts in the context", async () => {
    const seen: [unknown, SellerCallContext][] = [];
    const kit = kitWith({
      handler: (input: unknown, context: SellerCallContext) => {
        seen.push([input, context]);
        return { price: 64_000 };
      },
    });
    const answer = await signedPost(kit, "txn_1");
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(answer.headers["x-request-id"]).toMatch(/^req_[0-9a-f]{32}$/);
    expect(SellerCallResponse.parse(answer.json)).toEqual({ output: { price: 64_000 } });
    expect(seen).toHaveLength(1);
    const [[input, context]] = seen as [[unknown, SellerCallContext]];
    expect(input).toEqual({ symbol: "BTC" });
    expect(context).toMatchObject({
      callId: "txn_1",
      timeoutMs: 5000,
      verified: { kid: "k1", timestamp: NOW / 1000 },
      requestId: answer.headers["x-request-id"],
    });
    expect(context.signal.aborted).toBe(false);
  });

  it.each<
    [string, (body: string) => Promise<{ headers: Record<string, string>; body: string; target?: string }>]
  >([
    [
      "a forged signature",
      async (body) => {
        const headers = await signedHeaders({ key, callId: "c1", body });
        const signature = headers[CALL_HEADERS.signature] as string;
        const flipped = (signature[0] === "A" ? "B" : "A") + signature.slice(1);
        return { headers: { ...headers, [CALL_HEADERS.signature]: flipped }, body };
      },
    ],
    [
      "a signature by another key",
      async (body) => ({ headers: await signedHeaders({ key: otherKey, callId: "c1", body }), body }),
    ],
    [
      "a tampered body",
      async (body) => ({
        headers: await signedHeaders({ key, callId: "c1", body }),
        body: body.replace("BTC", "ETH"),
      }),
    ],
    [
      "another path than the one signed",
      async (body) => ({ headers: await signedHeaders({ key, callId: "c1", body, path: "/other" }), body }),
    ],
    [
      "a signature over another method",
      async (body) => ({ headers: await signedHeaders({ key, callId: "c1", body, method: "PUT" }), body }),
    ],
  ])("answers 401 bad_signature to %s, without calling the handler", async (_label, make) => {
    const handler = vi.fn();
    const kit = kitWith({ handler });
    const { headers, body } = await make(callBody("c1"));
    const error = expectError(await post(kit, body, headers), 401, "UNAUTHENTICATED");
    expect(error.details?.reason).toBe("bad_signature");
    expect(handler).not.toHaveBeenCalled();
    expect(kit.stats()).toMatchObject({ calls: 0, rejected: 1 });
  });

  it.each<[string, number]>([
    ["older than the window", NOW / 1000 - 301],
    ["ahead of the window", NOW / 1000 + 301],
  ])("answers 401 stale to a timestamp %s", async (_label, timestamp) => {
    const handler = vi.fn();
    const error = expectError(
      await signedPost(kitWith({ handler }), "c1", { timestamp }),
      401,
      "UNAUTHENTICATED",
    );
    expect(error.details?.reason).toBe("stale");
    expect(handler).not.toHaveBeenCalled();
  });

  it("honours replayWindowSeconds", async () => {
    const kit = kitWith({ replayWindowSeconds: 10 });
    expect((await signedPost(kit, "c1", { timestamp: NOW / 1000 - 10 })).status).toBe(200);
    const error = expectError(
      await signedPost(kit, "c2", { timestamp: NOW / 1000 - 11 }),
      401,
      "UNAUTHENTICATED",
    );
    expect(error.details?.reason).toBe("stale");
  });

  it("answers 401 unknown_key to a kid the broker does not publish", async () => {
    const handler = vi.fn();
    const stranger = await brokerKey("k9");
    const error = expectError(
      await signedPost(kitWith({ handler }), "c1", { signer: stranger }),
      401,
      "UNAUTHENTICATED",
    );
    expect(error.details?.reason).toBe("unknown_key");
    expect(handler).not.toHaveBeenCalled();
  });

  it.each(Object.values(CALL_HEADERS))("answers 401 missing when %s is absent", async (header) => {
    const handler = vi.fn();
    const body = callBody("c1");
    const headers = await signedHeaders({ key, callId: "c1", body });
    delete headers[header];
    const error = expectError(await post(kitWith({ handler }), body, headers), 401, "UNAUTHENTICATED");
    expect(error.details?.reason).toBe("missing");
    expect(handler).not.toHaveBeenCalled();
  });

  it("answers 401 malformed to a malformed timestamp", async () => {
    const body = callBody("c1");
    const headers = {
      ...(await signedHeaders({ key, callId: "c1", body })),
      [CALL_HEADERS.timestamp]: "soon",
    };
    const error = expectError(await post(kitWith(), body, headers), 401, "UNAUTHENTICATED");
    expect(error.details?.reason).toBe("malformed");
  });

  it("answers 401 replayed to a call id it has served, and does not call the handler twice", async () => {
    const handler = vi.fn(() => "ok");
    const kit = kitWith({ handler });
    const body = callBody("txn_once");
    const headers = await signedHeaders({ key, callId: "txn_once", body });
    expect((await post(kit, body, headers)).status).toBe(200);
    const error = expectError(await post(kit, body, headers), 401, "UNAUTHENTICATED");
    expect(error.details?.reason).toBe("replayed");
    expect(handler).toHaveBeenCalledTimes(1);
    expect(kit.stats()).toMatchObject({ calls: 1, successes: 1, rejected: 1 });
  });

  it("serves only one of two identical calls sent at once", async () => {
    const handler = vi.fn(() => "ok");
    const kit = kitWith({ handler });
    const body = callBody("txn_race");
    const headers = await signedHeaders({ key, callId: "txn_race", body });
    const answers = await Promise.all([post(kit, body, headers), post(kit, body, headers)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 401]);
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it("does not remember a call id whose signature failed", async () => {
    const kit = kitWith();
    const body = callBody("txn_2");
    const forged = await signedHeaders({ key: otherKey, callId: "txn_2", body });
    expect((await post(kit, body, forged)).status).toBe(401);
    expect((await post(kit, body, await signedHeaders({ key, callId: "txn_2", body }))).status).toBe(200);
  });

  it("answers 401 when the body's call_id is not the signed one", async () => {
    const handler = vi.fn();
    const body = callBody("txn_body");
    const headers = await signedHeaders({ key, callId: "txn_header", body });
    const error = expectError(await post(kitWith({ handler }), body, headers), 401, "UNAUTHENTICATED");
    expect(error.details?.reason).toBe("bad_signature");
    expect(error.message).toMatch(/call_id/);
    expect(handler).not.toHaveBeenCalled();
  });

  it("answers 413 to a body over maxBodyBytes before checking it", async () => {
    const handler = vi.fn();
    const kit = kitWith({ handler, maxBodyBytes: 64 });
    const error = expectError(
      await post(kit, callBody("c1", { pad: "x".repeat(100) })),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    expect(error.details).toEqual({ max_bytes: 64 });
    expect(handler).not.toHaveBeenCalled();
  });
});

describe("sellerKit: the call's body", () => {
  it.each<[string, string]>([
    ["an empty body", ""],
    ["text", "hello"],
    ["truncated JSON", '{"input": 1,'],
  ])("answers 400 INVALID_JSON to %s (signed), without calling the handler", async (_label, body) => {
    const handler = vi.fn();
    const headers = await signedHeaders({ key, callId: "c1", body });
    expectError(await post(kitWith({ handler }), body, headers), 400, "INVALID_JSON");
    expect(handler).not.toHaveBeenCalled();
  });

  it("answers 400 INVALID_JSON to bytes that are not UTF-8", async () => {
    const body = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]);
    const headers = await signedHeaders({ key, callId: "c1", body });
    expectError(await post(kitWith(), body, headers), 400, "INVALID_JSON");
  });

  it.each<[string, unknown, string]>([
    ["no input", { call_id: "c1", timeout_ms: 1000 }, "input"],
    ["a zero timeout_ms", { input: 1, call_id: "c1", timeout_ms: 0 }, "timeout_ms"],
    ["an array", [1, 2], ""],
  ])("answers 400 VALIDATION_ERROR to %s, naming the field", async (_label, value, field) => {
    const handler = vi.fn();
    const body = JSON.stringify(value);
    const headers = await signedHeaders({ key, callId: "c1", body });
    const error = expectError(await post(kitWith({ handler }), body, headers), 400, "VALIDATION_ERROR");
    expect(error.message).toMatch(/^Invalid call: /);
    expect(error.details?.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: field })]));
    expect(handler).not.toHaveBeenCalled();
  });

  it("checks the input with a Standard Schema and types the handler's input from it", async () => {
    const seen: string[] = [];
    const kit = sellerKit({
      owner: TEST_OWNER,
      jwks: key.jwks,
      now: () => NOW,
      input: z.object({ symbol: z.string().toUpperCase() }),
      handler: (input) => {
        expectTypeOf(input).toEqualTypeOf<{ symbol: string }>();
        seen.push(input.symbol);
        return input.symbol;
      },
    });
    expect((await signedPost(kit, "c1", { input: { symbol: "btc" } })).json).toEqual({ output: "BTC" });
    const error = expectError(
      await signedPost(kit, "c2", { input: { symbol: 42 } }),
      400,
      "VALIDATION_ERROR",
    );
    expect(error.message).toMatch(/^Invalid input: symbol: /);
    expect(error.details?.issues).toEqual([{ path: "symbol", message: expect.any(String) }]);
    expect(seen).toEqual(["BTC"]);
    expect(kit.stats()).toMatchObject({ calls: 2, successes: 1, failures: 1, rejected: 0 });
  });

  it("accepts an async Standard Schema of any vendor", async () => {
    const even = {
      "~standard": {
        version: 1 as const,
        vendor: "test",
        validate: async (value: unknown) =>
          typeof value === "number" && value % 2 === 0
            ? { value }
            : { issues: [{ message: "must be even", path: [{ key: "n" }] }] },
        types: undefined as unknown as { input: number; output: number },
      },
    };
    const kit = sellerKit({
      owner: TEST_OWNER,
      jwks: key.jwks,
      now: () => NOW,
      input: even,
      handler: (n) => n / 2,
    });
    expect((await signedPost(kit, "c1", { input: 4 })).json).toEqual({ output: 2 });
    const error = expectError(await signedPost(kit, "c2", { input: 3 }), 400, "VALIDATION_ERROR");
    expect(error.details?.issues).toEqual([{ path: "n", message: "must be even" }]);
  });

  it("answers 500 and reports when the input schema itself throws", async () => {
    const onError = vi.fn();
    const broken = {
      "~standard": {
        version: 1 as const,
        vendor: "test",
        validate: (): never => {
          throw new Error("schema bug");
        },
      },
    };
    const kit = sellerKit({
      owner: TEST_OWNER,
      jwks: key.jwks,
      now: () => NOW,
      input: broken,
      handler: () => 1,
      onError,
    });
    expectError(await signedPost(kit, "c1"), 500, "INTERNAL_ERROR");
    expect(onError).toHaveBeenCalledWith(expect.any(Error), expect.objectContaining({ stage: "handler" }));
    expect(kit.stats()).toMatchObject({ calls: 1, failures: 1 });
  });

  it("gives an untyped handler the input as unknown", () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    sellerKit({
      owner: TEST_OWNER,
      verify: false,
      handler: (input) => {
        expectTypeOf(input).toBeUnknown();
      },
    });
  });

  it("sends a handler's undefined as null and keeps falsy outputs", async () => {
    for (const [index, output] of [undefined, null, 0, "", false, []].entries()) {
      const answer = await signedPost(kitWith({ handler: () => output }), `c${index}`);
      expect(answer.body).toBe(JSON.stringify({ output: output ?? null }));
    }
  });
});

describe("sellerKit: failures of the handler", () => {
  it("answers 500 INTERNAL_ERROR without leaking the message or stack, and reports the error", async () => {
    const thrown = new Error("password=hunter2 at db.internal:5432");
    const onError = vi.fn();
    const kit = kitWith({
      handler: async () => {
        throw thrown;
      },
      onError,
    });
    const answer = await signedPost(kit, "call_boom", { timeoutMs: 1000 });
    const error = expectError(answer, 500, "INTERNAL_ERROR");
    expect(error.message).toBe("The seller's handler failed");
    expect(error.details).toBeUndefined();
    expect(answer.body).not.toContain("hunter2");
    expect(answer.body).not.toContain("at ");
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]?.[0]).toBe(thrown);
    expect(onError.mock.calls[0]?.[1]).toEqual({
      stage: "handler",
      callId: "call_boom",
      timeoutMs: 1000,
      requestId: answer.headers["x-request-id"],
    });
    expect(kit.stats()).toMatchObject({ calls: 1, failures: 1 });
  });

  it("reports with console.error by default", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const kit = kitWith({
      handler: () => {
        throw new Error("sync failure");
      },
    });
    expectError(await signedPost(kit, "c9"), 500, "INTERNAL_ERROR");
    expect(spy).toHaveBeenCalledWith(expect.stringContaining("handler failed on call c9"), expect.any(Error));
  });

  it("still answers 500 when onError throws or rejects", async () => {
    for (const onError of [
      () => {
        throw new Error("reporter down");
      },
      () => Promise.reject(new Error("async reporter down")),
    ]) {
      const kit = kitWith({ handler: () => Promise.reject("not even an Error"), onError });
      expectError(await signedPost(kit, "c1"), 500, "INTERNAL_ERROR");
    }
  });

  it("passes a MercatoError with a 4xx status through to the caller, without reporting it", async () => {
    const onError = vi.fn();
    const kit = kitWith({
      handler: () => {
        throw new MercatoError("NOT_FOUND", "No such symbol: XYZ", { details: { symbol: "XYZ" } });
      },
      onError,
    });
    const error = expectError(await signedPost(kit, "c1"), 404, "NOT_FOUND");
    expect(error.message).toBe("No such symbol: XYZ");
    expect(error.details).toEqual({ symbol: "XYZ" });
    expect(onError).not.toHaveBeenCalled();
    expect(kit.stats()).toMatchObject({ calls: 1, failures: 1 });
  });

  it("hides a MercatoError with a 5xx status like any other error", async () => {
    const onError = vi.fn();
    const kit = kitWith({
      handler: () => {
        throw new MercatoError("SERVICE_UNAVAILABLE", "db at 10.0.0.5 is down");
      },
      onError,
    });
    const answer = await signedPost(kit, "c1");
    expect(expectError(answer, 500, "INTERNAL_ERROR").message).toBe("The seller's handler failed");
    expect(answer.body).not.toContain("10.0.0.5");
    expect(onError).toHaveBeenCalledTimes(1);
  });

  it.each<[string, () => unknown, typeof Error]>([
    ["a bigint", () => ({ big: 10n }), TypeError],
    ["a function", () => () => 1, TypeError],
    [
      "a cycle",
      () => {
        const cycle: Record<string, unknown> = {};
        cycle.self = cycle;
        return cycle;
      },
      TypeError,
    ],
    ["65 levels of nesting", () => JSON.parse(`${"[".repeat(65)}${"]".repeat(65)}`), RangeError],
  ])("treats an output with %s as a failure of the handler", async (_label, handler, type) => {
    const onError = vi.fn();
    const kit = kitWith({ handler, onError });
    expectError(await signedPost(kit, "c1"), 500, "INTERNAL_ERROR");
    expect(onError.mock.calls[0]?.[0]).toBeInstanceOf(type);
    expect(kit.stats()).toMatchObject({ calls: 1, successes: 0, failures: 1 });
  });

  it("aborts the handler's signal with a TimeoutError when timeout_ms has passed", async () => {
    let reason: unknown;
    const kit = kitWith({
      handler: (_input: unknown, { signal }: SellerCallContext) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener("abort", () => {
            reason = signal.reason;
            reject(signal.reason);
          });
        }),
      onError: () => undefined,
    });
    const started = performance.now();
    expectError(await signedPost(kit, "c1", { timeoutMs: 30 }), 500, "INTERNAL_ERROR");
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect((reason as Error).name).toBe("TimeoutError");
  });

  it("does not abort at once for a timeout_ms too large for a timer", async () => {
    const kit = kitWith({
      handler: async (_input: unknown, { signal }: SellerCallContext) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        return signal.aborted;
      },
    });
    expect((await signedPost(kit, "c1", { timeoutMs: 2 ** 40 })).json).toEqual({ output: false });
  });

  it("aborts the handler's signal when the caller goes away", async () => {
    const gone = new AbortController();
    let reason: unknown;
    const kit = kitWith({
      handler: (_input: unknown, { signal }: SellerCallContext) =>
        new Promise((resolve) => {
          signal.addEventListener("abort", () => {
            reason = signal.reason;
            resolve("stopped");
          });
          gone.abort();
        }),
    });
    const body = callBody("c1");
    const answer = await post(
      kit,
      body,
      await signedHeaders({ key, callId: "c1", body }),
      "/agent",
      gone.signal,
    );
    expect((reason as Error).name).toBe("AbortError");
    expect(answer.json).toEqual({ output: "stopped" });
  });
});

describe("sellerKit: health, metrics and other methods", () => {
  const get = async (kit: SellerKit, target: string, method = "GET") => {
    const answer = await kit.handle({ method, target, headers: () => undefined, body: new Uint8Array() });
    return {
      ...answer,
      json: answer.headers["content-type"]?.startsWith("application/json")
        ? JSON.parse(answer.body)
        : undefined,
    };
  };

  it.each(["/health", "/agent/health", "/agent/health/", "/agent/health?probe=1"])(
    "answers GET %s with 200 {status: ok}, unsigned, without calling the handler",
    async (target) => {
      const handler = vi.fn();
      const answer = await get(kitWith({ handler }), target);
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('{"status":"ok"}');
      expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
      expect(answer.headers["x-request-id"]).toMatch(/^req_/);
      expect(handler).not.toHaveBeenCalled();
    },
  );

  it("answers 503 {status: unhealthy} when health() says false or throws", async () => {
    expect(await get(kitWith({ health: async () => true }), "/agent/health")).toMatchObject({ status: 200 });
    expect(await get(kitWith({ health: () => false }), "/agent/health")).toMatchObject({
      status: 503,
      json: { status: "unhealthy" },
    });
    const onError = vi.fn();
    const failing = kitWith({
      health: () => {
        throw new Error("db down");
      },
      onError,
    });
    expect(await get(failing, "/agent/health")).toMatchObject({ status: 503, json: { status: "unhealthy" } });
    expect(onError).toHaveBeenCalledWith(expect.any(Error), expect.objectContaining({ stage: "health" }));
  });

  it.each<[string, string]>([
    ["GET", "/agent"],
    ["GET", "/agent/healthz"],
    ["GET", "/agent/metrics"],
    ["PUT", "/agent"],
    ["DELETE", "/agent/health"],
  ])("answers %s %s with 405 METHOD_NOT_ALLOWED and Allow: POST", async (method, target) => {
    const answer = await get(kitWith(), target, method);
    expectError(answer, 405, "METHOD_NOT_ALLOWED");
    expect(answer.headers.allow).toBe("POST");
  });

  it("serves Prometheus metrics on …/metrics when asked, with the call counts and durations", async () => {
    let clock = NOW;
    const kit = kitWith({
      metrics: true,
      now: () => clock,
      handler: (input: unknown) => {
        clock += 20;
        if (input === "fail") throw new Error("no");
        return input;
      },
      onError: () => undefined,
    });
    await signedPost(kit, "c1", { input: "a" });
    await signedPost(kit, "c2", { input: "b" });
    await signedPost(kit, "c3", { input: "fail" });
    await signedPost(kit, "c1", { input: "a" }); // replayed
    const answer = await get(kit, "/agent/metrics");
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(answer.body).toBe(kit.prometheus());
    const lines = answer.body.split("\n");
    expect(lines).toEqual(
      expect.arrayContaining([
        "# TYPE mercato_seller_calls_total counter",
        'mercato_seller_calls_total{outcome="success"} 2',
        'mercato_seller_calls_total{outcome="failure"} 1',
        'mercato_seller_calls_total{outcome="rejected"} 1',
        "# TYPE mercato_seller_call_duration_seconds histogram",
        'mercato_seller_call_duration_seconds_bucket{le="0.01"} 0',
        'mercato_seller_call_duration_seconds_bucket{le="0.025"} 3',
        'mercato_seller_call_duration_seconds_bucket{le="+Inf"} 3',
        "mercato_seller_call_duration_seconds_count 3",
      ]),
    );
    const sum = lines.find((line) => line.startsWith("mercato_seller_call_duration_seconds_sum "));
    expect(Number(sum?.split(" ")[1])).toBeCloseTo(0.06, 9);
  });

  it("serves metrics on a chosen path only", async () => {
    const kit = kitWith({ metrics: { path: "/internal/metrics" } });
    expect((await get(kit, "/internal/metrics")).status).toBe(200);
    expect((await get(kit, "/agent/internal/metrics")).status).toBe(200);
    expect((await get(kit, "/metrics")).status).toBe(405);
  });

  it("reports stats: counts, exact mean and max, quantiles within the histogram's 4.4%", async () => {
    let clock = NOW;
    const kit = kitWith({
      now: () => clock,
      handler: (input: unknown) => {
        clock += input as number;
        return null;
      },
    });
    for (let ms = 1; ms <= 100; ms++) await signedPost(kit, `c${ms}`, { input: ms });
    await post(kit, callBody("unsigned")); // rejected: not signed
    const stats = kit.stats();
    expect(stats).toMatchObject({ calls: 100, successes: 100, failures: 0, rejected: 1 });
    expect(stats.since).toBe(new Date(NOW).toISOString());
    expect(stats.latency.count).toBe(100);
    expect(stats.latency.mean_ms).toBe(50.5);
    expect(stats.latency.max_ms).toBe(100);
    for (const [measured, truth] of [
      [stats.latency.p50_ms, 50],
      [stats.latency.p95_ms, 95],
      [stats.latency.p99_ms, 99],
    ] as const) {
      expect(Math.abs(measured - truth) / truth).toBeLessThanOrEqual(0.045);
    }
  });
});

describe("sellerKit: verify: false, and options", () => {
  it("accepts unsigned calls with verify: false, after a loud warning at creation", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const kit = sellerKit({
      owner: TEST_OWNER,
      verify: false,
      handler: (input, { verified }) => ({ input, verified: verified ?? "none" }),
    });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toMatch(/verify is false.*NOT checked/s);
    const answer = await post(kit, callBody("dev_1", 7));
    expect(answer.json).toEqual({ output: { input: 7, verified: "none" } });
    // No replay memory without verified timestamps.
    expect((await post(kit, callBody("dev_1", 7))).status).toBe(200);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it.each<[string, Partial<SellerKitOptions>, RegExp]>([
    ["no broker nor jwks", {}, /broker.*jwks.*verify: false/],
    ["a broker that is not a URL", { broker: "broker.example" }, /http\(s\) URL/],
    ["a zero window", { jwks: { keys: [] }, replayWindowSeconds: 0 }, /replayWindowSeconds/],
    ["a fractional body limit", { jwks: { keys: [] }, maxBodyBytes: 1.5 }, /maxBodyBytes/],
    ["a metrics path that is no path", { jwks: { keys: [] }, metrics: { path: "metrics" } }, /metrics.path/],
  ])("throws VALIDATION_ERROR for %s", (_label, options, message) => {
    const attempt = () => sellerKit({ handler: () => 1, owner: TEST_OWNER, ...options } as SellerKitOptions);
    expect(attempt).toThrow(MercatoError);
    expect(attempt).toThrow(message);
  });
});

describe("sellerKit: a port fetch() refuses", () => {
  const get = (kit: SellerKit, host: string) =>
    kit.handle({
      method: "GET",
      target: "/agent/health",
      headers: (name) => (name === "host" ? host : undefined),
      body: new Uint8Array(),
    });

  it("warns once per port, naming it and why, when it is reached on one of the Fetch standard's bad ports", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const kit = kitWith();
    expect((await get(kit, "127.0.0.1:5060")).status).toBe(200);
    expect((await get(kit, "127.0.0.1:5060")).status).toBe(200);
    expect(warn).toHaveBeenCalledTimes(1);
    const message = String(warn.mock.calls[0]?.[0]);
    expect(message).toContain("port 5060");
    expect(message).toMatch(/fetch\(\) refuses/);
    expect(message).toMatch(/direct mode/);
    await get(kit, "[::1]:6667");
    expect(warn).toHaveBeenCalledTimes(2);
    expect(String(warn.mock.calls[1]?.[0])).toContain("port 6667");
  });

  it("says nothing for an allowed port or none", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const kit = kitWith();
    for (const host of ["127.0.0.1:5070", "seller.example", "[::1]:8080", "127.0.0.1:4020"])
      await get(kit, host);
    expect(warn).not.toHaveBeenCalled();
  });
});
