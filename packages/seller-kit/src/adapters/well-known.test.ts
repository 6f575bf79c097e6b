// The GET routes every adapter serves beside the calls, over a real loopback server for each:
// the contract (for `mercato agents register --from-kit`), the endpoint challenge, health.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import express from "express";
import Fastify from "fastify";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import * as z from "zod";
import { type SellerKit, sellerKit } from "../kit/index.js";
import { brokerKey, listen, postSigned, TEST_OWNER, type TestBrokerKey } from "../testing/index.js";

let key: TestBrokerKey;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  key = await brokerKey("k1");
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const Input = z.object({ symbol: z.string().min(1).describe("A ticker, e.g. BTC") });
const Output = z.object({ symbol: z.string(), price: z.number().positive() });
const handler = vi.fn(({ symbol }: { symbol: string }) => ({ symbol, price: 64_000 }));
const TOKEN = "tok_0123456789abcdefghijkl";

/** Mounts `kit` under /agent on a loopback server with one adapter; answers its base URL. */
const adapters: Record<string, (kit: SellerKit) => Promise<string>> = {
  node: async (kit) => {
    const server = await listen(createServer(kit.node));
    closers.push(server.close);
    return server.url;
  },
  express: async (kit) => {
    const app = express();
    app.use("/agent", kit.express());
    const server = await listen(createServer(app));
    closers.push(server.close);
    return server.url;
  },
  fastify: async (kit) => {
    const app = Fastify();
    await app.register(kit.fastify, { prefix: "/agent" });
    closers.push(() => app.close());
    return app.listen({ port: 0, host: "127.0.0.1" });
  },
  fetch: async (kit) => {
    // The smallest Web-standard server, as Deno.serve or @hono/node-server would be.
    const server = await listen(
      createServer(async (req: IncomingMessage, res: ServerResponse) => {
        const hasBody = req.method !== "GET" && req.method !== "HEAD";
        const response = await kit.fetch(
          new Request(`http://${req.headers.host}${req.url}`, {
            method: req.method ?? "GET",
            headers: req.headers as Record<string, string>,
            body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : null,
            ...(hasBody ? { duplex: "half" } : {}),
          } as RequestInit),
        );
        res.writeHead(response.status, Object.fromEntries(response.headers));
        res.end(Buffer.from(await response.arrayBuffer()));
      }),
    );
    closers.push(server.close);
    return server.url;
  },
};

describe.each(Object.keys(adapters))("kit.%s serves the well-known routes", (adapter) => {
  const serve = (kit: SellerKit) => (adapters[adapter] as (kit: SellerKit) => Promise<string>)(kit);

  it("answers GET …/.well-known/mercato-contract with the JSON Schemas of input and output, unsigned", async () => {
    handler.mockClear();
    const kit = sellerKit({ owner: TEST_OWNER, jwks: key.jwks, input: Input, output: Output, handler });
    const url = await serve(kit);
    const response = await fetch(`${url}/agent/.well-known/mercato-contract`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const contract = await response.json();
    expect(contract).toEqual({
      input_schema: {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "object",
        properties: { symbol: { type: "string", minLength: 1, description: "A ticker, e.g. BTC" } },
        required: ["symbol"],
      },
      output_schema: {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "object",
        properties: { symbol: { type: "string" }, price: { type: "number", exclusiveMinimum: 0 } },
        required: ["symbol", "price"],
        additionalProperties: false,
      },
    });
    expect(contract).toEqual(kit.contract);
    expect(handler).not.toHaveBeenCalled();
    // The calls are served as before, beside it.
    expect((await postSigned(url, { key, callId: `${adapter}-1`, input: { symbol: "BTC" } })).status).toBe(
      200,
    );
  });

  it("answers {input_schema: null, output_schema: null} for a kit without schemas, and still serves health", async () => {
    const url = await serve(sellerKit({ owner: TEST_OWNER, jwks: key.jwks, handler: () => 1 }));
    expect(await (await fetch(`${url}/agent/.well-known/mercato-contract`)).json()).toEqual({
      input_schema: null,
      output_schema: null,
    });
    expect(await (await fetch(`${url}/agent/health`)).json()).toEqual({ status: "ok" });
  });

  it("answers the broker's endpoint challenge", async () => {
    const url = await serve(sellerKit({ owner: TEST_OWNER, jwks: key.jwks, handler: () => 1 }));
    const response = await fetch(`${url}/agent/.well-known/mercato-challenge/${TOKEN}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ token: TOKEN, owner: TEST_OWNER });
  });
});
