import { type CallKeyResolver, SellerCallRequest, type VerifiedCall } from "@mercato/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { createListingMatcher } from "../listing/index.js";
import {
  brokerKey,
  callBody,
  NOW,
  signedHeaders,
  TEST_AGENT,
  TEST_OWNER,
  type TestBrokerKey,
} from "../testing/index.js";
import { createBrokerKeyResolver, createReplayGuard } from "../verification/index.js";
import { checkListing } from "./listing-check.js";
import { checkReplay } from "./replay-check.js";
import { checkSignedCallId, verifiedCallInfo, verifySignature } from "./signature.js";

const encoder = new TextEncoder();

let key: TestBrokerKey;
let resolveKey: CallKeyResolver;
beforeAll(async () => {
  key = await brokerKey("k1");
  resolveKey = createBrokerKeyResolver({ jwks: key.jwks, now: () => NOW });
});

const verified: VerifiedCall = {
  callId: "call_1",
  timestamp: NOW / 1000,
  kid: "k1",
  agentId: TEST_AGENT,
  agentOwner: TEST_OWNER,
  priceMicros: 20_000,
};

async function signedCall(callId: string) {
  const body = callBody(callId);
  const headers = await signedHeaders({ key, callId, body });
  return {
    method: "POST",
    target: "/agent",
    headers: (name: string) => headers[name],
    body: encoder.encode(body),
  };
}

describe("verifySignature", () => {
  it("answers the signed facts of a call the broker signed", async () => {
    const call = await signedCall("call_1");
    const facts = await verifySignature(call, { resolveKey, windowSeconds: 300, now: () => NOW });
    expect(facts).toMatchObject({ callId: "call_1", kid: "k1", agentId: TEST_AGENT, agentOwner: TEST_OWNER });
    expect(verifiedCallInfo(facts)).toEqual({
      kid: "k1",
      timestamp: NOW / 1000,
      agentId: TEST_AGENT,
      agentOwner: TEST_OWNER,
      priceMicros: 20_000,
    });
  });

  it("throws 401 stale for a signature outside the window", async () => {
    const call = await signedCall("call_1");
    await expect(
      verifySignature(call, { resolveKey, windowSeconds: 300, now: () => NOW + 301_000 }),
    ).rejects.toMatchObject({ status: 401, details: { reason: "stale" } });
  });
});

describe("checkListing", () => {
  it("refuses, wrong_listing, a call for a listing the kit does not serve", () => {
    const listing = createListingMatcher({ owner: TEST_OWNER, required: true });
    expect(checkListing(listing, verified)).toBeUndefined();
    const refusal = checkListing(listing, { ...verified, agentId: "agent_other", agentOwner: "acct_other" });
    expect(refusal?.details).toMatchObject({ reason: "wrong_listing", agent_id: "agent_other" });
  });
});

describe("checkReplay", () => {
  it("refuses, replayed, a call id it has remembered within the window", () => {
    const replay = createReplayGuard(300);
    expect(checkReplay(replay, verified, NOW)).toBeUndefined();
    const refusal = checkReplay(replay, verified, NOW);
    expect(refusal?.status).toBe(401);
    expect(refusal?.details).toEqual({ reason: "replayed" });
    expect(checkReplay(replay, { ...verified, callId: "call_2" }, NOW)).toBeUndefined();
  });
});

describe("checkSignedCallId", () => {
  it("refuses a body whose call_id is not the signed one", () => {
    const request = SellerCallRequest.parse(JSON.parse(callBody("call_1")));
    expect(checkSignedCallId(verified, request)).toBeUndefined();
    const refusal = checkSignedCallId({ ...verified, callId: "call_2" }, request);
    expect(refusal?.status).toBe(401);
    expect(refusal?.details).toEqual({ reason: "bad_signature" });
  });
});
