import { ErrorEnvelopeSchema } from "@mercato/protocol";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { sellerKit } from "../kit/index.js";
import { brokerKey, postSigned, TEST_OWNER, type TestBrokerKey } from "../testing/index.js";

let key: TestBrokerKey;
let apps: FastifyInstance[] = [];
beforeAll(async () => {
  key = await brokerKey("k1");
});
afterEach(async () => {
  await Promise.all(apps.map((app) => app.close()));
  apps = [];
});

const handler = vi.fn((input: unknown) => ({ input }));

/** A Fastify 5 app with the kit under /agent and a JSON route of its own, on a loopback port. */
async function serve(options: { maxBodyBytes?: number } = {}): Promise<string> {
  const app = Fastify();
  apps.push(app);
  const kit = sellerKit({ owner: TEST_OWNER, jwks: key.jwks, handler, metrics: true, ...options });
  await app.register(kit.fastify, { prefix: "/agent" });
  app.post("/other", async (request) => ({ parsed: request.body }));
  return app.listen({ port: 0, host: "127.0.0.1" });
}

describe("kit.fastify over a loopback server (Fastify 5)", () => {
  it("serves a signed application/json call from the raw bytes", async () => {
    const url = await serve();
    const response = await postSigned(url, { key, callId: "f1", input: { a: 1 } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(response.headers.get("x-request-id")).toMatch(/^req_/);
    expect(await response.json()).toEqual({ output: { input: { a: 1 } } });
  });

  it("keeps the raw bytes for any content type, or none", async () => {
    const url = await serve();
    for (const [index, contentType] of ["text/plain", "application/octet-stream", null].entries()) {
      const response = await postSigned(url, { key, callId: `f2-${index}`, contentType });
      expect(response.status).toBe(200);
    }
  });

  it("verifies the path with its query as the broker signed it", async () => {
    const url = await serve();
    expect((await postSigned(url, { key, callId: "f3", path: "/agent?tenant=7" })).status).toBe(200);
  });

  it("answers 401 to a forged call without calling the handler", async () => {
    handler.mockClear();
    const url = await serve();
    const stranger = await brokerKey("k1");
    const response = await postSigned(url, { key: stranger, callId: "f4" });
    expect(response.status).toBe(401);
    expect(ErrorEnvelopeSchema.parse(await response.json()).error.details?.reason).toBe("bad_signature");
    expect(handler).not.toHaveBeenCalled();
  });

  it("leaves the rest of the app's JSON parsing alone", async () => {
    const url = await serve();
    const response = await fetch(`${url}/other`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"x":1}',
    });
    expect(await response.json()).toEqual({ parsed: { x: 1 } });
  });

  it("answers 413 in the protocol's envelope past maxBodyBytes", async () => {
    const url = await serve({ maxBodyBytes: 100 });
    const response = await postSigned(url, { key, callId: "f5", input: "z".repeat(200) });
    expect(response.status).toBe(413);
    const { error } = ErrorEnvelopeSchema.parse(await response.json());
    expect(error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("serves health and metrics under the prefix", async () => {
    const url = await serve();
    const health = await fetch(`${url}/agent/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const metrics = await fetch(`${url}/agent/metrics`);
    expect(await metrics.text()).toContain("# TYPE mercato_seller_call_duration_seconds histogram");
  });
});
