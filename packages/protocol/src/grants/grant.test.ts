import { describe, expect, it } from "vitest";
import { createJwksKeyResolver } from "../call-signatures/call-signature.js";
import { brokerKey, DURING, failureOf, grantPayload } from "../direct/test-fixtures.js";
import { base64url, decodeJson, encodeJson, utf8 } from "../encoding.js";
import { isMercatoError } from "../errors/mercato-error.js";
import { signReceipt } from "../receipts/receipt.js";
import { GRANT_TOKEN_TYPE, signGrant, verifyGrant } from "./grant.js";

/** A compact JWS of anything, to reach the checks after the signature. */
async function rawJws(header: unknown, payload: unknown, key: CryptoKey) {
  const input = `${encodeJson(header)}.${encodeJson(payload)}`;
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, key, utf8(input));
  return `${input}.${base64url(new Uint8Array(signature))}`;
}

describe("grant tokens", () => {
  it("round-trip: a signed grant verifies against the broker's JWKS and returns its payload", async () => {
    const { privateKey, jwk } = await brokerKey("k1");
    const payload = grantPayload();
    const signed = await signGrant(payload, privateKey, "k1");
    expect(signed.payload).toEqual(payload);
    const [header] = signed.token.split(".");
    expect(decodeJson(header ?? "")).toEqual({ alg: "EdDSA", typ: GRANT_TOKEN_TYPE, kid: "k1" });
    expect(await verifyGrant(signed.token, { keys: [jwk] }, { now: DURING })).toEqual(payload);
  });

  it("verifies through a JWKS key resolver, and picks the signing key by kid", async () => {
    const old = await brokerKey("old");
    const current = await brokerKey("current");
    const { token } = await signGrant(grantPayload(), old.privateKey, "old");
    const resolve = createJwksKeyResolver({ load: async () => ({ keys: [current.jwk, old.jwk] }) });
    expect((await verifyGrant(token, resolve, { now: DURING })).grant_id).toBe("grt_0123456789ab");
    expect(await verifyGrant(token, { keys: [current.jwk, old.jwk] }, { now: DURING })).toEqual(
      grantPayload(),
    );
  });

  it("refuses a grant from an unknown key", async () => {
    const { privateKey } = await brokerKey("k1");
    const other = await brokerKey("k2");
    const { token } = await signGrant(grantPayload(), privateKey, "k1");
    expect(await failureOf(verifyGrant(token, { keys: [other.jwk] }, { now: DURING }))).toEqual({
      code: "UNAUTHENTICATED",
      status: 401,
      reason: "grant_unknown_key",
    });
  });

  it("refuses a forged grant: signed by another key under the broker's kid", async () => {
    const real = await brokerKey("k1");
    const forger = await brokerKey("k1");
    const { token } = await signGrant(grantPayload({ budget_usd: "1000.000000" }), forger.privateKey, "k1");
    expect(await failureOf(verifyGrant(token, { keys: [real.jwk] }, { now: DURING }))).toMatchObject({
      code: "UNAUTHENTICATED",
      reason: "grant_bad_signature",
    });
  });

  it("refuses a tampered payload (a larger budget, a lower price, another buyer key)", async () => {
    const { privateKey, jwk } = await brokerKey("k1");
    const { token } = await signGrant(grantPayload(), privateKey, "k1");
    const [header, , signature] = token.split(".");
    for (const change of [
      { budget_usd: "100.000000" },
      { price_per_call_usd: "0.000001" },
      { buyer_public_key: "B".repeat(43) },
      { expires_at: "2027-01-01T00:00:00.000Z" },
    ]) {
      const tampered = `${header}.${encodeJson(grantPayload(change))}.${signature}`;
      expect(await failureOf(verifyGrant(tampered, { keys: [jwk] }, { now: DURING }))).toMatchObject({
        reason: "grant_bad_signature",
      });
    }
  });

  it("refuses an expired grant (expires_at ≤ now), unless allowExpired", async () => {
    const { privateKey, jwk } = await brokerKey("k1");
    const { token } = await signGrant(grantPayload(), privateKey, "k1");
    const jwks = { keys: [jwk] };
    const expiry = new Date("2026-03-01T13:00:00.000Z");
    const justBefore = new Date(expiry.getTime() - 1);
    expect((await verifyGrant(token, jwks, { now: justBefore })).grant_id).toBe("grt_0123456789ab");
    for (const now of [expiry, new Date(expiry.getTime() + 1)]) {
      expect(await failureOf(verifyGrant(token, jwks, { now }))).toEqual({
        code: "UNAUTHENTICATED",
        status: 401,
        reason: "grant_expired",
      });
    }
    expect(await verifyGrant(token, jwks, { now: expiry, allowExpired: true })).toEqual(grantPayload());
    // Without `now`, the real clock: this grant expired long ago.
    expect(await failureOf(verifyGrant(token, jwks))).toMatchObject({ reason: "grant_expired" });
  });

  it("refuses malformed tokens and other JWS types, such as a receipt signed by the same key", async () => {
    const { privateKey, jwk } = await brokerKey("k1");
    const jwks = { keys: [jwk] };
    const { token } = await signGrant(grantPayload(), privateKey, "k1");
    const receipt = await signReceipt(
      {
        transaction_id: "txn_1",
        buyer_id: "acct_buyer0001",
        seller_id: "agent_seller01",
        seller_account_id: "acct_seller001",
        agent_id: "agent_seller01",
        amount_usd: "0.020000",
        fee_usd: "0.002000",
        seller_share_usd: "0.018000",
        currency: "USD",
        captured_at: "2026-03-01T12:00:00.000Z",
        issuer: "mercato",
      },
      privateKey,
      "k1",
    );
    const [header, payload, signature] = token.split(".");
    const malformed = [
      "",
      "not a token",
      "a.b",
      "a.b.c.d",
      `${header}.${payload}`,
      `${header}.${payload}.${signature}x`,
      `${header}.${payload}.${signature?.slice(0, 40)}`,
      `${header}.${payload}.${"!".repeat(86)}`,
      `${encodeJson({ alg: "none", typ: GRANT_TOKEN_TYPE, kid: "k1" })}.${payload}.${signature}`,
      `${encodeJson({ alg: "EdDSA", kid: "k1" })}.${payload}.${signature}`,
      `${encodeJson({ alg: "EdDSA", typ: GRANT_TOKEN_TYPE })}.${payload}.${signature}`,
      `not-base64!.${payload}.${signature}`,
      `${token}${"A".repeat(5000)}`,
      receipt.jws,
    ];
    for (const bad of malformed) {
      expect(await failureOf(verifyGrant(bad, jwks, { now: DURING })), bad).toMatchObject({
        code: "UNAUTHENTICATED",
        reason: "grant_malformed",
      });
    }
    expect(await failureOf(verifyGrant(undefined as unknown as string, jwks))).toMatchObject({
      reason: "grant_malformed",
    });
  });

  it("refuses a validly signed token whose payload is not a grant", async () => {
    const { privateKey, jwk } = await brokerKey("k1");
    const header = { alg: "EdDSA", typ: GRANT_TOKEN_TYPE, kid: "k1" };
    for (const payload of [
      { ...grantPayload(), price_per_call_usd: "-0.020000" },
      { ...grantPayload(), budget_usd: "0.000000" },
      { ...grantPayload(), grant_id: "grt_UPPER\nCASE" },
      { ...grantPayload(), buyer_public_key: "short" },
      { ...grantPayload(), expires_at: "2026-03-01T12:00:00.000Z" },
      { ...grantPayload(), issuer: undefined },
      "a string",
      null,
    ]) {
      const token = await rawJws(header, payload, privateKey);
      expect(await failureOf(verifyGrant(token, { keys: [jwk] }, { now: DURING }))).toMatchObject({
        code: "UNAUTHENTICATED",
        reason: "grant_invalid",
      });
    }
  });

  it("signGrant refuses a payload that is not a grant, so the broker never signs one", async () => {
    const { privateKey } = await brokerKey("k1");
    const error = await signGrant(grantPayload({ budget_usd: "1" }), privateKey, "k1").catch(
      (e: unknown) => e,
    );
    expect(isMercatoError(error) && error.code).toBe("VALIDATION_ERROR");
    expect(isMercatoError(error) && error.details).toMatchObject({ path: "budget_usd" });
  });
});
