import {
  DIRECT_HEADERS,
  ErrorEnvelopeSchema,
  formatUsd,
  generateBuyerKeyPair,
  MercatoError,
  parseUsd,
} from "@mercato/protocol";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import * as z from "zod";
import type { SellerCallContext, SellerKitOptions, SellerKitResponse } from "../core/index.js";
import { type SellerKit, sellerKit } from "../kit/index.js";
import {
  AGENT_ID,
  brokerKey,
  callBody,
  type DirectRequest,
  directRequest,
  NOW,
  PRICE_MICROS,
  signedHeaders,
  type TestBrokerKey,
  type TestGrant,
  testGrant,
} from "../testing/index.js";
import type { FetchLike } from "../verification/index.js";

let key: TestBrokerKey;
let impostor: TestBrokerKey;
beforeAll(async () => {
  key = await brokerKey("k1");
  // Another key pair published under the same kid: grants signed by it must not verify.
  impostor = await brokerKey("k1");
});

const kits: SellerKit[] = [];
afterEach(async () => {
  await Promise.all(kits.splice(0).map((kit) => kit.close()));
  vi.restoreAllMocks();
});

/** Answers every redemption `open`, recording the requests (these tests do not look at them). */
const quietBroker = vi.fn<FetchLike>(async () => ({
  ok: true,
  status: 200,
  json: async () => ({ status: "open" }),
}));

/** A direct-mode kit for {@link AGENT_ID}, verifying with the test key, on the fixed clock. */
function directKit(options: Partial<SellerKitOptions> = {}): SellerKit {
  const kit = sellerKit({
    broker: "https://broker.example",
    jwks: key.jwks,
    fetch: quietBroker,
    now: () => NOW,
    handler: () => ({ price: 64_000 }),
    direct: { agentId: AGENT_ID },
    ...options,
  } as SellerKitOptions);
  kits.push(kit);
  return kit;
}

interface Answer extends SellerKitResponse {
  json: unknown;
}

const encoder = new TextEncoder();

async function send(kit: SellerKit, request: DirectRequest, signal?: AbortSignal): Promise<Answer> {
  const answer = await kit.handle({
    method: "POST",
    target: "/agent",
    headers: (name) => request.headers[name],
    body: encoder.encode(request.body),
    signal,
  });
  return { ...answer, json: JSON.parse(answer.body) };
}

/** Sends call `sequence` of `grant` with a voucher owing `owedMicros`. */
async function call(
  kit: SellerKit,
  grant: TestGrant,
  sequence: number,
  owedMicros: number,
  options: Parameters<typeof directRequest>[3] = {},
): Promise<Answer> {
  return send(kit, await directRequest(grant, sequence, owedMicros, options));
}

/** The error of an answer, checked against the envelope; with its status and `details.reason`. */
function refusal(answer: Answer) {
  const { error } = ErrorEnvelopeSchema.parse(answer.json);
  return { status: answer.status, code: error.code, reason: error.details?.reason, details: error.details };
}

