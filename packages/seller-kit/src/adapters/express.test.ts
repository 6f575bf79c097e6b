import { createServer } from "node:http";
import { ErrorEnvelopeSchema } from "@mercato/protocol";
import express from "express";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type SellerKit, sellerKit } from "../kit/index.js";
import { brokerKey, listen, postSigned, TEST_OWNER, type TestBrokerKey } from "../testing/index.js";
import { PARSED_BODY_MESSAGE } from "./express.js";

let key: TestBrokerKey;
let closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  key = await brokerKey("k1");
});
afterEach(async () => {
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

function kitFor(onError = vi.fn()): SellerKit {
  return sellerKit({
    owner: TEST_OWNER,
    jwks: key.jwks,
    handler: (input, { callId }) => ({ input, callId }),
    onError,
  });
}

async function serve(app: express.Express): Promise<string> {
  const server = await listen(createServer(app));
  closers.push(server.close);
  return server.url;
}

describe("kit.express() over a loopback server (Express 5)", () => {
  it("reads the unconsumed body stream and verifies against req.originalUrl", async () => {
    const app = express();
    app.use("/agent", kitFor().express());
    const url = await serve(app);
    const response = await postSigned(url, { key, callId: "e1", input: "hi" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await response.json()).toEqual({ output: { input: "hi", callId: "e1" } });
    // Mounted at /agent, Express strips the prefix from req.url: a deeper path is signed in full too.
    expect((await postSigned(url, { key, callId: "e2", path: "/agent/prices?x=1" })).status).toBe(200);
  });

  it("takes the Buffer that express.raw() left in req.body", async () => {
    const app = express();
    app.use("/agent", express.raw({ type: "*/*" }), kitFor().express());
    const url = await serve(app);
    const response = await postSigned(url, { key, callId: "e3", input: [1, 2] });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ output: { input: [1, 2], callId: "e3" } });
  });

  it("answers 500 with a clear message, and reports it, when express.json() parsed the body first", async () => {
    const onError = vi.fn();
    const app = express();
    app.use(express.json());
    app.use("/agent", kitFor(onError).express());
    const url = await serve(app);
    const response = await postSigned(url, { key, callId: "e4" });
    expect(response.status).toBe(500);
    const { error } = ErrorEnvelopeSchema.parse(await response.json());
    expect(error.code).toBe("INTERNAL_ERROR");
    expect(error.message).toBe(PARSED_BODY_MESSAGE);
    expect(error.message).toMatch(/before express\.json\(\)/);
    expect(onError).toHaveBeenCalledWith(
      expect.objectContaining({ message: PARSED_BODY_MESSAGE }),
      expect.objectContaining({ stage: "request", requestId: error.request_id }),
    );
  });

  it("still works behind express.json() for a body that parser skipped", async () => {
    const app = express();
    app.use(express.json());
    app.use("/agent", kitFor().express());
    const url = await serve(app);
    expect((await postSigned(url, { key, callId: "e5", contentType: "text/plain" })).status).toBe(200);
  });

  it("refuses an unsigned call with 401 and serves health", async () => {
    const app = express();
    app.use("/agent", kitFor().express());
    const url = await serve(app);
    const unsigned = await fetch(`${url}/agent`, {
      method: "POST",
      body: '{"input":1,"call_id":"x","timeout_ms":1}',
    });
    expect(unsigned.status).toBe(401);
    expect(ErrorEnvelopeSchema.parse(await unsigned.json()).error.details?.reason).toBe("missing");
    const health = await fetch(`${url}/agent/health`);
    expect(await health.json()).toEqual({ status: "ok" });
  });
});
