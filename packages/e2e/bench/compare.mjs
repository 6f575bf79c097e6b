// The invoke path side by side with what a proxy costs at its barest, in one run, on one machine,
// with the same trivial upstream behind each (./upstream.mjs):
//   upstream alone · nginx (when installed) · bare Fastify + undici proxy (./bare-proxy.mjs) ·
//   Mercato on SQLite (every capture durable) · Mercato on PostgreSQL + Redis (one broker).
// Each round measures every contender in turn (throughput at BENCH_CONNECTIONS, default 32, then
// latency at one connection), so that a machine busier in one moment than another weighs on all of
// them alike; the table gives each round and each ratio to the bare proxy. Load comes from wrk when
// it is installed (as the figures were measured), else from ./load.mjs's closed loops.
// The ledger audit of both brokers must be clean at the end.
//
//   npm run bench:compare -w @mercato/e2e        (after `npm run build`)
//   BENCH_ROUNDS=3 BENCH_SECONDS=6 BENCH_CONNECTIONS=32 BENCH_ONLY=sqlite,bare to change it.
//   MERCATO_TEST_DATABASE_URL / MERCATO_TEST_REDIS_URL: the servers (default the local ones).
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runLoad } from "./load.mjs";
import { databaseUrl, pgAdmin, REDIS } from "./postgres.mjs";
import { api, BENCH_ADMIN, BENCH_BROKER_FLAGS, positiveEnv, start, stopAll } from "./processes.mjs";

const ROUNDS = positiveEnv("BENCH_ROUNDS", 3);
const SECONDS = positiveEnv("BENCH_SECONDS", 6);
const CONNECTIONS = positiveEnv("BENCH_CONNECTIONS", 32);
const ONLY = process.env.BENCH_ONLY?.split(",");
const brokerBin = fileURLToPath(new URL("../../broker/dist/bin.js", import.meta.url));
// Node flags for the broker processes, e.g. BENCH_BROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
const brokerNodeArgs = (process.env.BENCH_BROKER_NODE_ARGS ?? "").split(" ").filter(Boolean);
const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), "mercato-compare-"));
const run = `${process.pid}_${randomBytes(3).toString("hex")}`;
const database = `mercato_compare_${run}`;

