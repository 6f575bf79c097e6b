// Direct mode's benchmark. In one run, the same handler served three ways under the same closed-loop
// load: unwrapped (a bare node:http server), behind the seller kit in direct mode (a broker-signed
// grant and a buyer-signed voucher checked on every call), and through the broker's invoke proxy (a
// durable charge per call, SQLite). Direct mode is measured twice: with vouchers signed before the
// run (the seller's cost alone, what the "≥ 80% of unwrapped" aim is about), and through the SDK's
// sessions (the buyer signing each voucher too, on the same two cores). All of it for two handlers:
// a trivial one (the kit's fixed cost per call laid bare) and one that waits 5 ms for an upstream
// (what an agent's service usually does). Then every grant is closed and settled, and the money is
// checked: each grant captured price × its calls, the ledger audit holds.
//
//   npm run bench:direct -w @mercato/e2e        (after `npm run build`)
//   BENCH_CONNECTIONS=32 BENCH_SECONDS=8 BENCH_UPSTREAM_MS=0,5 to change the load and handlers.
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DIRECT_HEADERS, directCallId, formatVoucherHeader, voucherSigningInput } from "@mercato/protocol";
import { createClient } from "@mercato/sdk";
import { measure, runLoad, runLoops } from "./load.mjs";
import { api, BENCH_ADMIN, BENCH_BROKER_FLAGS, positiveEnv, start, stopAll } from "./processes.mjs";

const CONNECTIONS = positiveEnv("BENCH_CONNECTIONS", 32);
const SECONDS = positiveEnv("BENCH_SECONDS", 8);
const PRICE_MICROS = 1_000; // 0.001 USD a call
const brokerBin = fileURLToPath(new URL("../../broker/dist/bin.js", import.meta.url));
const sellerScript = fileURLToPath(new URL("./direct-seller.mjs", import.meta.url));
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), "mercato-bench-direct-"));
const INPUT = { symbol: "BTC" };
const UPSTREAM_MS = (process.env.BENCH_UPSTREAM_MS ?? "0,5").split(",").map(Number);

