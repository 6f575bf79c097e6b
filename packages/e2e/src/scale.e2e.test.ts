// Three broker processes on one PostgreSQL database and one Redis, behind no balancer: the test
// spreads calls over them itself. Concurrent invokes for one buyer wallet through all three never
// overdraw it nor charge twice, a rate limit holds across them, a revocation through one is seen by
// the others at once, a direct-mode grant redeemed and closed through different brokers is settled
// once by the one broker that sweeps (the leader), and the ledger audit is clean.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { formatUsd, generateBuyerKeyPair, parseUsd, signVoucher } from "@mercato/protocol";
import { sellerKit } from "@mercato/seller-kit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerRequest } from "./broker-api.js";
import { type RunningSeller, startSeller } from "./sellers.js";

const ADMIN = "scale-admin-token-0000001";
const ADMIN_DATABASE_URL = process.env.MERCATO_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.MERCATO_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const BROKER_BIN = fileURLToPath(new URL("../../broker/dist/bin.js", import.meta.url));
// This run's own database and Redis prefix, dropped afterwards: runs never collide.
const RUN = `${process.pid}_${randomBytes(3).toString("hex")}`;
const DATABASE = `mercato_scale_${RUN}`;
// 10 USD (the smallest top-up) buys exactly 50 calls at 0.20.
const PRICE = "0.200000";

const brokers: { process: ChildProcess; url: string }[] = [];
let seller: RunningSeller;
let sellerCalls = 0;

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function startBrokerProcess(): Promise<{ process: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BROKER_BIN], {
    env: {
      PATH: process.env.PATH ?? "",
      PORT: "0",
      MERCATO_DEV: "1",
      MERCATO_ADMIN_TOKEN: ADMIN,
      MERCATO_DATABASE_URL: databaseUrl(DATABASE),
      MERCATO_REDIS_URL: REDIS_URL,
      MERCATO_REDIS_PREFIX: `mercato-scale-${RUN}:`,
      LOG_LEVEL: "warn",
      // Direct-mode grants settle a second after their close (the leading broker sweeps every 5 s).
      MERCATO_GRANT_GRACE_S: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const collect = (chunk: Buffer) => {
      out += chunk.toString();
      const url = out.match(/listening on (http:\/\/\S+)/)?.[1];
      if (url) resolve({ process: child, url });
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on("exit", (code) => reject(new Error(`broker exited with ${code}: ${out}`)));
  });
}

const api = brokerRequest;
let sellerOwner: { api_key: string; account_id: string };
/** How long a broker keeps a key it looked up (the key cache's default). */
const KEY_CACHE_TTL_MS = 5_000;

const on = (n: number) => brokers[n % brokers.length]?.url ?? "";

beforeAll(async () => {
  await admin(`CREATE DATABASE ${DATABASE}`);
  // Three brokers starting at once: they migrate the empty database once between them.
  brokers.push(...(await Promise.all([startBrokerProcess(), startBrokerProcess(), startBrokerProcess()])));
  // The seller's account first: its kit serves only this account's listings.
  sellerOwner = (await api(on(0), "POST", "/accounts", { body: { name: "Scale Seller" } })).json;
  seller = await startSeller(
    sellerKit({
      broker: on(0),
      owner: sellerOwner.account_id,
      handler: async (input) => {
        sellerCalls++;
        return { echo: input };
      },
    }),
    "node",
  );
});

afterAll(async () => {
  await Promise.all(
    brokers.map(
      (broker) =>
        new Promise((resolve) => {
          if (broker.process.exitCode !== null) return resolve(undefined);
          broker.process.once("exit", resolve);
          broker.process.kill("SIGTERM");
        }),
    ),
  );
  await seller?.close();
  await admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
});

