// Issue 17, section 2: the contract is enforced. A real broker (SQLite, its grant sweeper running),
// sellers behind the real seller kit registered with the schemas their kits serve, and buyers on
// the real SDK, in proxy mode and in direct mode. Every rule is checked with the money to the micro,
// and the ledger audit closes the file.
import type { Clock, Store } from "@mercato/broker";
import { isMercatoError, type MercatoError, parseUsd, splitCharge } from "@mercato/protocol";
import { createClient, fetchKitContract } from "@mercato/sdk";
import { type SellerKit, sellerKit } from "@mercato/seller-kit";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as z from "zod";
import { settledGrant, signUpAccount, type TestAccount } from "./broker-api.js";
import { type RunningSeller, startSeller } from "./sellers.js";
import { startTestMarket, type TestMarket } from "./test-market.js";

const ADMIN = "e2e-admin-token-contracts";
const PRICE = "0.004";
const PRICE_MICROS = 4_000;
let market: TestMarket;
let store: Store;
let brokerUrl: string;
const clock: Clock = { now: () => new Date() };
let owner: TestAccount;
const running: RunningSeller[] = [];
const kits: SellerKit[] = [];

const api = (method: string, path: string, options: { key?: string; body?: unknown } = {}) =>
  market.api(method, path, options);
const micros = (usd: string) => Number(parseUsd(usd));
const share = (charge: number) => Number(splitCharge(BigInt(charge)).sellerShare);
const available = async (account: TestAccount) =>
  micros((await api("GET", "/balance", { key: account.apiKey })).json.available_usd);
const earnings = async () => micros((await api("GET", "/balance", { key: owner.apiKey })).json.earnings_usd);

const Input = z.object({ symbol: z.string().regex(/^[A-Z]{2,6}$/), garbage: z.boolean().optional() });
const Output = z.object({ symbol: z.string(), price_usd: z.string().min(1) });

/**
 * A price feed behind the kit: on `{garbage: true}` its handler answers `{price: 1}`, which the
 * contract forbids. With `declareOutput` the kit knows its output schema (and catches that itself);
 * without, the listing still carries the schema, as a seller that changed its handler would have.
 */
async function startFeed(category: string, options: { declareOutput: boolean; direct?: boolean }) {
  const state = { agentId: undefined as string | undefined, runs: 0 };
  const kit = sellerKit({
    broker: brokerUrl,
    owner: owner.accountId,
    onError: () => {},
    input: Input,
    ...(options.declareOutput && { output: Output }),
    ...(options.direct && { direct: { agentId: () => state.agentId, redeemIntervalMs: 3_600_000 } }),
    handler: async (input: z.infer<typeof Input>) => {
      state.runs++;
      return (input.garbage ? { price: 1 } : { symbol: input.symbol, price_usd: "64000.00" }) as z.infer<
        typeof Output
      >;
    },
  });
  kits.push(kit);
  const seller = await startSeller(kit, "node");
  running.push(seller);
  // The schemas the kit derives from its zod schemas; the output schema always comes from `Output`.
  const contract = await fetchKitContract(seller.url);
  const registered = await api("POST", "/agents/register", {
    key: owner.apiKey,
    body: {
      name: `Contract feed ${category}`,
      description: "Spot prices, with a contract",
      category,
      tags: ["prices"],
      api_endpoint: seller.url,
      pricing: { model: "per_call", price_per_call: PRICE },
      input_schema: contract.input_schema,
      output_schema: z.toJSONSchema(Output, { target: "draft-2020-12" }),
    },
  });
  expect(registered.status, JSON.stringify(registered.json)).toBe(201);
  state.agentId = registered.json.agent_id as string;
  return { kit, agentId: state.agentId, state };
}

/** A buyer with $1.00 of test money in its wallet, and its SDK client. */
async function fundedBuyer(name: string) {
  const buyer = await signUpAccount(brokerUrl, name, {
    store,
    micros: 1_000_000,
    at: clock.now().toISOString(),
  });
  return { buyer, client: createClient({ baseUrl: brokerUrl, apiKey: buyer.apiKey }) };
}

/** Waits until the broker's 24-hour figures of `agentId` show `figures` (it records in batches). */
async function expectMetrics(agentId: string, figures: Record<string, number>) {
  await vi.waitFor(
    async () => {
      const metrics = (await api("GET", `/agents/${agentId}/metrics?window=24h`)).json;
      expect(metrics).toMatchObject(figures);
    },
    { timeout: 60_000, interval: 50 },
  );
}