describe("direct calls: admission", () => {
  it("serves an honest buyer's prepaid calls, failures unpaid, and redeems what it earned: price × successes", async () => {
    const seen: SellerCallContext[] = [];
    const kit = directKit({
      handler: (input: unknown, context: SellerCallContext) => {
        seen.push(context);
        if (input === "fail") throw new Error("the seller's bug");
        return { echo: input };
      },
      onError: () => undefined,
    });
    const grant = await testGrant(key);
    const inputs = ["a", "fail", "b", "c", "fail", "d"];
    let successes = 0;
    for (const [index, input] of inputs.entries()) {
      // The honest SDK's voucher owes the successes it saw before this call, and this call.
      const answer = await call(kit, grant, index + 1, (successes + 1) * PRICE_MICROS, { input });
      if (input === "fail") {
        expect(refusal(answer)).toMatchObject({ status: 500, code: "INTERNAL_ERROR" });
      } else {
        expect(answer.status).toBe(200);
        expect(answer.json).toEqual({ output: { echo: input } });
        successes++;
      }
    }
    expect(successes).toBe(4);
    expect(seen.map((context) => context.direct)).toEqual(
      inputs.map((_input, index) => ({
        grantId: grant.grantId,
        buyerId: "acct_buyer0001",
        sequence: index + 1,
      })),
    );
    expect(seen[0]).toMatchObject({ callId: `${grant.grantId}:1`, timeoutMs: 5000, verified: undefined });

    // The voucher of call 7 pays for the 4 successes and itself: 0.10 USD. It succeeds; call 8,
    // prepaid at 0.12 USD, fails.
    expect((await call(kit, grant, 7, 5 * PRICE_MICROS, { input: "e" })).status).toBe(200);
    successes++;
    expect(refusal(await call(kit, grant, 8, 6 * PRICE_MICROS, { input: "fail" }))).toMatchObject({
      status: 500,
    });
    quietBroker.mockClear();
    expect(await kit.flush()).toEqual({ redeemed: 1, failed: 0, reported: 0 });
    const [url, init] = quietBroker.mock.calls[0] ?? [];
    expect(url).toBe(`https://broker.example/grants/${grant.grantId}/redeem`);
    const redeemed = JSON.parse(init?.body ?? "{}") as {
      sequence: number;
      owed_usd: string;
      earned_usd: string;
    };
    // The best voucher, and what the seller earned: not the prepaid unit of the failed last call.
    expect(redeemed).toMatchObject({ sequence: 8, owed_usd: "0.120000", earned_usd: "0.100000" });
    expect(Number(parseUsd(redeemed.earned_usd))).toBe(successes * PRICE_MICROS);
    expect(kit.stats()).toMatchObject({
      calls: 8,
      successes: 5,
      failures: 3,
      rejected: 0,
      direct: { calls: 8, refused: 0, grants: 1 },
    });
  });

  it("answers 401 voucher_bad_signature to a voucher signed with another key, without running the handler", async () => {
    const handler = vi.fn();
    const kit = directKit({ handler });
    const grant = await testGrant(key);
    const thief = await generateBuyerKeyPair();
    const answer = await call(kit, grant, 1, PRICE_MICROS, { signer: thief.privateKey });
    expect(refusal(answer)).toMatchObject({
      status: 401,
      code: "UNAUTHENTICATED",
      reason: "voucher_bad_signature",
    });
    expect(handler).not.toHaveBeenCalled();
    expect(kit.stats()).toMatchObject({ calls: 0, rejected: 1, direct: { calls: 0, refused: 1 } });
  });

  it("answers 409 voucher_replayed to a voucher sent again, and runs the handler once", async () => {
    const handler = vi.fn(() => "ok");
    const kit = directKit({ handler });
    const grant = await testGrant(key);
    const request = await directRequest(grant, 1, PRICE_MICROS);
    expect((await send(kit, request)).status).toBe(200);
    expect(refusal(await send(kit, request))).toMatchObject({
      status: 409,
      code: "CONFLICT",
      reason: "voucher_replayed",
    });
    // A lower sequence is a replay too, even with a fresh signature.
    expect((await call(kit, grant, 3, 2 * PRICE_MICROS)).status).toBe(200);
    expect(refusal(await call(kit, grant, 2, 3 * PRICE_MICROS)).reason).toBe("voucher_replayed");
    expect(handler).toHaveBeenCalledTimes(2);
  });

  it("answers 402 voucher_over_budget to a voucher owing more than the budget", async () => {
    const handler = vi.fn();
    const kit = directKit({ handler });
    const grant = await testGrant(key, { budget_usd: "0.100000" });
    const answer = await call(kit, grant, 1, 100_001);
    expect(refusal(answer)).toMatchObject({
      status: 402,
      code: "BUDGET_EXCEEDED",
      reason: "voucher_over_budget",
      details: { owed_micros: 100_001, budget_micros: 100_000 },
    });
    expect(handler).not.toHaveBeenCalled();
    // Exactly the budget is fine as a voucher: it prepays this call (and more).
    expect((await call(kit, grant, 1, 100_000)).status).toBe(200);
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it("answers 401 grant_expired to an expired grant, also when its verification was cached", async () => {
    let clock = NOW;
    const handler = vi.fn(() => "ok");
    const kit = directKit({ handler, now: () => clock });
    const expired = await testGrant(key, {
      issued_at: new Date(NOW - 7_200_000).toISOString(),
      expires_at: new Date(NOW - 1).toISOString(),
    });
    expect(refusal(await call(kit, expired, 1, PRICE_MICROS))).toMatchObject({
      status: 401,
      reason: "grant_expired",
    });

    const grant = await testGrant(key, { expires_at: new Date(NOW + 60_000).toISOString() });
    expect((await call(kit, grant, 1, PRICE_MICROS)).status).toBe(200);
    clock = NOW + 60_000; // expires_at ≤ now is expired
    expect(refusal(await call(kit, grant, 2, 2 * PRICE_MICROS))).toMatchObject({
      status: 401,
      code: "UNAUTHENTICATED",
      reason: "grant_expired",
    });
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it("answers 401 grant_wrong_agent to a grant for another agent", async () => {
    const handler = vi.fn();
    const kit = directKit({ handler });
    const grant = await testGrant(key, { agent_id: "agent_someoneelse" });
    expect(refusal(await call(kit, grant, 1, PRICE_MICROS))).toMatchObject({
      status: 401,
      code: "UNAUTHENTICATED",
      reason: "grant_wrong_agent",
    });
    expect(handler).not.toHaveBeenCalled();
  });

  it("asks agentId() on each call, refusing direct_not_accepted while it answers undefined", async () => {
    let registered: string | undefined;
    const kit = directKit({ direct: { agentId: () => registered } });
    const grant = await testGrant(key);
    expect(refusal(await call(kit, grant, 1, PRICE_MICROS))).toMatchObject({
      status: 401,
      reason: "direct_not_accepted",
    });
    registered = AGENT_ID;
    expect((await call(kit, grant, 2, PRICE_MICROS)).status).toBe(200);
    registered = "agent_renamed01";
    expect(refusal(await call(kit, grant, 3, 2 * PRICE_MICROS)).reason).toBe("grant_wrong_agent");
  });

  it("answers 401 call_id_mismatch when the body's call_id is not {grant}:{sequence}", async () => {
    const handler = vi.fn();
    const kit = directKit({ handler });
    const grant = await testGrant(key);
    for (const callId of [`${grant.grantId}:2`, "txn_1", `grt_other0001:1`]) {
      const error = refusal(await call(kit, grant, 1, PRICE_MICROS, { callId }));
      expect(error).toMatchObject({ status: 401, code: "UNAUTHENTICATED", reason: "call_id_mismatch" });
    }
    expect(handler).not.toHaveBeenCalled();
    // Refused before the ledger: the voucher is still good.
    expect((await call(kit, grant, 1, PRICE_MICROS)).status).toBe(200);
  });

  it("answers 402 payment_behind with owed_usd = the price to a grant's first call on a voucher owing 0, without running the handler", async () => {
    const handler = vi.fn(() => "ok");
    const kit = directKit({ handler });
    const grant = await testGrant(key);
    expect(refusal(await call(kit, grant, 1, 0))).toMatchObject({
      status: 402,
      code: "BUDGET_EXCEEDED",
      reason: "payment_behind",
      details: { owed_usd: formatUsd(PRICE_MICROS) },
    });
    expect(handler).not.toHaveBeenCalled();
    expect(kit.stats()).toMatchObject({ calls: 0, rejected: 1, direct: { calls: 0, refused: 1 } });
    expect((await call(kit, grant, 2, PRICE_MICROS)).status).toBe(200);
    // The buyer's next voucher does not prepay call 3: refused, the handler does not run.
    expect(refusal(await call(kit, grant, 3, PRICE_MICROS))).toMatchObject({
      status: 402,
      code: "BUDGET_EXCEEDED",
      reason: "payment_behind",
      details: { owed_usd: formatUsd(PRICE_MICROS) },
    });
    expect(handler).toHaveBeenCalledTimes(1);
    expect((await call(kit, grant, 4, 2 * PRICE_MICROS)).status).toBe(200);
    expect(handler).toHaveBeenCalledTimes(2);
  });

  it("answers 402 grant_spent when the budget does not cover another call", async () => {
    const kit = directKit();
    const grant = await testGrant(key, { budget_usd: "0.040000" });
    expect((await call(kit, grant, 1, PRICE_MICROS)).status).toBe(200);
    expect((await call(kit, grant, 2, 2 * PRICE_MICROS)).status).toBe(200);
    // Two successes have spent the budget: no voucher within it can prepay a third call.
    expect(refusal(await call(kit, grant, 3, 2 * PRICE_MICROS))).toMatchObject({
      status: 402,
      code: "BUDGET_EXCEEDED",
      reason: "grant_spent",
      details: { owed_usd: formatUsd(PRICE_MICROS) },
    });
  });

  it("answers 409 call_in_flight to a call arriving while another of the grant runs", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handler = vi.fn(async (input: unknown) => {
      if (input === "slow") await gate;
      return input;
    });
    const kit = directKit({ handler });
    const grant = await testGrant(key);
    const slow = call(kit, grant, 1, PRICE_MICROS, { input: "slow" });
    await vi.waitFor(() => expect(handler).toHaveBeenCalledTimes(1), { timeout: 60_000 });
    expect(refusal(await call(kit, grant, 2, PRICE_MICROS, { input: "fast" }))).toMatchObject({
      status: 409,
      code: "CONFLICT",
      reason: "call_in_flight",
    });
    release();
    expect((await slow).json).toEqual({ output: "slow" });
    // Sequence 2 was used up by the refused call; the next voucher pays for call 1 and itself.
    expect((await call(kit, grant, 3, 2 * PRICE_MICROS, { input: "after" })).json).toEqual({
      output: "after",
    });
    expect(handler).toHaveBeenCalledTimes(2);
    expect(kit.stats().direct).toMatchObject({ calls: 2, refused: 1 });
  });

  it("answers 504 SELLER_TIMEOUT to a handler that ends after timeout_ms, and does not count it owed", async () => {
    const onError = vi.fn();
    const kit = directKit({
      handler: async (input: unknown, { signal }: SellerCallContext) => {
        if (input === "ignores the signal") await new Promise((resolve) => setTimeout(resolve, 60));
        if (input === "obeys the signal") {
          await new Promise((_resolve, reject) =>
            signal.addEventListener("abort", () => reject(signal.reason)),
          );
        }
        return "late";
      },
      onError,
    });
    const grant = await testGrant(key);
    for (const [sequence, input] of [
      [1, "ignores the signal"],
      [2, "obeys the signal"],
    ] as const) {
      const answer = await call(kit, grant, sequence, PRICE_MICROS, { input, timeoutMs: 20 });
      expect(refusal(answer)).toMatchObject({ status: 504, code: "SELLER_TIMEOUT" });
    }
    // Neither call is earned: their prepaid unit carries over to the next voucher, which is admitted.
    expect((await call(kit, grant, 3, PRICE_MICROS, { input: "quick" })).json).toEqual({ output: "late" });
    expect(refusal(await call(kit, grant, 4, PRICE_MICROS)).details).toMatchObject({
      reason: "payment_behind",
      owed_usd: "0.020000",
    });
    expect(onError).not.toHaveBeenCalled();
    expect(kit.stats()).toMatchObject({ calls: 3, successes: 1, failures: 2 });
  });

  it("counts as failures, not owed, an invalid input and a handler's 4xx", async () => {
    const kit = directKit({
      input: z.object({ symbol: z.string() }),
      handler: (input: unknown) => {
        const { symbol } = input as { symbol: string };
        if (symbol === "XYZ") throw new MercatoError("NOT_FOUND", "No such symbol");
        return symbol;
      },
    });
    const grant = await testGrant(key);
    expect(refusal(await call(kit, grant, 1, PRICE_MICROS, { input: { symbol: 1 } }))).toMatchObject({
      status: 400,
      code: "VALIDATION_ERROR",
    });
    expect(refusal(await call(kit, grant, 2, PRICE_MICROS, { input: { symbol: "XYZ" } }))).toMatchObject({
      status: 404,
      code: "NOT_FOUND",
    });
    // Neither was earned: the same prepaid unit pays for the third call.
    expect((await call(kit, grant, 3, PRICE_MICROS, { input: { symbol: "BTC" } })).json).toEqual({
      output: "BTC",
    });
    expect(refusal(await call(kit, grant, 4, PRICE_MICROS)).reason).toBe("payment_behind");
  });

  it("counts a call whose caller went away as a failure: it will not pay for it", async () => {
    const gone = new AbortController();
    const kit = directKit({
      handler: () => {
        gone.abort();
        return "unseen";
      },
    });
    const grant = await testGrant(key);
    await send(kit, await directRequest(grant, 1, PRICE_MICROS), gone.signal);
    // The next voucher carrying the same prepaid unit is admitted: the ledger counted no success.
    expect((await call(kit, grant, 2, PRICE_MICROS)).status).toBe(200);
    expect(refusal(await call(kit, grant, 3, PRICE_MICROS)).details).toMatchObject({
      reason: "payment_behind",
    });
  });

  it.each<[string, (grant: TestGrant) => Promise<Record<string, string>>, string]>([
    [
      "a grant signed by another key under the broker's kid",
      async (grant) => ({
        [DIRECT_HEADERS.grant]: (await testGrant(impostor, { grant_id: grant.grantId })).token,
      }),
      "grant_bad_signature",
    ],
    [
      "a grant signed by an unknown key",
      async () => ({ [DIRECT_HEADERS.grant]: (await testGrant(await brokerKey("k9"))).token }),
      "grant_unknown_key",
    ],
    ["a grant that is no JWS", async () => ({ [DIRECT_HEADERS.grant]: "not.a-grant" }), "grant_malformed"],
    ["no voucher", async () => ({ [DIRECT_HEADERS.voucher]: "" }), "voucher_malformed"],
    ["a malformed voucher", async () => ({ [DIRECT_HEADERS.voucher]: "seq=1;owed=0" }), "voucher_malformed"],
    [
      "a voucher whose amount was changed",
      async (grant) => {
        const { headers } = await directRequest(grant, 1, PRICE_MICROS);
        return {
          [DIRECT_HEADERS.voucher]: (headers[DIRECT_HEADERS.voucher] as string).replace(
            `owed=${PRICE_MICROS}`,
            `owed=${PRICE_MICROS + 1}`,
          ),
        };
      },
      "voucher_bad_signature",
    ],
    [
      "a voucher the same buyer signed for another grant",
      async (grant) => {
        const sibling = await testGrant(key, {}, grant.buyer);
        return {
          [DIRECT_HEADERS.voucher]: (await directRequest(sibling, 1, PRICE_MICROS)).headers[
            DIRECT_HEADERS.voucher
          ] as string,
        };
      },
      "voucher_bad_signature",
    ],
  ])("answers 401 to %s", async (_label, tamper, reason) => {
    const handler = vi.fn();
    const kit = directKit({ handler });
    const grant = await testGrant(key);
    const request = await directRequest(grant, 1, PRICE_MICROS);
    const headers = { ...request.headers, ...(await tamper(grant)) };
    expect(refusal(await send(kit, { headers, body: request.body }))).toMatchObject({
      status: 401,
      code: "UNAUTHENTICATED",
      reason,
    });
    expect(handler).not.toHaveBeenCalled();
  });

  it("verifies a grant's broker signature once per token, and the voucher on every call", async () => {
    const kit = directKit();
    const grant = await testGrant(key);
    const verify = vi.spyOn(crypto.subtle, "verify");
    expect((await call(kit, grant, 1, PRICE_MICROS)).status).toBe(200);
    expect(verify).toHaveBeenCalledTimes(2); // the grant, the voucher
    expect((await call(kit, grant, 2, 2 * PRICE_MICROS)).status).toBe(200);
    expect((await call(kit, grant, 3, 3 * PRICE_MICROS)).status).toBe(200);
    expect(verify).toHaveBeenCalledTimes(4);
  });

  it("answers 503 keys_unavailable when the broker's keys cannot be loaded", async () => {
    const onError = vi.fn();
    const handler = vi.fn();
    const kit = directKit({
      jwks: undefined,
      fetch: async () => {
        throw new TypeError("fetch failed");
      },
      handler,
      onError,
    });
    const grant = await testGrant(key);
    expect(refusal(await call(kit, grant, 1, PRICE_MICROS))).toMatchObject({
      status: 503,
      code: "SERVICE_UNAVAILABLE",
      reason: "keys_unavailable",
    });
    expect(onError).toHaveBeenCalledWith(
      expect.objectContaining({ code: "SERVICE_UNAVAILABLE" }),
      expect.objectContaining({ stage: "verification" }),
    );
    expect(handler).not.toHaveBeenCalled();
  });

  it("answers 413 to a direct call over maxBodyBytes", async () => {
    const kit = directKit({ maxBodyBytes: 64 });
    const grant = await testGrant(key);
    const answer = await call(kit, grant, 1, PRICE_MICROS, { input: "x".repeat(100) });
    expect(refusal(answer)).toMatchObject({ status: 413, code: "PAYLOAD_TOO_LARGE" });
  });

  it("checks direct calls with verify: false too", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const handler = vi.fn();
    const kit = directKit({ verify: false, handler });
    const grant = await testGrant(key);
    const thief = await generateBuyerKeyPair();
    expect(refusal(await call(kit, grant, 1, PRICE_MICROS, { signer: thief.privateKey })).reason).toBe(
      "voucher_bad_signature",
    );
    expect(refusal(await call(kit, await testGrant(impostor), 1, PRICE_MICROS)).reason).toBe(
      "grant_bad_signature",
    );
    expect(handler).not.toHaveBeenCalled();
  });

  it("still serves calls signed by the broker, on the proxy path", async () => {
    const kit = directKit({
      handler: (_input: unknown, context: SellerCallContext) => context.direct ?? "proxied",
    });
    const body = callBody("txn_1");
    // Signed for the agent the kit serves (direct.agentId).
    const headers = await signedHeaders({ key, callId: "txn_1", body, agentId: AGENT_ID });
    const answer = await kit.handle({
      method: "POST",
      target: "/agent",
      headers: (name) => headers[name],
      body: encoder.encode(body),
    });
    expect(JSON.parse(answer.body)).toEqual({ output: "proxied" });
  });
});

describe("direct calls: the output schema", () => {
  /** A summarizer's honest promise: a summary of at least one character and its word count. */
  const Summary = z.object({ summary: z.string().min(1), words: z.number().int().positive() });

  it("a handler answering garbage its output schema forbids earns nothing: failed, unpaid, not redeemed", async () => {
    const onError = vi.fn();
    let honest = false;
    const kit = directKit({
      output: Summary,
      handler: () => (honest ? { summary: "BTC rallied.", words: 2 } : { summary: "", words: 0 }),
      onError,
    });
    const grant = await testGrant(key);
    // The honest SDK's voucher owes only the successes it saw, plus this call: always one unit here.
    for (const sequence of [1, 2, 3]) {
      const answer = await call(kit, grant, sequence, PRICE_MICROS);
      expect(refusal(answer)).toMatchObject({
        status: 500,
        code: "INTERNAL_ERROR",
        reason: "output_schema",
        details: {
          issues: expect.arrayContaining([expect.objectContaining({ path: "summary" })]),
        },
      });
      expect(answer.body).not.toContain('words":0');
    }
    quietBroker.mockClear();
    // Three prepaid units were sent, none earned: nothing to redeem.
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 0, reported: 0 });
    expect(quietBroker).not.toHaveBeenCalled();
    expect(kit.stats()).toMatchObject({ calls: 3, successes: 0, failures: 3 });
    expect(onError.mock.calls.map(([, context]) => context.stage)).toEqual(["output", "output", "output"]);

    // The same prepaid unit pays for the first honest answer, and only that one is redeemed.
    honest = true;
    expect((await call(kit, grant, 4, PRICE_MICROS)).json).toEqual({
      output: { summary: "BTC rallied.", words: 2 },
    });
    expect(refusal(await call(kit, grant, 5, PRICE_MICROS)).reason).toBe("payment_behind");
    expect(await kit.flush()).toMatchObject({ redeemed: 1 });
    const [, init] = quietBroker.mock.calls[0] ?? [];
    expect(JSON.parse(init?.body ?? "{}")).toMatchObject({
      sequence: 5,
      earned_usd: formatUsd(PRICE_MICROS),
    });
  });

  it("answers the output schema's parsed value: unknown keys dropped, defaults filled in", async () => {
    const kit = directKit({
      output: z.object({ price: z.number(), currency: z.string().default("USD") }),
      handler: () => ({ price: 64_000, secret: "internal" }),
    });
    const grant = await testGrant(key);
    expect((await call(kit, grant, 1, PRICE_MICROS)).json).toEqual({
      output: { price: 64_000, currency: "USD" },
    });
  });
});

