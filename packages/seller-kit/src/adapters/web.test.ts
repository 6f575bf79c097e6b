import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { ErrorEnvelopeSchema } from "@mercato/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SellerCallContext } from "../core/index.js";
import { type SellerKit, sellerKit } from "../kit/index.js";
import {
  brokerKey,
  callBody,
  listen,
  liveHeaders,
  postSigned,
  TEST_OWNER,
  type TestBrokerKey,
} from "../testing/index.js";
import { type SellerFetchHandler, targetOf } from "./web.js";

/**
 * The smallest Web-standard server on node:http, as Deno.serve, Bun.serve or @hono/node-server
 * would be: every request becomes a `Request`, the `Response` is written back.
 */
function webServer(fetchHandler: SellerFetchHandler) {
  return createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const gone = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) gone.abort();
    });
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method ?? "GET",
      headers: req.headers as Record<string, string>,
      body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : null,
      signal: gone.signal,
      ...(hasBody ? { duplex: "half" } : {}),
    } as RequestInit);
    const response = await fetchHandler(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
}

let key: TestBrokerKey;
let kit: SellerKit;
let server: Awaited<ReturnType<typeof listen>>;
beforeAll(async () => {
  key = await brokerKey("k1");
  kit = sellerKit({
    owner: TEST_OWNER,
    jwks: key.jwks,
    maxBodyBytes: 1000,
    handler: (input: unknown, context: SellerCallContext) => ({ input, kid: context.verified?.kid }),
  });
  server = await listen(webServer(kit.fetch));
});
afterAll(() => server.close());

describe("kit.fetch over a loopback server", () => {
  it("serves a signed call", async () => {
    const response = await postSigned(server.url, { key, callId: "w1", path: "/agent/x?y=1", input: 3 });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await response.json()).toEqual({ output: { input: 3, kid: "k1" } });
  });

  it("answers 401 to a tampered body and serves health", async () => {
    const body = callBody("w2");
    const headers = await liveHeaders({ key, callId: "w2", body });
    const response = await fetch(`${server.url}/agent`, {
      method: "POST",
      headers,
      body: body.replace("5000", "5001"),
    });
    expect(response.status).toBe(401);
    expect(ErrorEnvelopeSchema.parse(await response.json()).error.details?.reason).toBe("bad_signature");
    expect(await (await fetch(`${server.url}/agent/health`)).json()).toEqual({ status: "ok" });
  });

  it("answers 413 to a body over maxBodyBytes", async () => {
    const response = await postSigned(server.url, { key, callId: "w3", input: "q".repeat(2000) });
    expect(response.status).toBe(413);
  });
});

describe("kit.fetch", () => {
  it("answers 413 to a streamed body without content-length once it passes the limit", async () => {
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(400));
      },
    });
    const response = await kit.fetch(
      new Request("http://seller.test/agent", {
        method: "POST",
        body: stream,
        duplex: "half",
      } as RequestInit),
    );
    expect(response.status).toBe(413);
    expect(pulled).toBeLessThan(10);
  });

  it("serves a call given as a Request, verified against path and query", async () => {
    const body = callBody("w4");
    const headers = await liveHeaders({ key, callId: "w4", body, path: "/a/b?c=d%20e" });
    const response = await kit.fetch(
      new Request("http://seller.test/a/b?c=d%20e", { method: "POST", headers, body }),
    );
    expect(response.status).toBe(200);
  });

  it.each([
    ["http://seller.test/agent", "/agent"],
    ["http://seller.test/", "/"],
    ["https://seller.test:8443/a/b?c=1&d=2", "/a/b?c=1&d=2"],
    ["http://seller.test/a?b#frag", "/a?b"],
  ])("takes the target of %s as %s", (url, target) => {
    expect(targetOf(new Request(url).url)).toBe(target);
  });
});