/**
 * Calls `category` with `client.call()` in direct mode once per entry of `garbage` (asking for
 * garbage or not): each call's outcome (`true`, or its attempts' codes) and the grants that paid.
 */
async function directCalls(
  client: ReturnType<typeof createClient>,
  category: string,
  garbage: boolean[],
  retries: number,
) {
  const grants: string[] = [];
  const outcomes: (string | true)[] = [];
  for (const wanted of garbage) {
    try {
      const result = await client.call({
        category,
        mode: "direct",
        retries,
        explore: 0,
        input: { symbol: "ETH", garbage: wanted },
      });
      expect(result.output).toEqual({ symbol: "ETH", price_usd: "64000.00" });
      if (result.mode === "direct" && !grants.includes(result.grantId)) grants.push(result.grantId);
      outcomes.push(true);
    } catch (error) {
      const attempts = ((error as MercatoError).details?.attempts ?? []) as { code?: string }[];
      outcomes.push(attempts.map((attempt) => attempt.code).join(","));
    }
  }
  return { grants, outcomes };
}

async function failure(promise: Promise<unknown>): Promise<MercatoError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isMercatoError(error)) throw new Error(`expected a MercatoError, got ${String(error)}`);
  return error;
}

beforeAll(async () => {
  market = await startTestMarket({
    name: "contracts-e2e",
    adminToken: ADMIN,
    clock,
    // Grants settle when a test says so (settleClosedGrants), once the kit's claims are in: with a
    // sweeper, a grant closed mid-test could settle before a slow machine flushed the kit.
    sweeper: false,
  });
  ({ store, url: brokerUrl } = market);
  owner = await signUpAccount(brokerUrl, "Contract seller");
});

afterAll(async () => {
  await market.expectCleanAudit();
  await Promise.all(kits.map((kit) => kit.close()));
  await Promise.all(running.map((seller) => seller.close()));
  await market.close();
});

describe("the contract, through the broker's proxy", () => {
  it("input outside the input schema: 400 with the issues, nothing held, the seller never called; then a good call is charged once", async () => {
    const feed = await startFeed("contracts-input", { declareOutput: true });
    const { buyer, client } = await fundedBuyer("Careless buyer");
    const before = await available(buyer);
    const earnedBefore = await earnings();

    for (const input of [{ symbol: "btc" }, { symbol: 7 }, {}]) {
      const error = await failure(client.invoke(feed.agentId, input));
      expect(error.code).toBe("VALIDATION_ERROR");
      expect(error.details?.reason).toBe("input_schema");
      expect(error.details?.issues).toEqual(
        expect.arrayContaining([expect.objectContaining({ path: expect.any(String) })]),
      );
    }
    expect(feed.state.runs).toBe(0);
    expect(await available(buyer)).toBe(before);
    const listed = (await api("GET", "/transactions?role=buyer", { key: buyer.apiKey })).json;
    expect(listed.data).toEqual([]);

    const paid = await client.invoke(feed.agentId, { symbol: "BTC" });
    expect(paid.output).toEqual({ symbol: "BTC", price_usd: "64000.00" });
    expect(paid.cost_usd).toBe("0.004000");
    expect(before - (await available(buyer))).toBe(PRICE_MICROS);
    expect((await earnings()) - earnedBefore).toBe(share(PRICE_MICROS));

    // The refusals are the buyer's (client errors), the answer the seller's success.
    await expectMetrics(feed.agentId, { calls: 1, successes: 1, client_errors: 3 });
  });

  it("a 2xx outside the output schema is the seller's failure: voided, not charged, SELLER_ERROR output_schema", async () => {
    // The kit does not know the schema the listing carries: the broker is the one that catches it.
    const feed = await startFeed("contracts-output", { declareOutput: false });
    const { buyer, client } = await fundedBuyer("Buyer of garbage");
    const before = await available(buyer);
    const earnedBefore = await earnings();

    const error = await failure(client.invoke(feed.agentId, { symbol: "BTC", garbage: true }));
    expect(error.code).toBe("SELLER_ERROR");
    expect(error.details).toMatchObject({ reason: "output_schema", cost_usd: "0.000000" });
    expect(error.details?.issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: expect.any(String) })]),
    );
    expect(feed.state.runs).toBe(1);
    const transaction = (
      await api("GET", `/transactions/${error.details?.transaction_id as string}`, { key: buyer.apiKey })
    ).json;
    expect(transaction).toMatchObject({ status: "voided", amount_usd: "0.000000" });
    expect(await available(buyer)).toBe(before);
    expect(await earnings()).toBe(earnedBefore);

    await expectMetrics(feed.agentId, { calls: 1, successes: 0, client_errors: 0 });
  });

  it("the seller's own refusal reaches the buyer in details.seller_error, and costs nothing", async () => {
    const feed = await startFeed("contracts-refusal", { declareOutput: true });
    // The listing drops its input schema: the kit's own check is the one that refuses now.
    const patched = await api("PATCH", `/agents/${feed.agentId}`, {
      key: owner.apiKey,
      body: { input_schema: null },
    });
    expect(patched.status, JSON.stringify(patched.json)).toBe(200);
    const { buyer, client } = await fundedBuyer("Buyer who reads errors");
    const before = await available(buyer);

    const error = await failure(client.invoke(feed.agentId, { symbol: "bitcoin" }));
    expect(error.code).toBe("SELLER_ERROR");
    const sellerError = error.details?.seller_error as { code: string; message: string; issues?: unknown[] };
    expect(sellerError.code).toBe("VALIDATION_ERROR");
    expect(sellerError.message.length).toBeGreaterThan(0);
    expect(sellerError.issues?.length).toBeGreaterThan(0);
    expect(feed.state.runs).toBe(0);
    expect(await available(buyer)).toBe(before);
  });
});

