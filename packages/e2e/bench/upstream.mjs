// The comparison bench's upstream: the most trivial service there is. Any POST is answered a fixed
// Mercato seller answer (`{"output": …}`), any GET (the broker's health checks) `{"status":"ok"}`.
// No signature check: what is measured is the path in front of it, the same for every contender.
import { createServer } from "node:http";

const answer = Buffer.from(JSON.stringify({ output: { symbol: "BTC", price_usd: "64123.50" } }));
const healthy = Buffer.from(JSON.stringify({ status: "ok" }));

const server = createServer((request, response) => {
  const body = request.method === "POST" ? answer : healthy;
  request.resume();
  request.on("end", () => {
    response.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    response.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`READY http://127.0.0.1:${server.address().port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