describe("direct calls: without direct mode, and options", () => {
  it("answers 401 direct_not_accepted to a direct call when the kit has no direct option", async () => {
    const handler = vi.fn();
    const kit = sellerKit({ jwks: key.jwks, now: () => NOW, handler, owner: "acct_seller001" });
    kits.push(kit);
    const grant = await testGrant(key);
    expect(refusal(await call(kit, grant, 1, PRICE_MICROS))).toMatchObject({
      status: 401,
      code: "UNAUTHENTICATED",
      reason: "direct_not_accepted",
    });
    expect(handler).not.toHaveBeenCalled();
    expect(kit.stats()).toMatchObject({ calls: 0, rejected: 1 });
    expect(kit.stats().direct).toBeUndefined();
    expect(await kit.flush()).toEqual({ redeemed: 0, failed: 0, reported: 0 });
  });

  it.each<[string, Partial<SellerKitOptions>, RegExp]>([
    ["direct without a broker", { jwks: { keys: [] }, direct: { agentId: AGENT_ID } }, /direct mode.*broker/],
    [
      "direct with a broker that is not a URL",
      { jwks: { keys: [] }, broker: "broker.example", direct: { agentId: AGENT_ID } },
      /http\(s\) URL/,
    ],
    ["an empty agentId", { broker: "https://b.example", direct: { agentId: "" } }, /direct.agentId/],
    [
      "a zero redeemIntervalMs",
      { broker: "https://b.example", direct: { agentId: AGENT_ID, redeemIntervalMs: 0 } },
      /direct.redeemIntervalMs/,
    ],
    [
      "an empty apiKey",
      { broker: "https://b.example", direct: { agentId: AGENT_ID, apiKey: "" } },
      /direct.apiKey/,
    ],
  ])("throws VALIDATION_ERROR for %s", (_label, options, message) => {
    const attempt = () => sellerKit({ handler: () => 1, ...options } as SellerKitOptions);
    expect(attempt).toThrow(MercatoError);
    expect(attempt).toThrow(message);
  });
});
