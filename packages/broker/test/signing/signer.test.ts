import { createHash, createPublicKey, verify } from "node:crypto";
import { CALL_HEADERS, callSigningInput, LEGACY_CALL_SIGNATURE_HEADER } from "@mercato/protocol";
import { describe, expect, it } from "vitest";
import { createSqliteStore } from "../../src/app/sqlite-store.js";
import { createManualClock } from "../../src/platform/clock.js";
import { createReceiptSigner } from "../../src/signing/signer.js";

describe("the receipt signer", () => {
  it("makes one key on an empty store, and a second broker on the store signs with it", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    const clock = createManualClock(new Date("2026-03-01T00:00:00.000Z"));
    const first = createReceiptSigner(store, clock);
    const second = createReceiptSigner(store, clock);
    const [a] = (await first.jwks()).keys;
    expect((await second.jwks()).keys).toEqual([a]);
    const headers = await second.signCall({
      method: "POST",
      path: "/x",
      body: "{}",
      callId: "c1",
      timestamp: 1,
      agentId: "agent_1",
      agentOwner: "acct_1",
      priceMicros: 20_000,
    });
    expect(Object.values(headers)).toContain(a?.kid);
    await store.close();
  });

  it("signs the retired v1 scheme too, in its own header, only when asked (a listing in its grace period)", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    const signer = createReceiptSigner(store, createManualClock(new Date("2026-03-01T00:00:00.000Z")));
    const [jwk] = (await signer.jwks()).keys;
    const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk?.x }, format: "jwk" });
    const call = {
      method: "POST",
      path: "/agent?x=1",
      body: '{"input":null,"call_id":"c1","timeout_ms":1000}',
      callId: "c1",
      timestamp: 1_800_000_000,
      agentId: "agent_1",
      agentOwner: "acct_1",
      priceMicros: 20_000,
    };
    const digest = createHash("sha256").update(call.body).digest("base64url");
    const v1Input = ["mercato-call-v1", "POST", "/agent?x=1", digest, "1800000000", "c1"].join("\n");
    const valid = (input: string, signature: string | undefined) =>
      signature !== undefined &&
      verify(null, Buffer.from(input), publicKey, Buffer.from(signature, "base64url"));

    const current = await signer.signCall(call);
    expect(current[LEGACY_CALL_SIGNATURE_HEADER]).toBeUndefined();
    expect(valid(callSigningInput({ ...call, bodyDigest: digest }), current[CALL_HEADERS.signature])).toBe(
      true,
    );

    const both = await signer.signCall({ ...call, legacy: true });
    expect(valid(v1Input, both[LEGACY_CALL_SIGNATURE_HEADER])).toBe(true);
    expect(valid(callSigningInput({ ...call, bodyDigest: digest }), both[CALL_HEADERS.signature])).toBe(true);
    await store.close();
  });

  it("publishes keys other brokers added to the store at once", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    const clock = createManualClock(new Date("2026-03-01T00:00:00.000Z"));
    const signer = createReceiptSigner(store, clock);
    expect((await signer.jwks()).keys).toHaveLength(1);
    // Another process, racing on an empty database, stored a key of its own.
    await store.insertSigningKey({
      kid: "mk-other-process",
      privateJwk: "{}",
      publicJwk: JSON.stringify({ x: "b3RoZXI" }),
      createdAt: "2026-03-01T00:00:01.000Z",
    });
    expect((await signer.jwks()).keys.map((key) => key.kid)).toContain("mk-other-process");
    await store.close();
  });
});
