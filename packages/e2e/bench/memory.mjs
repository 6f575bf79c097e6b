// The broker's memory under sustained load: a broker on SQLite (dev mode, limits raised as in
// ./compare.mjs) in front of the trivial upstream (./upstream.mjs), driven by BENCH_CONNECTIONS
// (default 32) closed loops of invokes for BENCH_MEMORY_SECONDS (default 600), spread over several
// buyers and access keys, each call with a new Idempotency-Key (one in eight repeats a recent one:
// a retry answered from the idempotency cache). The broker's resident memory (VmRSS of its process)
// is read every BENCH_MEMORY_SAMPLE_SECONDS (default 10). Prints the series, the maximum and the
// slope over the second half, and fails when the maximum reaches BENCH_MEMORY_MAX_MB (default 200)
// or the second half grows by more than BENCH_MEMORY_MAX_GROWTH_MB (default 5: the fitted slope
// times the half's length), or when any call answers other than 200.
//
//   npm run bench:memory -w @mercato/e2e        (after `npm run build`)
//   BENCH_MEMORY_SECONDS=120 BENCH_CONNECTIONS=32 to change it.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runLoad } from "./load.mjs";
import { api, BENCH_BROKER_FLAGS, positiveEnv, start, startChild, stopAll } from "./processes.mjs";

const SECONDS = positiveEnv("BENCH_MEMORY_SECONDS", 600);
const SAMPLE_SECONDS = positiveEnv("BENCH_MEMORY_SAMPLE_SECONDS", 10);
const CONNECTIONS = positiveEnv("BENCH_CONNECTIONS", 32);
const MAX_MB = positiveEnv("BENCH_MEMORY_MAX_MB", 200);
const MAX_GROWTH_MB = positiveEnv("BENCH_MEMORY_MAX_GROWTH_MB", 5);
const BUYERS = 4;
const KEYS_PER_BUYER = 2;
const brokerBin = fileURLToPath(new URL("../../broker/dist/bin.js", import.meta.url));
// Node flags for the broker process, e.g. BENCH_BROKER_NODE_ARGS="--max-old-space-size=64".
const brokerNodeArgs = (process.env.BENCH_BROKER_NODE_ARGS ?? "").split(" ").filter(Boolean);
const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), "mercato-memory-"));
const BROKER_FLAGS = [
  ...BENCH_BROKER_FLAGS,
  // Several buyers from one address, each spending far more than a new account's day.
  "--signup-rate-limit",
  "0",
  "--new-account-daily-limit",
  "0",
  "--db",
  join(dir, "memory.db"),
];

/** The resident memory of process `pid`, MB. */
function rssMb(pid) {
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no VmRSS for process ${pid}`);
  return kb / 1024;
}

/** Least-squares slope of `points` ({ t: seconds, mb }), MB per minute. */
function slopePerMinute(points) {
  const n = points.length;
  if (n < 2) return 0;
  const meanT = points.reduce((sum, p) => sum + p.t, 0) / n;
  const meanMb = points.reduce((sum, p) => sum + p.mb, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - meanT) * (p.mb - meanMb);
    den += (p.t - meanT) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

/** One seller listing the upstream; BUYERS buyers with KEYS_PER_BUYER access keys each. */
async function market(broker, upstream) {
  const owner = await api(broker, "POST", "/accounts", { body: { name: "Memory bench seller" } });
  const agent = await api(broker, "POST", "/agents/register", {
    key: owner.api_key,
    body: {
      name: "Bench price feed",
      description: "Answers a fixed price",
      category: "crypto",
      api_endpoint: upstream,
      pricing: { model: "per_call", price_per_call: "0.001" },
    },
  });
  const keys = [];
  for (let b = 0; b < BUYERS; b++) {
    const buyer = await api(broker, "POST", "/accounts", { body: { name: `Memory bench buyer ${b}` } });
    await api(broker, "POST", "/topups", { key: buyer.api_key, body: { amount_usd: "10000" } });
    for (let k = 0; k < KEYS_PER_BUYER; k++) {
      const { api_key } = await api(broker, "POST", "/purchase", {
        key: buyer.api_key,
        body: { agent_id: agent.agent_id },
      });
      keys.push(api_key);
    }
  }
  return { path: `/agents/${agent.agent_id}/invoke`, keys };
}

try {
  const upstream = `${await start([here("./upstream.mjs")], {}, /READY (http:\/\/[\d.:]+)/)}/agent`;
  const { match: broker, pid } = await startChild(
    [...brokerNodeArgs, brokerBin, ...BROKER_FLAGS],
    {},
    /listening on (http:\/\/[\d.:]+)/,
  );
  const { path, keys } = await market(broker, upstream);
  const body = JSON.stringify({ input: { symbol: "BTC" } });
  const run = randomBytes(4).toString("hex");
  const sent = new Array(CONNECTIONS).fill(0);
  const request = (connection) => {
    const n = sent[connection]++;
    // One call in eight retries the call made eight calls before on this connection.
    const id = n % 8 === 7 ? n - 8 + 1 : n;
    return {
      path,
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${keys[connection % keys.length]}`,
        "idempotency-key": `mem-${run}-${connection}-${id}`,
      },
      body,
    };
  };

  const started = Date.now();
  const samples = [{ t: 0, mb: rssMb(pid) }];
  const timer = setInterval(() => {
    samples.push({ t: Math.round((Date.now() - started) / 1000), mb: rssMb(pid) });
  }, SAMPLE_SECONDS * 1000);
  const result = await runLoad({
    origin: new URL(broker).origin,
    connections: CONNECTIONS,
    durationMs: SECONDS * 1000,
    request,
  });
  clearInterval(timer);
  samples.push({ t: Math.round((Date.now() - started) / 1000), mb: rssMb(pid) });

  console.log(
    `\nBroker RSS, ${CONNECTIONS} connections, ${SECONDS} s, ${keys.length} keys of ${BUYERS} buyers, a new Idempotency-Key per call`,
  );
  console.log(
    `${result.requests} calls, ${result.rps.toFixed(0)} calls/s, statuses ${JSON.stringify(result.statuses)}, failures ${result.failures}\n`,
  );
  console.log("   t (s)   RSS (MB)");
  for (const { t, mb } of samples) console.log(`${String(t).padStart(8)}   ${mb.toFixed(1).padStart(8)}`);
  const max = Math.max(...samples.map((s) => s.mb));
  const half = samples.filter((s) => s.t >= SECONDS / 2);
  const slope = slopePerMinute(half);
  const growth = (slope * ((half.at(-1)?.t ?? 0) - (half[0]?.t ?? 0))) / 60;
  console.log(
    `\nmax ${max.toFixed(1)} MB; second half: slope ${slope.toFixed(2)} MB/min, fitted growth ${growth.toFixed(1)} MB`,
  );

  const problems = [];
  if (max >= MAX_MB) problems.push(`the broker's RSS reached ${max.toFixed(1)} MB (limit ${MAX_MB} MB)`);
  if (growth > MAX_GROWTH_MB)
    problems.push(`the second half grew ${growth.toFixed(1)} MB (limit ${MAX_GROWTH_MB} MB)`);
  const bad = result.failures + result.requests - (result.statuses[200] ?? 0);
  if (bad > 0) problems.push(`${bad} calls failed or answered other than 200`);
  if (problems.length > 0) {
    console.error(`\nFAILED: ${problems.join("; ")}`);
    process.exitCode = 1;
  } else {
    console.log("\nOK");
  }
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
