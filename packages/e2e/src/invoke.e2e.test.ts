import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig, type RunningBroker, startBroker } from "@mercato/broker";
import { verifyReceipt } from "@mercato/protocol";
import { type SellerKit, sellerKit } from "@mercato/seller-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import { brokerRequest } from "./broker-api.js";
import {
  ADAPTERS,
  type RunningSeller,
  startRawSeller,
  startRecordingSeller,
  startSeller,
} from "./sellers.js";

const ADMIN = "e2e-admin-token-000001";
let dir: string;
let broker: RunningBroker;
const sellers: RunningSeller[] = [];
let owner: { api_key: string; account_id: string };
let buyer: { api_key: string; account_id: string };

function api(
  method: string,
  path: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  return brokerRequest(broker.url, method, path, options);
}

function kitFor(handler: (input: { symbol: string }) => unknown): SellerKit {
  return sellerKit({
    broker: broker.url,
    owner: owner.account_id,
    input: z.object({ symbol: z.string() }),
    handler: async (input) => handler(input),
    onError: () => {},
  });
}

async function listAgent(endpoint: string, price = "0.02"): Promise<string> {
  const response = await api("POST", "/agents/register", {
    key: owner.api_key,
    body: {
      name: "Price feed",
      description: "Crypto prices",
      category: "crypto",
      tags: ["prices"],
      api_endpoint: endpoint,
      pricing: { model: "per_call", price_per_call: price },
    },
  });
  expect(response.status, JSON.stringify(response.json)).toBe(201);
  return response.json.agent_id;
}

async function purchase(
  agentId: string,
  extra: Record<string, unknown> = {},
): Promise<{ key: string; keyId: string }> {
  const response = await api("POST", "/purchase", {
    key: buyer.api_key,
    body: { agent_id: agentId, plan: "per_call", ...extra },
  });
  expect(response.status).toBe(201);
  return { key: response.json.api_key, keyId: response.json.key.key_id };
}

const invoke = (
  agentId: string,
  key: string,
  body: unknown = { input: { symbol: "BTC" } },
  headers?: Record<string, string>,
) => api("POST", `/agents/${agentId}/invoke`, { key, body, ...(headers && { headers }) });

const available = async () =>
  (await api("GET", "/balance", { key: buyer.api_key })).json.available_usd as string;
const earnings = async () =>
  (await api("GET", "/balance", { key: owner.api_key })).json.earnings_usd as string;

async function running(seller: Promise<RunningSeller>): Promise<RunningSeller> {
  const started = await seller;
  sellers.push(started);
  return started;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mercato-e2e-"));
  broker = await startBroker(
    parseConfig(
      ["--port", "0", "--dev", "--db", join(dir, "e2e.db"), "--log-level", "silent", "--admin-token", ADMIN],
      {},
    ),
    { scheduler: false },
  );
  owner = (await api("POST", "/accounts", { body: { name: "Seller" } })).json;
  buyer = (await api("POST", "/accounts", { body: { name: "Buyer" } })).json;
  expect((await api("POST", "/topups", { key: buyer.api_key, body: { amount_usd: "20" } })).status).toBe(201);
});