try {
  const broker = await start(
    [
      brokerBin,
      ...BENCH_BROKER_FLAGS,
      ...["--db", join(dir, "bench.db")],
      // The bench's buyer is a new account spending thousands of USD today.
      ...["--new-account-daily-limit", "0"],
      // Grants settle one second after their close: the bench checks the money at the end.
      ...["--grant-grace", "1"],
    ],
    {},
    /listening on (http:\/\/[\d.:]+)/,
  );
  const owner = await api(broker, "POST", "/accounts", { body: { name: "Bench seller" } });
  const buyer = await api(broker, "POST", "/accounts", { body: { name: "Bench buyer" } });
  await api(broker, "POST", "/topups", { key: buyer.api_key, body: { amount_usd: "10000" } });
  const grants = [];
  const sessions = [];
  const clients = [];

  /** The four measurements for a handler that waits `upstreamMs` before it answers. */
  const compare = async (upstreamMs) => {
    const agent = await api(broker, "POST", "/agents/register", {
      key: owner.api_key,
      body: {
        name: `Bench price feed (${upstreamMs} ms upstream)`,
        description: "Answers a fixed price",
        category: "crypto",
        tags: ["bench"],
        api_endpoint: "http://127.0.0.1:9/agent",
        pricing: { model: "per_call", price_per_call: PRICE_MICROS / 1e6 },
      },
    });
    const upstream = { BENCH_UPSTREAM_MS: String(upstreamMs) };
    const plain = await start(
      [sellerScript],
      { ...upstream, BENCH_MODE: "plain" },
      /READY (http:\/\/[\d.:]+)/,
    );
    const kit = await start(
      [sellerScript],
      { ...upstream, BENCH_MODE: "kit", BENCH_BROKER_URL: broker, BENCH_AGENT_ID: agent.agent_id },
      /READY (http:\/\/[\d.:]+)/,
    );
    await api(broker, "PATCH", `/agents/${agent.agent_id}`, {
      key: owner.api_key,
      body: { api_endpoint: `${kit}/agent` },
    });
    const { api_key: accessKey } = await api(broker, "POST", "/purchase", {
      key: buyer.api_key,
      body: { agent_id: agent.agent_id },
    });

    console.log(`\nhandler: ${upstreamMs === 0 ? "trivial" : `waits ${upstreamMs} ms for an upstream`}`);

    // 1. The handler unwrapped.
    let serial = 0;
    const plainCall = () => ({
      path: "/agent",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: INPUT, call_id: `plain-${++serial}`, timeout_ms: 10_000 }),
    });
    const unwrapped = await measure(
      "unwrapped handler",
      (durationMs) => runLoad({ origin: plain, connections: CONNECTIONS, durationMs, request: plainCall }),
      SECONDS,
    );

    // 2. Direct mode through the seller kit, vouchers signed beforehand: one grant per connection
    // (calls of a grant go one at a time), each voucher paying for every call before it.
    // Enough for the warm-up and the run at up to 15,000 calls/s (an Ed25519 verification per call
    // bounds direct mode well below that on two cores); more are signed during the run if needed.
    const perGrant = Math.ceil((Math.min(unwrapped.rps, 15_000) * (SECONDS + 1) * 1.2) / CONNECTIONS) + 100;
    let signedDuringRun = 0;
    const profileGrants = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const keys = generateKeyPairSync("ed25519");
      const grant = await api(broker, "POST", "/grants", {
        key: accessKey,
        body: {
          agent_id: agent.agent_id,
          budget_usd: ((perGrant * PRICE_MICROS) / 1e6).toFixed(6),
          ttl_s: 3600,
          buyer_public_key: keys.publicKey.export({ format: "jwk" }).x,
        },
      });
      // Prepaid: call n's voucher owes n calls (every call succeeds); the final voucher owes the calls made.
      const voucher = (sequence, owedMicros = sequence * PRICE_MICROS) => {
        const claim = { grantId: grant.grant_id, sequence, owedMicros };
        const signature = sign(null, Buffer.from(voucherSigningInput(claim)), keys.privateKey).toString(
          "base64url",
        );
        return { ...claim, signature };
      };
      const vouchers = Array.from({ length: perGrant }, (_, index) => voucher(index + 1));
      profileGrants.push({ grant, voucher, vouchers, used: 0, accessKey });
    }
    const directCall = (connection) => {
      const state = profileGrants[connection];
      state.used++;
      let voucher = state.vouchers[state.used - 1];
      if (!voucher) {
        signedDuringRun++;
        voucher = state.voucher(state.used);
      }
      return {
        path: "/agent",
        headers: {
          "content-type": "application/json",
          [DIRECT_HEADERS.grant]: state.grant.token,
          [DIRECT_HEADERS.voucher]: formatVoucherHeader(voucher),
        },
        body: JSON.stringify({
          input: INPUT,
          call_id: directCallId(state.grant.grant_id, voucher.sequence),
          timeout_ms: 10_000,
        }),
      };
    };
    const direct = await measure(
      "direct, seller kit (vouchers pre-signed)",
      (durationMs) => runLoad({ origin: kit, connections: CONNECTIONS, durationMs, request: directCall }),
      SECONDS,
    );

    // 3. Direct mode end to end: the SDK's sessions, each signing its vouchers as it calls.
    const client = createClient({
      baseUrl: broker,
      apiKey: buyer.api_key,
      accessKeys: { [agent.agent_id]: accessKey },
    });
    const profileSessions = Array.from({ length: CONNECTIONS }, () =>
      client.openSession(agent.agent_id, { budgetUsd: "50" }),
    );
    const sdk = await measure(
      "direct, SDK session → seller kit",
      (durationMs) =>
        runLoops({
          connections: CONNECTIONS,
          durationMs,
          async call(connection) {
            await profileSessions[connection].call(INPUT);
            return 200;
          },
        }),
      SECONDS,
    );

    // 4. The broker's invoke proxy.
    const invokePath = `/agents/${agent.agent_id}/invoke`;
    const invokeBody = JSON.stringify({ input: INPUT });
    const proxy = await measure(
      "proxy, through the broker",
      (durationMs) =>
        runLoad({
          origin: broker,
          connections: CONNECTIONS,
          durationMs,
          request: () => ({
            path: invokePath,
            body: invokeBody,
            headers: { "content-type": "application/json", authorization: `Bearer ${accessKey}` },
          }),
        }),
      SECONDS,
    );

    grants.push(...profileGrants);
    sessions.push(...profileSessions);
    clients.push(client);
    if (signedDuringRun > 0) console.log(`(${signedDuringRun} vouchers had to be signed during the runs)`);
    console.log(
      `\ndirect mode keeps ${((direct.rps / unwrapped.rps) * 100).toFixed(0)}% of the unwrapped handler's throughput (aim ≥ 80%); ` +
        `through the SDK ${((sdk.rps / unwrapped.rps) * 100).toFixed(0)}%; the proxy ${((proxy.rps / unwrapped.rps) * 100).toFixed(0)}%`,
    );
  };

  console.log(
    `direct mode bench: ${SECONDS} s per run, ${CONNECTIONS} connections, every process on the same 2 cores`,
  );
  for (const upstreamMs of UPSTREAM_MS) await compare(upstreamMs);

  // The money: close every grant with its final voucher, let the broker settle them, check.
  let expected = 0;
  for (const state of grants) {
    const final = state.voucher(state.used + 1, state.used * PRICE_MICROS);
    await api(broker, "POST", `/grants/${state.grant.grant_id}/close`, {
      key: state.accessKey,
      body: {
        sequence: final.sequence,
        owed_usd: (final.owedMicros / 1e6).toFixed(6),
        signature: final.signature,
      },
    });
    expected += final.owedMicros;
  }
  const summaries = await Promise.all(sessions.map((session) => session.close()));
  const sdkGrants = summaries.flatMap((summary) => summary.grants);
  await Promise.all(clients.map((client) => client.close()));
  const deadline = Date.now() + 30_000;
  const ids = [...grants.map((state) => state.grant.grant_id), ...sdkGrants];
  let captured = 0;
  for (const id of ids) {
    for (;;) {
      const grant = await api(broker, "GET", `/grants/${id}`, { key: buyer.api_key });
      if (grant.settled_at) {
        captured += Math.round(Number(grant.captured_usd) * 1e6);
        break;
      }
      if (Date.now() > deadline) throw new Error(`grant ${id} was not settled`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  const sdkCalls = summaries.reduce((sum, summary) => sum + summary.successes, 0);
  expected += sdkCalls * PRICE_MICROS;
  const earnings = await api(broker, "GET", "/balance", { key: owner.api_key });
  const audit = await api(broker, "GET", "/admin/audit", { key: BENCH_ADMIN });
  console.log(
    `settled ${ids.length} grants: captured ${(captured / 1e6).toFixed(6)} USD for ${captured / PRICE_MICROS} direct calls ` +
      `(expected ${(expected / 1e6).toFixed(6)}); seller earnings ${earnings.earnings_usd} USD; ledger audit ${audit.ok ? "ok" : "VIOLATIONS"}`,
  );
  if (captured !== expected || !audit.ok) {
    console.error(audit.violations);
    process.exitCode = 1;
  }
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
