import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A request a test seller received, with its exact body. */
export interface ReceivedCall {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** What a test seller answers: a status and a raw body, after an optional delay. */
export interface SellerAnswer {
  status?: number;
  body?: string;
  delayMs?: number;
}

/** A plain `node:http` seller on a loopback port, for broker tests that need no seller kit. */
export interface TestSeller {
  url: string;
  calls: ReceivedCall[];
  close(): Promise<void>;
}

/** Starts a seller answering each call with `answer(call)` (default: `{"output": {"echo": input}}`). */
export async function startTestSeller(
  answer: (call: ReceivedCall) => SellerAnswer | Promise<SellerAnswer> = (call) => ({
    body: JSON.stringify({ output: { echo: (JSON.parse(call.body) as { input: unknown }).input } }),
  }),
): Promise<TestSeller> {
  const calls: ReceivedCall[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const call = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      calls.push(call);
      const { status = 200, body = "{}", delayMs = 0 } = await answer(call);
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(status, { "content-type": "application/json" }).end(body);
      }, delayMs);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