const has = (program) => {
  try {
    execFileSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const WRK = has("wrk") && process.env.BENCH_LOAD !== "node";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** nginx in front of the upstream, keep-alive both ways, one worker; undefined when not installed. */
async function startNginx(upstream) {
  const bin = ["nginx", "/usr/sbin/nginx"].find((b) => b.startsWith("/") || has(b));
  if (!bin || !has(bin)) return undefined;
  const port = await freePort();
  const root = join(dir, "nginx");
  execFileSync("mkdir", ["-p", root]);
  const { host, pathname } = new URL(upstream);
  writeFileSync(
    join(root, "nginx.conf"),
    `worker_processes 1;
daemon off;
pid ${root}/nginx.pid;
error_log ${root}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${root}/body; proxy_temp_path ${root}/proxy; fastcgi_temp_path ${root}/fcgi;
  uwsgi_temp_path ${root}/uwsgi; scgi_temp_path ${root}/scgi;
  upstream up { server ${host}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location / { proxy_pass http://up${pathname}; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
  );
  const child = spawn(bin, ["-p", root, "-c", join(root, "nginx.conf"), "-e", join(root, "error.log")], {
    stdio: "ignore",
  });
  // Ready once it answers.
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "{}" });
      return { url: `http://127.0.0.1:${port}/`, stop: () => child.kill("SIGQUIT") };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  child.kill("SIGKILL");
  throw new Error("nginx did not start");
}

/** A broker with one seller (the upstream), one buyer with an access key: its invoke request. */
async function mercato(label, env, extraFlags, upstream) {
  const broker = await start(
    [...brokerNodeArgs, brokerBin, ...BENCH_BROKER_FLAGS, ...extraFlags],
    env,
    /listening on (http:\/\/[\d.:]+)/,
  );
  const owner = await api(broker, "POST", "/accounts", { body: { name: `${label} seller` } });
  const buyer = await api(broker, "POST", "/accounts", { body: { name: `${label} buyer` } });
  await api(broker, "POST", "/topups", { key: buyer.api_key, body: { amount_usd: "10000" } });
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
  const { api_key } = await api(broker, "POST", "/purchase", {
    key: buyer.api_key,
    body: { agent_id: agent.agent_id },
  });
  return {
    broker,
    url: `${broker}/agents/${agent.agent_id}/invoke`,
    headers: { "content-type": "application/json", authorization: `Bearer ${api_key}` },
  };
}

/** One measured run: `connections` keep-alive connections for `seconds`; rps, p50 (ms), non-2xx count. */
async function load({ url, headers }, connections, seconds) {
  const body = JSON.stringify({ input: { symbol: "BTC" } });
  if (WRK) {
    const script = join(dir, `wrk-${randomBytes(4).toString("hex")}.lua`);
    writeFileSync(
      script,
      [
        'wrk.method = "POST"',
        `wrk.body = ${JSON.stringify(body)}`,
        ...Object.entries(headers).map(
          ([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`,
        ),
      ].join("\n"),
    );
    const out = execFileSync(
      "wrk",
      ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", script, url],
      { encoding: "utf8" },
    );
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const p50Match = /50%\s+([\d.]+)(us|ms|s)\b/.exec(out);
    const unit = { us: 0.001, ms: 1, s: 1000 }[p50Match?.[2] ?? "ms"];
    const p50 = Number(p50Match?.[1]) * unit;
    const bad =
      Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0) +
      Number(/Socket errors:.*timeout (\d+)/.exec(out)?.[1] ?? 0);
    return { rps, p50, bad };
  }
  const target = new URL(url);
  const result = await runLoad({
    origin: target.origin,
    connections,
    durationMs: seconds * 1000,
    request: () => ({ path: target.pathname, headers, body }),
  });
  const bad =
    result.failures +
    Object.entries(result.statuses)
      .filter(([status]) => status !== "200")
      .reduce((sum, [, n]) => sum + n, 0);
  return { rps: result.rps, p50: result.p50, bad };
}

const contenders = [];
const results = new Map();
let nginx;
try {
  const upstream = `${await start([here("./upstream.mjs")], {}, /READY (http:\/\/[\d.:]+)/)}/agent`;
  const json = { "content-type": "application/json" };
  const want = (name) => !ONLY || ONLY.includes(name);
  if (want("upstream")) contenders.push({ name: "upstream alone", target: { url: upstream, headers: json } });
  if (want("nginx")) {
    nginx = await startNginx(upstream);
    if (nginx) contenders.push({ name: "nginx", target: { url: nginx.url, headers: json } });
    else console.log("(nginx is not installed: its row is left out)");
  }
  const bare = await start(
    [here("./bare-proxy.mjs")],
    { BENCH_UPSTREAM: upstream },
    /READY (http:\/\/[\d.:]+)/,
  );
  contenders.push({
    name: "bare Fastify + undici proxy",
    baseline: true,
    target: { url: `${bare}/proxy`, headers: json },
  });
  if (want("sqlite")) {
    const sqlite = await mercato("SQLite", {}, ["--db", join(dir, "bench.db")], upstream);
    contenders.push({ name: "Mercato, SQLite durable", broker: sqlite.broker, target: sqlite });
  }
  if (want("postgres")) {
    await pgAdmin(`CREATE DATABASE ${database}`);
    const postgres = await mercato(
      "PostgreSQL",
      {
        MERCATO_DATABASE_URL: databaseUrl(database),
        MERCATO_REDIS_URL: REDIS,
        MERCATO_REDIS_PREFIX: `mercato-compare-${run}:`,
      },
      [],
      upstream,
    );
    contenders.push({ name: "Mercato, PostgreSQL + Redis", broker: postgres.broker, target: postgres });
  }

  console.log(
    `invoke path side by side: ${ROUNDS} rounds, ${SECONDS} s per run, ${CONNECTIONS} connections, then 1; load by ${WRK ? "wrk" : "node closed loops"}\n`,
  );
  for (let round = 1; round <= ROUNDS; round++) {
    for (const contender of contenders) {
      await load(contender.target, CONNECTIONS, 1); // warm-up
      const loaded = await load(contender.target, CONNECTIONS, SECONDS);
      const serial = await load(contender.target, 1, Math.max(2, Math.ceil(SECONDS / 2)));
      if (loaded.bad + serial.bad > 0)
        throw new Error(`${contender.name}: ${loaded.bad + serial.bad} failed calls`);
      const list = results.get(contender.name) ?? [];
      list.push({ rps: loaded.rps, p50: serial.p50 });
      results.set(contender.name, list);
      console.log(
        `round ${round}  ${contender.name.padEnd(30)} ${loaded.rps.toFixed(0).padStart(7)} calls/s   p50 at 1 connection ${serial.p50.toFixed(3)} ms`,
      );
    }
  }

  const baseline = results.get(contenders.find((c) => c.baseline).name);
  console.log(
    `\n| | calls/s (${CONNECTIONS} conn.) | vs bare proxy | p50 at 1 conn. | added over bare proxy |`,
  );
  console.log("|---|---|---|---|---|");
  for (const contender of contenders) {
    const rows = results.get(contender.name);
    const rps = rows.map((r) => r.rps.toFixed(0)).join(" / ");
    const ratio = rows.map((r, i) => (r.rps / baseline[i].rps).toFixed(2)).join(" / ");
    const p50 = rows.map((r) => r.p50.toFixed(2)).join(" / ");
    const added = rows.map((r, i) => (r.p50 - baseline[i].p50).toFixed(2)).join(" / ");
    console.log(`| ${contender.name} | ${rps} | ${ratio} | ${p50} ms | ${added} ms |`);
  }

  for (const contender of contenders.filter((c) => c.broker)) {
    const audit = await api(contender.broker, "GET", "/admin/audit", { key: BENCH_ADMIN });
    if (!audit.ok) throw new Error(`${contender.name}: audit violations ${JSON.stringify(audit.violations)}`);
  }
  console.log("\nledger audit clean on every broker");
} finally {
  nginx?.stop();
  await stopAll();
  await pgAdmin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