describe("the contract, in direct mode", () => {
  it("the kit catches its own handler's garbage before counting the call: the buyer pays price × useful answers", async () => {
    const feed = await startFeed("contracts-direct-kit", { declareOutput: true, direct: true });
    const { buyer, client } = await fundedBuyer("Direct buyer");
    const before = await available(buyer);
    const earnedBefore = await earnings();
    const { grants, outcomes } = await directCalls(
      client,
      "contracts-direct-kit",
      [false, true, false, true, false],
      0,
    );
    // The kit answered the garbage calls with its own output_schema failure: nothing to pay.
    expect(outcomes).toEqual([true, "SELLER_ERROR", true, "SELLER_ERROR", true]);
    expect(feed.state.runs).toBe(5);
    expect(grants).toHaveLength(1);
    const [grantId] = grants as [string];

    await feed.kit.flush();
    await client.close();
    await market.settleClosedGrants();
    const grant = await settledGrant(brokerUrl, grantId, buyer.apiKey);
    const charge = 3 * PRICE_MICROS;
    expect(micros(grant.captured_usd)).toBe(charge);
    expect(before - (await available(buyer))).toBe(charge);
    expect((await earnings()) - earnedBefore).toBe(share(charge));
    await market.expectCleanAudit();
  });

  it("the SDK checks the output itself when the kit does not: the garbage is refused, and the kit keeps at most its one prepaid price per grant", async () => {
    const feed = await startFeed("contracts-direct-sdk", { declareOutput: false, direct: true });
    const { buyer, client } = await fundedBuyer("Wary direct buyer");
    const before = await available(buyer);
    const { grants, outcomes } = await directCalls(
      client,
      "contracts-direct-sdk",
      [false, true, false, false],
      1,
    );
    // The SDK refused the garbage (a failed call, failed over on a fresh grant for the next one):
    // three useful answers.
    expect(outcomes).toEqual([true, "SELLER_ERROR", true, true]);
    expect(feed.state.runs).toBe(4);
    // The kit, not checking its output, counted the garbage as earned, and the buyer's voucher had
    // prepaid it: that one price is what such a seller can keep, once per grant. Its count then runs
    // ahead of the buyer's vouchers, so it refuses the grant's next call, and the SDK opens a new
    // grant: 2 grants, 4 prices for 3 useful answers. (An honest kit declares its output schema and
    // claims nothing for it: the test above.)
    expect(grants).toHaveLength(2);
    await feed.kit.flush();
    await client.close();
    await market.settleClosedGrants();
    let captured = 0;
    for (const grantId of grants) {
      captured += micros((await settledGrant(brokerUrl, grantId, buyer.apiKey)).captured_usd);
    }
    expect(captured).toBe(4 * PRICE_MICROS);
    expect(before - (await available(buyer))).toBe(4 * PRICE_MICROS);
    await market.expectCleanAudit();
  });
});
