// The baseline a marketplace proxy is measured against: Fastify and an undici pool forwarding each
// POST to the upstream and its answer back, with nothing else (no auth, no ledger, no signature).
import Fastify from "fastify";
import { Pool } from "undici";

const upstream = new URL(process.env.BENCH_UPSTREAM);
const pool = new Pool(upstream.origin, { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 });
const app = Fastify({ logger: false });
app.post("/proxy", async (request, reply) => {
  const answer = await pool.request({
    method: "POST",
    path: upstream.pathname,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(request.body),
  });
  reply.code(answer.statusCode).header("content-type", "application/json");
  return answer.body.text();
});
await app.listen({ port: 0, host: "127.0.0.1" });
process.stdout.write(`READY http://127.0.0.1:${app.server.address().port}\n`);
process.on("SIGTERM", () => app.close().then(() => process.exit(0)));
