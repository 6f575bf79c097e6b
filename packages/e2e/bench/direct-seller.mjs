// The direct-mode benchmark's seller, in its own process: the same trivial handler served two
// ways. BENCH_MODE=kit puts it behind the seller kit with direct mode on (grants and vouchers
// checked on every call, redemptions in the background); BENCH_MODE=plain serves it unwrapped, a
// bare node:http server that parses the call and answers `{"output": …}`: the baseline.
import { createServer } from "node:http";
import { sellerKit } from "@mercato/seller-kit";

// BENCH_UPSTREAM_MS > 0: the handler waits that long, as for an upstream API, before it answers.
const upstreamMs = Number(process.env.BENCH_UPSTREAM_MS ?? 0);
const handler = async (input) => {
  if (upstreamMs > 0) await new Promise((resolve) => setTimeout(resolve, upstreamMs));
  return { price_usd: "64123.50", symbol: input?.symbol ?? "BTC" };
};

let listener;
let kit;
if (process.env.BENCH_MODE === "kit") {
  kit = sellerKit({
    broker: process.env.BENCH_BROKER_URL,
    handler,
    direct: { agentId: process.env.BENCH_AGENT_ID },
    // The bench stops the broker and the sellers together: a last redemption may find it gone.
    onError: () => {},
  });
  listener = kit.node;
} else {
  listener = (request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", async () => {
      try {
        const call = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        const body = JSON.stringify({ output: await handler(call.input) });
        response.writeHead(200, { "content-type": "application/json; charset=utf-8" }).end(body);
      } catch {
        response.writeHead(400, { "content-type": "application/json; charset=utf-8" }).end('{"error":{}}');
      }
    });
  };
}
const server = createServer(listener);
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.BENCH_PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(`READY http://127.0.0.1:${server.address().port}\n`);
});
process.on("SIGTERM", async () => {
  await kit?.close();
  server.close(() => process.exit(0));
});
