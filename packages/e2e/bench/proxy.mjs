// The invoke proxy's benchmark. In one run: a trivial seller behind the seller kit, called
// directly and through the broker (every charge durable: SQLite in WAL with synchronous=FULL), each
// under the same closed-loop load; prints throughput, p50/p90/p99 latency, and what the proxy adds.
//
//   npm run bench -w @mercato/e2e        (after `npm run build`)
//   BENCH_CONNECTIONS=64 BENCH_SECONDS=10 BENCH_LATENCY_CONNECTIONS=1 to change the load.
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CALL_HEADERS, callSigningInput } from "@mercato/protocol";
import { measure, runLoad } from "./load.mjs";
import { api, fmt, positiveEnv, start, stopAll } from "./processes.mjs";

const CONNECTIONS = positiveEnv("BENCH_CONNECTIONS", 32);
const LATENCY_CONNECTIONS = positiveEnv("BENCH_LATENCY_CONNECTIONS", 1);
const SECONDS = positiveEnv("BENCH_SECONDS", 8);
const ADMIN = "bench-admin-token-0001";
const brokerBin = fileURLToPath(new URL("../../broker/dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), "mercato-bench-"));
// Node flags for the broker process, e.g. BENCH_BROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
const brokerNodeArgs = (process.env.BENCH_BROKER_NODE_ARGS ?? "").split(" ").filter(Boolean);

try {
  const broker = await start(
    [
      ...brokerNodeArgs,
      brokerBin,
      "--port",
      "0",
      "--dev",
      "--db",
      join(dir, "bench.db"),
      "--log-level",
      "warn",
      "--rate-limit",
      "10000000",
      // One key makes thousands of calls a minute here: keep fraud detection counting, never suspending.
      "--burst-floor",
      "100000000",
      "--admin-token",
      ADMIN,
    ],
    {},
    /listening on (http:\/\/[\d.:]+)/,
  );
  // The bench's own key, for the direct run.
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const benchJwk = { ...publicKey.export({ format: "jwk" }), kid: "bench", alg: "EdDSA", use: "sig" };
  const brokerJwks = await api(broker, "GET", "/.well-known/jwks.json");
  // The seller's account first: its kit serves only this account's listings.
  const owner = await api(broker, "POST", "/accounts", { body: { name: "Bench seller" } });
  const seller = await start(
    [fileURLToPath(new URL("./seller.mjs", import.meta.url))],
    {
      BENCH_BROKER_URL: broker,
      BENCH_OWNER: owner.account_id,
      BENCH_JWKS: JSON.stringify({ keys: [...brokerJwks.keys, benchJwk] }),
    },
    /READY (http:\/\/[\d.:]+)/,
  );

  const buyer = await api(broker, "POST", "/accounts", { body: { name: "Bench buyer" } });
  await api(broker, "POST", "/topups", { key: buyer.api_key, body: { amount_usd: "10000" } });
  const agent = await api(broker, "POST", "/agents/register", {
    key: owner.api_key,
    body: {
      name: "Bench price feed",
      description: "Answers a fixed price",
      category: "crypto",
      tags: ["bench"],
      api_endpoint: `${seller}/agent`,
      pricing: { model: "per_call", price_per_call: "0.001" },
    },
  });
  const { api_key: accessKey } = await api(broker, "POST", "/purchase", {
    key: buyer.api_key,
    body: { agent_id: agent.agent_id },
  });

  let serial = 0;
  const direct = () => {
    const callId = `bench-${process.pid}-${++serial}`;
    const body = JSON.stringify({ input: { symbol: "BTC" }, call_id: callId, timeout_ms: 10_000 });
    const timestamp = Math.floor(Date.now() / 1000);
    const input = callSigningInput({
      method: "POST",
      path: "/agent",
      bodyDigest: createHash("sha256").update(body).digest("base64url"),
      timestamp,
      callId,
      agentId: agent.agent_id,
      agentOwner: owner.account_id,
      priceMicros: 1000,
    });
    return {
      path: "/agent",
      body,
      headers: {
        "content-type": "application/json",
        [CALL_HEADERS.callId]: callId,
        [CALL_HEADERS.timestamp]: String(timestamp),
        [CALL_HEADERS.keyId]: "bench",
        [CALL_HEADERS.signature]: sign(null, Buffer.from(input), privateKey).toString("base64url"),
        [CALL_HEADERS.agentId]: agent.agent_id,
        [CALL_HEADERS.agentOwner]: owner.account_id,
        [CALL_HEADERS.priceMicros]: "1000",
      },
    };
  };
  const invokePath = `/agents/${agent.agent_id}/invoke`;
  const invokeBody = JSON.stringify({ input: { symbol: "BTC" } });
  const proxied = () => ({
    path: invokePath,
    body: invokeBody,
    headers: { "content-type": "application/json", authorization: `Bearer ${accessKey}` },
  });

  const run = (label, origin, request, connections) =>
    measure(label, (durationMs) => runLoad({ origin, connections, durationMs, request }), SECONDS);

  console.log(
    `invoke proxy bench: ${SECONDS} s per run, trivial seller behind @mercato/seller-kit (node adapter)\n`,
  );
  const directLoaded = await run(`direct, ${CONNECTIONS} connections`, seller, direct, CONNECTIONS);
  const proxyLoaded = await run(`through broker, ${CONNECTIONS} connections`, broker, proxied, CONNECTIONS);
  const directSerial = await run(
    `direct, ${LATENCY_CONNECTIONS} connection(s)`,
    seller,
    direct,
    LATENCY_CONNECTIONS,
  );
  const proxySerial = await run(
    `through broker, ${LATENCY_CONNECTIONS} connection(s)`,
    broker,
    proxied,
    LATENCY_CONNECTIONS,
  );

  console.log(
    `\nthroughput kept through the proxy: ${((proxyLoaded.rps / directLoaded.rps) * 100).toFixed(0)}% (aim ≥ 33%)` +
      `\nlatency the proxy adds at p50: ${fmt(proxySerial.p50 - directSerial.p50)} at ${LATENCY_CONNECTIONS} connection(s), ` +
      `${fmt(proxyLoaded.p50 - directLoaded.p50)} at ${CONNECTIONS} (aim < 1 ms)`,
  );

  const audit = await api(broker, "GET", "/admin/audit", { key: ADMIN });
  const charged = Number(audit.totals.revenue_usd) / 0.0001;
  console.log(
    `ledger audit: ${audit.ok ? "ok" : "VIOLATIONS"}, ${Math.round(charged)} charges captured, ${audit.transfers} transfers`,
  );
  if (!audit.ok) {
    console.error(audit.violations);
    process.exitCode = 1;
  }
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
