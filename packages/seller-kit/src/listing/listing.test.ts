import { ErrorEnvelopeSchema, isMercatoError } from "@mercato/protocol";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { SellerCallContext, SellerKitOptions, SellerKitResponse } from "../core/index.js";
import { type SellerKit, sellerKit } from "../kit/index.js";
import {
  brokerKey,
  callBody,
  directRequest,
  NOW,
  PRICE_MICROS,
  signedHeaders,
  TEST_AGENT,
  TEST_OWNER,
  type TestBrokerKey,
  testGrant,
} from "../testing/index.js";

let key: TestBrokerKey;
const kits: SellerKit[] = [];
beforeAll(async () => {
  key = await brokerKey();
});
afterEach(async () => {
  await Promise.all(kits.splice(0).map((kit) => kit.close()));
});

const encoder = new TextEncoder();
const TOKEN = "tok_0123456789abcdefghijkl";

function kitFor(
  options: Partial<SellerKitOptions>,
  handler: (input: unknown, context: SellerCallContext) => unknown = vi.fn(() => "served"),
) {
  const kit = sellerKit({ jwks: key.jwks, now: () => NOW, handler, ...options } as SellerKitOptions);
  kits.push(kit);
  return { kit, handler };
}

async function proxied(kit: SellerKit, listing: { agentId: string; agentOwner: string }, callId: string) {
  const body = callBody(callId);
  const headers = await signedHeaders({ key, callId, body, ...listing });
  return answerOf(
    await kit.handle({
      method: "POST",
      target: "/agent",
      headers: (name) => headers[name],
      body: encoder.encode(body),
    }),
  );
}

function answerOf(answer: SellerKitResponse) {
  const json = JSON.parse(answer.body) as unknown;
  const error = answer.status >= 400 ? ErrorEnvelopeSchema.parse(json).error : undefined;
  return { status: answer.status, json, error };
}

describe("a kit serves only its own listings", () => {
  it("refuses at construction without owner or agents, or with malformed ones", () => {
    const attempt = (options: Partial<SellerKitOptions>) => () =>
      sellerKit({ jwks: key.jwks, handler: () => 1, ...options } as SellerKitOptions);
    for (const [options, message] of [
      [{}, /owner: "acct_…".*or agents/],
      [{ owner: "seller" }, /owner must be your account id/],
      [{ agents: [] }, /agents must list at least one/],
      [{ agents: ["acct_x"] }, /agents must be agent ids/],
    ] as const) {
      let error: unknown;
      try {
        attempt(options)();
      } catch (caught) {
        error = caught;
      }
      expect(isMercatoError(error) && error.code).toBe("VALIDATION_ERROR");
      expect((error as Error).message).toMatch(message);
    }
    // Without verification there is nothing to check calls against: local development only.
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    expect(() => sellerKit({ verify: false, handler: () => 1 })).not.toThrow();
    warn.mockRestore();
  });

  it("refuses a call for another account's listing of this endpoint before the handler runs (an impostor's)", async () => {
    const { kit, handler } = kitFor({ owner: TEST_OWNER });
    const answer = await proxied(kit, { agentId: "agent_impostor", agentOwner: "acct_impostor" }, "txn_imp1");
    expect(answer.status).toBe(401);
    expect(answer.error).toMatchObject({
      code: "UNAUTHENTICATED",
      message:
        "The call is for listing agent_impostor of account acct_impostor, which this seller does not serve",
      details: { reason: "wrong_listing", agent_id: "agent_impostor", agent_owner: "acct_impostor" },
    });
    expect(handler).not.toHaveBeenCalled();
    expect(kit.stats()).toMatchObject({ calls: 0, rejected: 1 });
  });

  it("serves every listing of its owner, and tells the handler which one a call is for", async () => {
    const seen: SellerCallContext[] = [];
    const { kit } = kitFor(
      { owner: TEST_OWNER },
      vi.fn((_input: unknown, context: SellerCallContext) => {
        seen.push(context);
        return "served";
      }),
    );
    for (const [agentId, callId] of [
      [TEST_AGENT, "txn_a"],
      ["agent_second_listing", "txn_b"],
    ] as const) {
      expect((await proxied(kit, { agentId, agentOwner: TEST_OWNER }, callId)).json).toEqual({
        output: "served",
      });
    }
    expect(seen.map((context) => context.verified)).toEqual([
      expect.objectContaining({ agentId: TEST_AGENT, agentOwner: TEST_OWNER, priceMicros: 20_000 }),
      expect.objectContaining({ agentId: "agent_second_listing", agentOwner: TEST_OWNER }),
    ]);
  });

  it("with agents, serves those listings only, even of its own account", async () => {
    const { kit, handler } = kitFor({ agents: [TEST_AGENT] });
    expect((await proxied(kit, { agentId: TEST_AGENT, agentOwner: TEST_OWNER }, "txn_1")).status).toBe(200);
    const other = await proxied(kit, { agentId: "agent_unlisted", agentOwner: TEST_OWNER }, "txn_2");
    expect(other.error?.details).toMatchObject({ reason: "wrong_listing" });
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it("answers the broker's endpoint challenge naming its owner or its agents", async () => {
    const get = async (kit: SellerKit, target: string) =>
      answerOf(await kit.handle({ method: "GET", target, headers: () => undefined, body: new Uint8Array() }));
    const owned = kitFor({ owner: TEST_OWNER }).kit;
    expect(await get(owned, `/agent/.well-known/mercato-challenge/${TOKEN}`)).toMatchObject({
      status: 200,
      json: { token: TOKEN, owner: TEST_OWNER },
    });
    const listed = kitFor({ agents: [TEST_AGENT, "agent_two"] }).kit;
    expect((await get(listed, `/.well-known/mercato-challenge/${TOKEN}?x=1`)).json).toEqual({
      token: TOKEN,
      agents: [TEST_AGENT, "agent_two"],
    });
    expect((await get(owned, "/agent/.well-known/mercato-challenge/short")).status).toBe(405);
  });

  it("applies the same rule to direct grants: one for another account's listing is refused", async () => {
    const broker = { broker: "https://broker.example", fetch: vi.fn(async () => new Response("{}")) };
    const { kit, handler } = kitFor({ owner: TEST_OWNER, direct: {}, ...broker });
    const send = async (grant: Awaited<ReturnType<typeof testGrant>>) => {
      // A prepaid first voucher: it pays for this call.
      const request = await directRequest(grant, 1, PRICE_MICROS);
      return answerOf(
        await kit.handle({
          method: "POST",
          target: "/agent",
          headers: (name) => request.headers[name],
          body: encoder.encode(request.body),
        }),
      );
    };
    const impostor = await send(
      await testGrant(key, { agent_id: "agent_impostor", seller_account_id: "acct_impostor" }),
    );
    expect(impostor.status).toBe(401);
    expect(impostor.error?.details).toMatchObject({ reason: "grant_wrong_agent" });
    expect(impostor.error?.message).toContain("a listing this seller does not serve");
    expect(handler).not.toHaveBeenCalled();
    // The owner's own listing (the grant's seller account) is served.
    expect((await send(await testGrant(key, { seller_account_id: TEST_OWNER }))).status).toBe(200);
  });
});
