// Scale-out benchmark: invoke throughput with one, two and three broker processes on one
// PostgreSQL database and one Redis (rate limits and key cache shared), the same trivial seller
// behind the seller kit, and the load spread evenly over the brokers. Each broker count gets a
// fresh database. Every charge is durable (PostgreSQL commits with synchronous_commit on).
//
//   npm run bench:scale -w @mercato/e2e        (after `npm run build`)
//   BENCH_CONNECTIONS=48 BENCH_SECONDS=8 BENCH_BROKERS=1,2,3 to change the load.
//   MERCATO_TEST_DATABASE_URL / MERCATO_TEST_REDIS_URL: the servers (default the local ones).
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { runLoad } from "./load.mjs";
import { databaseUrl, pgAdmin, REDIS } from "./postgres.mjs";
import { api, BENCH_ADMIN, BENCH_BROKER_FLAGS, fmt, positiveEnv, start, stopAll } from "./processes.mjs";

const CONNECTIONS = positiveEnv("BENCH_CONNECTIONS", 48);
const SECONDS = positiveEnv("BENCH_SECONDS", 8);
const COUNTS = (process.env.BENCH_BROKERS ?? "1,2,3").split(",").map(Number);
const brokerBin = fileURLToPath(new URL("../../broker/dist/bin.js", import.meta.url));
// Node flags for the broker processes, e.g. BENCH_BROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
const brokerNodeArgs = (process.env.BENCH_BROKER_NODE_ARGS ?? "").split(" ").filter(Boolean);

async function measure(brokerCount) {
  const run = `${process.pid}_${randomBytes(3).toString("hex")}`;
  const database = `mercato_bench_${run}`;
  await pgAdmin(`CREATE DATABASE ${database}`);
  try {
    const env = {
      MERCATO_DATABASE_URL: databaseUrl(database),
      MERCATO_REDIS_URL: REDIS,
      MERCATO_REDIS_PREFIX: `mercato-bench-${run}:`,
    };
    const brokers = [];
    // One after the other: the first migrates the database.
    for (let i = 0; i < brokerCount; i++) {
      brokers.push(
        await start(
          [...brokerNodeArgs, brokerBin, ...BENCH_BROKER_FLAGS],
          env,
          /listening on (http:\/\/[\d.:]+)/,
        ),
      );
    }
    const jwks = await api(brokers[0], "GET", "/.well-known/jwks.json");
    const owner = await api(brokers[0], "POST", "/accounts", { body: { name: "Bench seller" } });
    const seller = await start(
      [fileURLToPath(new URL("./seller.mjs", import.meta.url))],
      { BENCH_BROKER_URL: brokers[0], BENCH_OWNER: owner.account_id, BENCH_JWKS: JSON.stringify(jwks) },
      /READY (http:\/\/[\d.:]+)/,
    );
    const agent = await api(brokers[0], "POST", "/agents/register", {
      key: owner.api_key,
      body: {
        name: "Bench price feed",
        description: "Answers a fixed price",
        category: "crypto",
        api_endpoint: `${seller}/agent`,
        pricing: { model: "per_call", price_per_call: "0.001" },
      },
    });
    // One buyer per broker, so that the wallets' row locks are not the bottleneck being measured.
    const buyers = [];
    for (let i = 0; i < brokerCount; i++) {
      const buyer = await api(brokers[0], "POST", "/accounts", { body: { name: `Bench buyer ${i}` } });
      await api(brokers[0], "POST", "/topups", { key: buyer.api_key, body: { amount_usd: "10000" } });
      const { api_key } = await api(brokers[0], "POST", "/purchase", {
        key: buyer.api_key,
        body: { agent_id: agent.agent_id },
      });
      buyers.push(api_key);
    }
    const path = `/agents/${agent.agent_id}/invoke`;
    const body = JSON.stringify({ input: { symbol: "BTC" } });
    const load = (durationMs) =>
      Promise.all(
        brokers.map((origin, i) =>
          runLoad({
            origin,
            connections: Math.max(1, Math.round(CONNECTIONS / brokerCount)),
            durationMs,
            request: () => ({
              path,
              body,
              headers: { "content-type": "application/json", authorization: `Bearer ${buyers[i]}` },
            }),
          }),
        ),
      );
    await load(1_000); // warm-up
    const results = await load(SECONDS * 1_000);
    const rps = results.reduce((sum, r) => sum + r.rps, 0);
    const bad = results.reduce(
      (sum, r) =>
        sum +
        r.failures +
        Object.entries(r.statuses)
          .filter(([s]) => s !== "200")
          .reduce((a, [, n]) => a + n, 0),
      0,
    );
    const p50 = Math.max(...results.map((r) => r.p50));
    const p99 = Math.max(...results.map((r) => r.p99));
    const audit = await api(brokers[0], "GET", "/admin/audit", { key: BENCH_ADMIN });
    await stopAll();
    if (bad > 0) throw new Error(`${brokerCount} broker(s): ${bad} failed requests`);
    if (!audit.ok)
      throw new Error(`${brokerCount} broker(s): audit violations ${JSON.stringify(audit.violations)}`);
    return { rps, p50, p99 };
  } finally {
    await stopAll();
    await pgAdmin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
}

console.log(`scale-out bench: PostgreSQL + Redis, ${CONNECTIONS} connections in all, ${SECONDS} s per run\n`);
const base = [];
for (const count of COUNTS) {
  const result = await measure(count);
  base.push(result.rps);
  console.log(
    `${String(count)} broker(s)  ${result.rps.toFixed(0).padStart(6)} calls/s  ` +
      `(×${(result.rps / (base[0] ?? result.rps)).toFixed(2)})   p50 ${fmt(result.p50)}   p99 ${fmt(result.p99)}   audit ok`,
  );
}