afterAll(async () => {
  // The ledger audit holds after every scenario below.
  const audit = await api("GET", "/admin/audit", { key: ADMIN });
  expect(audit.json.violations).toEqual([]);
  expect(audit.json.ok).toBe(true);
  await Promise.all(sellers.map((seller) => seller.close()));
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("purchase → invoke → charge, over real HTTP, for every seller-kit adapter", () => {
  it.each(ADAPTERS)("%s", async (adapter) => {
    const kit = kitFor(({ symbol }) => ({ symbol, price_usd: "64000.00" }));
    const seller = await running(startSeller(kit, adapter));
    const agentId = await listAgent(seller.url);
    const { key } = await purchase(agentId);
    const [before, earnedBefore] = [await available(), await earnings()];

    const response = await invoke(agentId, key);
    expect(response.status, JSON.stringify(response.json)).toBe(200);
    expect(response.json).toMatchObject({
      output: { symbol: "BTC", price_usd: "64000.00" },
      cost: 0.02,
      cost_usd: "0.020000",
      metrics: { seller_id: agentId },
    });
    // The buyer paid 0.02; the seller earned 0.018 after the 10% fee.
    expect(Number(before) - Number(await available())).toBeCloseTo(0.02, 6);
    expect(Number(await earnings()) - Number(earnedBefore)).toBeCloseTo(0.018, 6);
    const jwks = (await api("GET", "/.well-known/jwks.json")).json;
    expect(await verifyReceipt(response.json.receipt, jwks)).toMatchObject({
      amount_usd: "0.020000",
      fee_usd: "0.002000",
      seller_share_usd: "0.018000",
    });
    expect(kit.stats()).toMatchObject({ calls: 1, successes: 1, failures: 0, rejected: 0 });

    // Input the seller's schema refuses is a failed call: 502, no charge.
    const bad = await invoke(agentId, key, { input: { symbol: 42 } });
    expect(bad.status).toBe(502);
    expect(bad.json.error.details).toMatchObject({
      seller_status: 400,
      seller_error_code: "VALIDATION_ERROR",
    });
    expect(Number(before) - Number(await available())).toBeCloseTo(0.02, 6);
  });
});

describe("failed calls cost nothing", () => {
  it.each([
    [
      "the seller's handler throws (500)",
      async () =>
        (
          await running(
            startSeller(
              kitFor(() => {
                throw new Error("db down");
              }),
              "node",
            ),
          )
        ).url,
      502,
      "SELLER_ERROR",
    ],
    [
      "the seller answers invalid JSON",
      async () => (await running(startRawSeller(200, "<html>not json</html>"))).url,
      502,
      "SELLER_ERROR",
    ],
    [
      "the seller times out",
      async () =>
        (
          await running(
            startSeller(
              kitFor(() => new Promise((resolve) => setTimeout(resolve, 2000))),
              "node",
            ),
          )
        ).url,
      504,
      "SELLER_TIMEOUT",
    ],
    [
      "the seller refuses connections",
      async () => {
        const gone = await startRawSeller(200, "{}");
        await gone.close();
        return gone.url;
      },
      503,
      "SELLER_UNAVAILABLE",
    ],
  ])("when %s", async (_name, endpoint, status, code) => {
    const agentId = await listAgent(await endpoint());
    const { key } = await purchase(agentId);
    const before = await available();
    const response = await invoke(agentId, key, { input: { symbol: "BTC" }, timeout_ms: 500 });
    expect(response.status).toBe(status);
    expect(response.json.error.code).toBe(code);
    const transaction = await api("GET", `/transactions/${response.json.error.details.transaction_id}`, {
      key: buyer.api_key,
    });
    expect(transaction.json.status).toBe("voided");
    expect(await available()).toBe(before);
  });
});

describe("keys", () => {
  it("refuses an unpurchased agent (403), a revoked key (401) and a key over its rate limit (429)", async () => {
    const seller = await running(
      startSeller(
        kitFor(({ symbol }) => ({ symbol })),
        "node",
      ),
    );
    const agentId = await listAgent(seller.url);
    const otherId = await listAgent(seller.url);
    const { key, keyId } = await purchase(agentId, { rate_limit: 3 });

    const unpurchased = await invoke(otherId, key);
    expect(unpurchased.status).toBe(403);
    expect(unpurchased.json.error.code).toBe("AGENT_NOT_PURCHASED");

    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await invoke(agentId, key));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers[3]?.json.error.code).toBe("RATE_LIMITED");
    expect(Number(answers[3]?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(answers[3]?.headers.get("ratelimit-remaining")).toBe("0");

    expect((await api("DELETE", `/keys/${keyId}`, { key: buyer.api_key })).status).toBe(200);
    const revoked = await invoke(agentId, key);
    expect(revoked.status).toBe(401);
    expect(revoked.json.error.code).toBe("INVALID_API_KEY");
  });
});

describe("Idempotency-Key", () => {
  it("sent 10 times at once: one seller call, one charge, ten identical answers", async () => {
    const kit = kitFor(async ({ symbol }) => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { symbol, at: Math.random() };
    });
    const seller = await running(startSeller(kit, "node"));
    const agentId = await listAgent(seller.url);
    const { key } = await purchase(agentId);
    const before = await available();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        invoke(agentId, key, { input: { symbol: "ETH" } }, { "idempotency-key": "e2e-retry-1" }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((a) => JSON.stringify(a.json))).size).toBe(1);
    expect(kit.stats().calls).toBe(1);
    expect(Number(before) - Number(await available())).toBeCloseTo(0.02, 6);
    const transactions = await api("GET", "/transactions?role=buyer&limit=100", { key: buyer.api_key });
    const charges = transactions.json.data.filter(
      (t: { id: string }) => t.id === answers[0]?.json.transaction_id,
    );
    expect(charges).toHaveLength(1);
  });
});

describe("the seller kit refuses calls the broker did not sign", () => {
  it("rejects a forged, a tampered and a replayed signature, and the handler never runs", async () => {
    let handled = 0;
    const kit = sellerKit({
      broker: broker.url,
      owner: owner.account_id,
      handler: async () => {
        handled++;
        return { ok: true };
      },
    });
    const seller = await running(startRecordingSeller(kit));
    const agentId = await listAgent(seller.url);
    const { key } = await purchase(agentId);
    expect((await invoke(agentId, key)).status).toBe(200);
    expect(handled).toBe(1);
    const [signed] = (
      seller as RunningSeller & {
        recorded: { target: string; headers: Record<string, string>; body: Buffer }[];
      }
    ).recorded;
    if (!signed) throw new Error("the seller saw no call");
    const send = (headers: Record<string, string>, body: string) =>
      fetch(seller.url, { method: "POST", headers, body }).then(async (r) => ({
        status: r.status,
        json: await r.json(),
      }));
    const headers = {
      "content-type": "application/json",
      ...Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name.startsWith("mercato-"))),
    };

    // The same signed request again: a replay.
    const replayed = await send(headers, signed.body.toString());
    expect(replayed.status).toBe(401);
    expect(replayed.json.error.details.reason).toBe("replayed");
    // The signed headers on another body: the digest no longer matches.
    const tampered = await send(headers, signed.body.toString().replace('"BTC"', '"ETH"'));
    expect(tampered.status).toBe(401);
    expect(tampered.json.error.details.reason).toBe("bad_signature");
    // A signature made up by someone without the broker's key.
    const forged = await send(
      {
        ...headers,
        "mercato-call-id": "forged-1",
        "mercato-signature-v2": Buffer.alloc(64, 7).toString("base64url"),
      },
      signed.body.toString(),
    );
    expect(forged.status).toBe(401);
    // No signature at all.
    expect((await send({ "content-type": "application/json" }, signed.body.toString())).status).toBe(401);
    expect(handled).toBe(1);
    expect(kit.stats().rejected).toBe(4);
  });
});