describe("three brokers on one PostgreSQL and one Redis", () => {
  let buyerKey = "";
  let agentId = "";

  it("share accounts, agents and keys: what one broker writes, the others read", async () => {
    const owner = sellerOwner;
    const registered = await api(on(1), "POST", "/agents/register", {
      key: owner.api_key,
      body: {
        name: "Scale Echo",
        description: "Echoes its input",
        category: "scale",
        api_endpoint: `${seller.url}/echo`,
        pricing: { model: "per_call", price_per_call: PRICE },
      },
    });
    expect(registered.status).toBe(201);
    agentId = registered.json.agent_id;
    const buyer = (await api(on(2), "POST", "/accounts", { body: { name: "Scale Buyer" } })).json;
    buyerKey = buyer.api_key;
    // The funds run out halfway through the calls below.
    expect(
      (await api(on(0), "POST", "/topups", { key: buyerKey, body: { amount_usd: "10.00" } })).status,
    ).toBe(201);
    for (let n = 0; n < 3; n++) {
      expect((await api(on(n), "GET", `/agents/${agentId}`)).json.name).toBe("Scale Echo");
      expect((await api(on(n), "GET", "/balance", { key: buyerKey })).json.available_usd).toBe("10.000000");
    }
  });

  it("never overdraws the buyer's wallet nor charges twice under concurrent invokes through all three", async () => {
    const access = (
      await api(on(0), "POST", "/purchase", { key: buyerKey, body: { agent_id: agentId, plan: "per_call" } })
    ).json.api_key;
    const before = sellerCalls;
    // 120 distinct calls, each sent twice with the same Idempotency-Key through two different
    // brokers: 240 requests at once for 50 calls' worth of money.
    const requests = Array.from({ length: 240 }, (_, i) => {
      const call = i % 120;
      return api(on(call + (i < 120 ? 0 : 1)), "POST", `/agents/${agentId}/invoke`, {
        key: access,
        // 240 requests at once can keep a busy machine's seller waiting past the default 10 s: that
        // would be a timeout of this test's machine, not what the test is about.
        body: { input: { call }, timeout_ms: 60_000 },
        headers: { "idempotency-key": `scale-call-${call}` },
      });
    });
    const answers = await Promise.all(requests);
    const charged = answers.filter((answer) => answer.status === 200);
    const refused = answers.filter((answer) => answer.status === 402);
    // Every answer is a charge, a refusal for want of money, or the twin of a call answered by the
    // other broker (409: its output is not kept across brokers; it is never charged again).
    // Listed whole on a failure, so that the answer says what went wrong.
    expect(
      answers.filter((answer) => ![200, 402, 409].includes(answer.status)).map((answer) => answer.json),
    ).toEqual([]);
    const transactions = new Set(charged.map((answer) => answer.json.transaction_id));
    expect(transactions.size).toBe(50);
    expect(refused.every((answer) => answer.json.error.code === "INSUFFICIENT_FUNDS")).toBe(true);
    // Twins answered on two brokers name the same transaction: one charge per idempotency key.
    for (const answer of charged) expect(answer.json.cost_usd).toBe(PRICE);
    // A twin that reached another broker while the first was in flight found the hold placed and
    // stopped there: the seller was called once per charge, never twice for one key.
    expect(sellerCalls - before).toBe(50);

    for (let n = 0; n < 3; n++) {
      const balance = (await api(on(n), "GET", "/balance", { key: buyerKey })).json;
      expect(balance).toMatchObject({
        available_usd: formatUsd(parseUsd("10") - 50n * parseUsd(PRICE)),
        held_usd: "0.000000",
        spent_this_month_usd: "10.000000",
      });
    }
    const listed = (await api(on(2), "GET", "/transactions?role=buyer&limit=100", { key: buyerKey })).json
      .data;
    expect(listed.filter((charge: { status: string }) => charge.status === "completed")).toHaveLength(50);
  });

  it("holds one rate limit across all three brokers", async () => {
    expect(
      (await api(on(0), "POST", "/topups", { key: buyerKey, body: { amount_usd: "100.00" } })).status,
    ).toBe(201);
    // Two calls a minute: the allowance refills one call every 30 s, far longer than the burst below
    // takes even on a busy machine, so exactly two are let through. Limits kept per broker would let
    // two through on each broker: six.
    const limited = await api(on(1), "POST", "/purchase", {
      key: buyerKey,
      body: { agent_id: agentId, plan: "per_call", rate_limit: 2 },
    });
    const key = limited.json.api_key;
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        api(on(i), "POST", `/agents/${agentId}/invoke`, { key, body: { input: { limited: i } } }),
      ),
    );
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(2);
    const limitedAnswers = answers.filter((answer) => answer.status === 429);
    expect(limitedAnswers).toHaveLength(10);
    expect(limitedAnswers.every((answer) => answer.json.error.code === "RATE_LIMITED")).toBe(true);
  });

  it("refuses a key revoked through one broker on the others at once (shared key cache)", async () => {
    const bought = (
      await api(on(0), "POST", "/purchase", { key: buyerKey, body: { agent_id: agentId, plan: "per_call" } })
    ).json;
    // Warm every broker's cache with the key.
    for (let n = 0; n < 3; n++) {
      expect(
        (await api(on(n), "POST", `/agents/${agentId}/invoke`, { key: bought.api_key, body: { input: n } }))
          .status,
      ).toBe(200);
    }
    const revokedAt = Date.now();
    expect((await api(on(0), "DELETE", `/keys/${bought.key.key_id}`, { key: buyerKey })).status).toBe(200);
    // The other brokers hear of the revocation through Redis, a moment later on a busy machine: ask
    // until they refuse. Refusals well within the 5-second cache period prove the invalidation was
    // published, not waited out.
    for (let n = 1; n < 3; n++) {
      let refused = await api(on(n), "POST", `/agents/${agentId}/invoke`, {
        key: bought.api_key,
        body: { input: 0 },
      });
      while (refused.status === 200 && Date.now() - revokedAt < KEY_CACHE_TTL_MS - 1_000) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        refused = await api(on(n), "POST", `/agents/${agentId}/invoke`, {
          key: bought.api_key,
          body: { input: 0 },
        });
      }
      expect(refused.status).toBe(401);
      expect(refused.json.error.code).toBe("INVALID_API_KEY");
    }
  });

  it("settles a grant redeemed and closed through different brokers once, whichever broker sweeps", async () => {
    const buyer = (await api(on(0), "POST", "/accounts", { body: { name: "Direct buyer" } })).json;
    await api(on(0), "POST", "/topups", { key: buyer.api_key, body: { amount_usd: "10.00" } });
    const keys = await generateBuyerKeyPair();
    const opened = await api(on(0), "POST", "/grants", {
      key: buyer.api_key,
      body: { agent_id: agentId, budget_usd: "2.00", ttl_s: 600, buyer_public_key: keys.publicKey },
    });
    expect(opened.status).toBe(201);
    const grantId = opened.json.grant_id as string;
    const price = parseUsd(PRICE);
    const voucher = async (sequence: number, calls: bigint) => {
      const signed = await signVoucher(
        { grantId, sequence, owedMicros: Number(calls * price) },
        keys.privateKey,
      );
      return { sequence, owed_usd: formatUsd(calls * price), signature: signed.signature };
    };
    /** A seller's redemption: the voucher of call `sequence`, prepaying `calls`, and `earned` successes. */
    const redemption = async (sequence: number, calls: bigint, earned: bigint) => ({
      ...(await voucher(sequence, calls)),
      earned_usd: formatUsd(earned * price),
    });
    // The seller's redemptions reach two brokers at once; the highest claim counts.
    const [high, low] = await Promise.all([
      api(on(1), "POST", `/grants/${grantId}/redeem`, { body: await redemption(4, 4n, 3n) }),
      api(on(2), "POST", `/grants/${grantId}/redeem`, { body: await redemption(3, 3n, 2n) }),
    ]);
    expect([high.status, low.status]).toEqual([200, 200]);
    const closed = await api(on(2), "POST", `/grants/${grantId}/close`, {
      key: buyer.api_key,
      body: await voucher(6, 4n),
    });
    expect(closed.json).toMatchObject({ status: "closed", redeemed_usd: "0.800000" });
    let settled: Record<string, string> | undefined;
    for (let i = 0; i < 100 && !settled; i++) {
      const grant = (await api(on(i), "GET", `/grants/${grantId}`, { key: buyer.api_key })).json;
      if (grant.settled_at) settled = grant;
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(settled).toMatchObject({ captured_usd: "0.800000" });
    for (let n = 0; n < 3; n++) {
      expect((await api(on(n), "GET", "/balance", { key: buyer.api_key })).json).toMatchObject({
        available_usd: "9.200000",
        held_usd: "0.000000",
      });
    }
    const charge = (await api(on(1), "GET", `/transactions/${grantId}`, { key: buyer.api_key })).json;
    expect(charge).toMatchObject({ status: "completed", amount_usd: "0.800000", fee_usd: "0.080000" });
    const late = await api(on(0), "POST", `/grants/${grantId}/redeem`, {
      body: await redemption(7, 5n, 5n),
    });
    expect(late.status).toBe(409);
    expect(late.json.error.details.reason).toBe("grant_settled");
  });

  it("leaves the ledger audit clean, as every broker sees it", async () => {
    for (let n = 0; n < 3; n++) {
      const audit = await api(on(n), "GET", "/admin/audit", { key: ADMIN });
      expect(audit.status).toBe(200);
      expect(audit.json.ok).toBe(true);
      expect(audit.json.violations).toEqual([]);
    }
  });
});
