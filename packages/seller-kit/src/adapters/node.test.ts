import { createServer, request as httpRequest } from "node:http";
import { ErrorEnvelopeSchema } from "@mercato/protocol";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SellerCallContext } from "../core/index.js";
import { sellerKit } from "../kit/index.js";
import {
  brokerKey,
  callBody,
  listen,
  liveHeaders,
  postSigned,
  TEST_OWNER,
  type TestBrokerKey,
} from "../testing/index.js";

let key: TestBrokerKey;
let server: Awaited<ReturnType<typeof listen>>;
const handler = vi.fn(
  async (input: unknown, _context: SellerCallContext): Promise<unknown> => ({ echo: input }),
);

beforeAll(async () => {
  key = await brokerKey("k1");
  const kit = sellerKit({ owner: TEST_OWNER, jwks: key.jwks, handler, maxBodyBytes: 4096, metrics: true });
  server = await listen(createServer(kit.node));
});
afterAll(() => server.close());

describe("kit.node over a loopback server", () => {
  it("serves a signed call, verified against the request target with its query", async () => {
    const response = await postSigned(server.url, { key, callId: "n1", path: "/agent/abc?v=2", input: 5 });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(response.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    expect(await response.json()).toEqual({ output: { echo: 5 } });
    expect(handler.mock.calls.at(-1)?.[1]).toMatchObject({ callId: "n1", verified: { kid: "k1" } });
  });

  it("verifies the exact body bytes whatever the content type", async () => {
    for (const contentType of ["text/plain", null]) {
      const response = await postSigned(server.url, { key, callId: `ct-${contentType}`, contentType });
      expect(response.status).toBe(200);
    }
  });

  it("answers 401 to a call signed for another path, without calling the handler", async () => {
    handler.mockClear();
    const body = callBody("n2");
    const headers = await liveHeaders({ key, callId: "n2", body, path: "/agent" });
    const response = await fetch(`${server.url}/agent/other`, { method: "POST", headers, body });
    expect(response.status).toBe(401);
    const { error } = ErrorEnvelopeSchema.parse(await response.json());
    expect(error.details?.reason).toBe("bad_signature");
    expect(handler).not.toHaveBeenCalled();
  });

  it("answers 401 replayed to the same signed request sent twice", async () => {
    const body = callBody("n3");
    const headers = await liveHeaders({ key, callId: "n3", body });
    const send = () => fetch(`${server.url}/agent`, { method: "POST", headers, body });
    expect((await send()).status).toBe(200);
    const replay = await send();
    expect(replay.status).toBe(401);
    expect(ErrorEnvelopeSchema.parse(await replay.json()).error.details?.reason).toBe("replayed");
  });

  it("serves health and metrics", async () => {
    const health = await fetch(`${server.url}/agent/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const metrics = await fetch(`${server.url}/agent/metrics`);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0.0.4/);
    expect(await metrics.text()).toMatch(/^mercato_seller_calls_total\{outcome="success"\} \d+$/m);
  });

  it("answers 413 to an announced body over maxBodyBytes, and closes the connection", async () => {
    const big = "x".repeat(5000);
    const response = await fetch(`${server.url}/agent`, { method: "POST", body: big });
    expect(response.status).toBe(413);
    expect(response.headers.get("connection")).toBe("close");
    expect(ErrorEnvelopeSchema.parse(await response.json()).error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("answers 413 to a chunked body that grows past maxBodyBytes", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${server.url}/agent`, { method: "POST" }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      // No content-length: the kit learns the size only by reading.
      for (let i = 0; i < 10; i++) req.write("y".repeat(1000));
      req.end();
    });
    expect(status).toBe(413);
  });

  it("aborts the handler's signal when the caller goes away", async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    let aborted!: (reason: unknown) => void;
    const abortedWith = new Promise<unknown>((resolve) => {
      aborted = resolve;
    });
    handler.mockImplementationOnce(
      (_input, { signal }) =>
        new Promise((resolve) => {
          signal.addEventListener("abort", () => {
            aborted(signal.reason);
            resolve("late");
          });
          started();
        }),
    );
    const gone = new AbortController();
    const request = postSigned(server.url, { key, callId: "n-gone", timeoutMs: 60_000, signal: gone.signal });
    await running;
    gone.abort();
    await expect(request).rejects.toThrow();
    expect(((await abortedWith) as Error).name).toBe("AbortError");
  });
});
