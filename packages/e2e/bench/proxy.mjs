// The invoke proxy's benchmark. In one run: a trivial seller behind the seller kit, called
// directly and through the broker (every charge durable: SQLite in WAL with synchronous=FULL), each
// under the same closed-loop load; prints throughput, p50/p90/p99 latency, and what the proxy adds.
//
//   npm run bench -w @mercato/e2e        (after `npm run build`)
//   BENCH_CONNECTIONS=64 BENCH_SECONDS=10 BENCH_LATENCY_CONNECTIONS=1 to change the load.
// Then the cost of contracts: the same 1 KB record in and out through two listings of one seller,
// one without schemas and one with a 20-property input and output schema, in interleaved rounds
// (BENCH_CONTRACT_ROUNDS, default 3, of BENCH_CONTRACT_SECONDS, default 4, each way).
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkContractSchema, createContractCompiler } from "@mercato/broker/internal";
import { CALL_HEADERS, callSigningInput } from "@mercato/protocol";
import { measure, runLoad } from "./load.mjs";
import { api, BENCH_ADMIN, BENCH_BROKER_FLAGS, fmt, positiveEnv, start, stopAll } from "./processes.mjs";

const CONNECTIONS = positiveEnv("BENCH_CONNECTIONS", 32);
const LATENCY_CONNECTIONS = positiveEnv("BENCH_LATENCY_CONNECTIONS", 1);
const SECONDS = positiveEnv("BENCH_SECONDS", 8);
const CONTRACT_ROUNDS = positiveEnv("BENCH_CONTRACT_ROUNDS", 3);
const CONTRACT_SECONDS = positiveEnv("BENCH_CONTRACT_SECONDS", 4);
const brokerBin = fileURLToPath(new URL("../../broker/dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), "mercato-bench-"));
// Node flags for the broker process, e.g. BENCH_BROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
const brokerNodeArgs = (process.env.BENCH_BROKER_NODE_ARGS ?? "").split(" ").filter(Boolean);

try {
  const broker = await start(
    [...brokerNodeArgs, brokerBin, ...BENCH_BROKER_FLAGS, "--db", join(dir, "bench.db")],
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

  const run = (label, origin, request, connections, seconds = SECONDS) =>
    measure(label, (durationMs) => runLoad({ origin, connections, durationMs, request }), seconds);

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

  await benchContracts({ broker, seller, owner, buyer, run });

  const audit = await api(broker, "GET", "/admin/audit", { key: BENCH_ADMIN });
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

/**
 * Validation's share of proxy throughput: a 1 KB input and its 1 KB echo through a listing without
 * schemas and one with a 20-property input and output schema, rounds interleaved (the order
 * alternating) so that drift on the machine falls on both alike. Aim: at most 5% fewer calls.
 */
async function benchContracts({ broker, seller, owner, buyer, run }) {
  const properties = Object.fromEntries(
    Array.from({ length: 20 }, (_, i) => [
      `field${i}`,
      i % 4 === 0
        ? { type: "string", maxLength: 100, pattern: "^[a-z0-9 ]*$" }
        : i % 4 === 1
          ? { type: "integer", minimum: 0 }
          : { type: "string", maxLength: 100 },
    ]),
  );
  const schema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "object",
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  };
  const record = Object.fromEntries(
    Object.keys(properties).map((name, i) => [name, i % 4 === 1 ? 1000 + i : `value ${i} ${"x".repeat(41)}`]),
  );
  const register = async (name, schemas) => {
    const agent = await api(broker, "POST", "/agents/register", {
      key: owner.api_key,
      body: {
        name,
        description: "Echoes a 1 KB record",
        category: "bench",
        api_endpoint: `${seller}/agent`,
        pricing: { model: "per_call", price_per_call: "0.001" },
        ...schemas,
      },
    });
    const { api_key } = await api(broker, "POST", "/purchase", {
      key: buyer.api_key,
      body: { agent_id: agent.agent_id },
    });
    const body = JSON.stringify({ input: record });
    const headers = { "content-type": "application/json", authorization: `Bearer ${api_key}` };
    return () => ({ path: `/agents/${agent.agent_id}/invoke`, body, headers });
  };
  const plain = await register("Bench echo", {});
  const checked = await register("Bench echo with a contract", {
    input_schema: schema,
    output_schema: schema,
  });
  console.log(
    `
contracts: ${Buffer.byteLength(JSON.stringify(record))} bytes in and out, 20-property schemas, ${CONTRACT_ROUNDS} interleaved rounds of ${CONTRACT_SECONDS} s`,
  );
  const without = [];
  const withSchemas = [];
  for (let round = 0; round < CONTRACT_ROUNDS; round++) {
    const pair = [
      [without, `round ${round + 1}: no schemas`, plain],
      [withSchemas, `round ${round + 1}: with schemas`, checked],
    ];
    if (round % 2 === 1) pair.reverse();
    for (const [results, label, request] of pair) {
      results.push(await run(label, broker, request, CONNECTIONS, CONTRACT_SECONDS));
    }
  }
  // The same check in this process, alone: its CPU time per call against the broker's, which is
  // nearly all of one core at this load (1 / calls per second), a figure the machine's noise moves less.
  const compiler = createContractCompiler();
  const check = compiler.compile(JSON.parse(checkContractSchema(schema, "input_schema", compiler)));
  const checks = 20_000;
  for (let i = 0; i < 2_000; i++) check(record);
  const began = performance.now();
  for (let i = 0; i < checks; i++) {
    if (check(record).length > 0 || check(JSON.parse(JSON.stringify(record))).length > 0)
      throw new Error("bench record breaks its schema");
  }
  // Each call checks its input and its output; the copy stands for the output the seller's JSON makes.
  const copy = performance.now();
  for (let i = 0; i < checks; i++) JSON.parse(JSON.stringify(record));
  const perCallUs = ((copy - began - (performance.now() - copy)) / checks) * 1000;
  const total = (results) => results.reduce((sum, r) => sum + r.rps, 0);
  const cost = 1 - total(withSchemas) / total(without);
  const perRound = withSchemas.map((r, i) => `${((1 - r.rps / without[i].rps) * 100).toFixed(1)}%`);
  console.log(
    `throughput lost to validation: ${(cost * 100).toFixed(1)}% over all rounds (per round: ${perRound.join(", ")}; aim ≤ 5%)`,
  );
  const perCallBrokerUs = 1e6 / (total(without) / without.length);
  console.log(
    `validation alone: ${perCallUs.toFixed(1)} µs per call (input and output), ${((perCallUs / perCallBrokerUs) * 100).toFixed(1)}% of the ${perCallBrokerUs.toFixed(0)} µs a proxied call takes at this load`,
  );
}
