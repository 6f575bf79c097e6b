import { createHash, createPublicKey, verify as cryptoVerify } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { SellerKit } from "@mercato/seller-kit";
import express from "express";
import Fastify from "fastify";

/** A seller listening on a loopback port; `url` is its agent endpoint. */
export interface RunningSeller {
  url: string;
  close(): Promise<void>;
}

/** The four ways a seller mounts the kit, each on a real server. */
export type Adapter = "node" | "express" | "fastify" | "web";
export const ADAPTERS: Adapter[] = ["node", "express", "fastify", "web"];

async function listen(server: Server, path: string): Promise<RunningSeller> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Starts `kit` behind one adapter, serving the agent at `/agent`. */
export async function startSeller(kit: SellerKit, adapter: Adapter): Promise<RunningSeller> {
  switch (adapter) {
    case "node":
      return listen(createServer(kit.node), "/agent");
    case "express": {
      const app = express();
      app.use("/agent", kit.express());
      return listen(createServer(app), "/agent");
    }
    case "fastify": {
      const app = Fastify();
      await app.register(kit.fastify, { prefix: "/agent" });
      await app.listen({ port: 0, host: "127.0.0.1" });
      const { port } = app.server.address() as AddressInfo;
      return { url: `http://127.0.0.1:${port}/agent`, close: () => app.close() };
    }
    case "web":
      // What Deno.serve or Bun.serve do: a Request in, a Response out.
      return listen(createServer(webBridge(kit.fetch)), "/agent");
  }
}

function webBridge(handle: (request: Request) => Promise<Response>) {
  return (req: IncomingMessage, res: import("node:http").ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      const request = new Request(`http://${req.headers.host}${req.url}`, {
        method: req.method ?? "GET",
        headers: req.headers as Record<string, string>,
        ...(body.length > 0 && { body }),
      });
      const response = await handle(request);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    });
  };
}

/** A request a recording seller saw, raw, so that a test can replay or tamper with it. */
export interface RecordedCall {
  target: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** A seller in front of the kit's core that keeps every raw request it served. */
export async function startRecordingSeller(
  kit: SellerKit,
): Promise<RunningSeller & { recorded: RecordedCall[] }> {
  const recorded: RecordedCall[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(
          (entry): entry is [string, string] => typeof entry[1] === "string",
        ),
      );
      recorded.push({ target: req.url ?? "/", headers, body });
      const answer = await kit.handle({
        method: req.method ?? "GET",
        target: req.url ?? "/",
        headers: (name) => headers[name],
        body,
      });
      res.writeHead(answer.status, answer.headers).end(answer.body);
    });
  });
  return { ...(await listen(server, "/agent")), recorded };
}

/** A server that answers every request with `status` and `body`, as a broken seller would. */
export async function startRawSeller(status: number, body: string): Promise<RunningSeller> {
  return listen(
    createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(status, { "content-type": "application/json" }).end(body));
    }),
    "/agent",
  );
}

/**
 * A seller on a kit older than `mercato-call-v2`: it checks the call as the kit of that time did —
 * the broker's Ed25519 signature in `mercato-signature` over `mercato-call-v1`, method, request
 * target, body digest, timestamp and call id, with the broker's published keys — and knows nothing
 * of listings. A call it cannot verify gets 401; `served` counts the calls it did the work for.
 */
export async function startPreV2Seller(
  broker: string,
  output: unknown,
): Promise<RunningSeller & { served: () => number }> {
  let served = 0;
  const header = (req: IncomingMessage, name: string) => {
    const value = req.headers[name];
    return typeof value === "string" ? value : undefined;
  };
  const verify = async (req: IncomingMessage, body: Buffer): Promise<boolean> => {
    const [callId, timestamp, kid, signature] = [
      "mercato-call-id",
      "mercato-timestamp",
      "mercato-key-id",
      "mercato-signature",
    ].map((name) => header(req, name));
    if (!callId || !timestamp || !kid || !signature) return false;
    const jwks = (await (await fetch(`${broker}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ kid: string; x: string }>;
    };
    const jwk = jwks.keys.find((key) => key.kid === kid);
    if (!jwk) return false;
    const input = [
      "mercato-call-v1",
      req.method ?? "POST",
      req.url ?? "/",
      createHash("sha256").update(body).digest("base64url"),
      timestamp,
      callId,
    ].join("\n");
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x }, format: "jwk" });
    return cryptoVerify(null, Buffer.from(input), key, Buffer.from(signature, "base64url"));
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const json = { "content-type": "application/json" };
      if (!(await verify(req, Buffer.concat(chunks)))) {
        res.writeHead(401, json).end(
          JSON.stringify({
            error: { code: "UNAUTHENTICATED", message: "The call is not signed by a Mercato broker" },
          }),
        );
        return;
      }
      served++;
      res.writeHead(200, json).end(JSON.stringify({ output }));
    });
  });
  return { ...(await listen(server, "/agent")), served: () => served };
}
