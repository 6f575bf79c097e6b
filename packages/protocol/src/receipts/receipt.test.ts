import { describe, expect, it } from "vitest";
import { isMercatoError } from "../errors/mercato-error.js";
import { type ReceiptPayloadValue, signReceipt, verifyReceipt } from "./receipt.js";

const payload: ReceiptPayloadValue = {
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
};

async function keyPair(kid: string) {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const { x } = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as { x: string };
  return {
    privateKey: pair.privateKey,
    jwk: { kty: "OKP", crv: "Ed25519", x, kid, alg: "EdDSA", use: "sig" } as const,
  };
}

const codeOf = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isMercatoError(error) ? `${error.code}: ${error.message}` : error;
};

describe("receipts", () => {
  it("round-trips: a signed receipt verifies against its key and returns the payload", async () => {
    const { privateKey, jwk } = await keyPair("k1");
    const receipt = await signReceipt(payload, privateKey, "k1");
    expect(receipt.jws.split(".")).toHaveLength(3);
    expect(await verifyReceipt(receipt, { keys: [jwk] })).toEqual(payload);
    expect(await verifyReceipt(receipt.jws, { keys: [jwk] })).toEqual(payload);
  });

  it("finds the signing key among several by kid, and refuses an unknown kid", async () => {
    const old = await keyPair("old");
    const current = await keyPair("current");
    const receipt = await signReceipt(payload, old.privateKey, "old");
    expect(await verifyReceipt(receipt, { keys: [current.jwk, old.jwk] })).toEqual(payload);
    expect(await codeOf(verifyReceipt(receipt, { keys: [current.jwk] }))).toMatch(
      /VALIDATION_ERROR: .*unknown key/,
    );
  });

  it("refuses a signature by another key under the same kid, a changed payload, and garbage", async () => {
    const real = await keyPair("k1");
    const impostor = await keyPair("k1");
    const receipt = await signReceipt(payload, impostor.privateKey, "k1");
    expect(await codeOf(verifyReceipt(receipt, { keys: [real.jwk] }))).toMatch(/does not verify/);

    const genuine = await signReceipt(payload, real.privateKey, "k1");
    const [header, , signature] = genuine.jws.split(".");
    const inflated = btoa(JSON.stringify({ ...payload, amount_usd: "2.000000" })).replace(/=+$/, "");
    expect(await codeOf(verifyReceipt(`${header}.${inflated}.${signature}`, { keys: [real.jwk] }))).toMatch(
      /does not verify/,
    );
    expect(
      await codeOf(
        verifyReceipt({ ...genuine, payload: { ...payload, fee_usd: "0" } }, { keys: [real.jwk] }),
      ),
    ).toMatch(/payload other than the one signed/);
    for (const junk of ["", "a.b", "a.b.c", "!!.??.**", `${header}.e30.${signature}`]) {
      expect(await codeOf(verifyReceipt(junk, { keys: [real.jwk] }))).toMatch(/^VALIDATION_ERROR/);
    }
  });
});
