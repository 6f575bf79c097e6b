import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base64url, fromBase64url, utf8 } from "../encoding.js";
import { BuyerPublicKey } from "../schemas/grants.js";
import { DIRECT_HEADERS, directCallId } from "./headers.js";
import { failureOf, grantPayload } from "./test-fixtures.js";
import {
  createVoucherVerifier,
  formatVoucherHeader,
  generateBuyerKeyPair,
  parseVoucherHeader,
  signVoucher,
  verifyVoucher,
  voucherSigningInput,
} from "./voucher.js";

const GRANT_ID = "grt_0123456789ab";

async function buyerGrant(overrides: Parameters<typeof grantPayload>[0] = {}) {
  const keys = await generateBuyerKeyPair();
  return { keys, grant: grantPayload({ buyer_public_key: keys.publicKey, ...overrides }) };
}

describe("vouchers", () => {
  it("sign the exact string mercato-voucher-v2\\n{grant_id}\\n{sequence}\\n{owed_micros}", async () => {
    expect(voucherSigningInput({ grantId: GRANT_ID, sequence: 3, owedMicros: 40_000 })).toBe(
      "mercato-voucher-v2\ngrt_0123456789ab\n3\n40000",
    );
    const { keys } = await buyerGrant();
    const voucher = await signVoucher(
      { grantId: GRANT_ID, sequence: 3, owedMicros: 40_000 },
      keys.privateKey,
    );
    const publicKey = await crypto.subtle.importKey(
      "raw",
      fromBase64url(keys.publicKey) as Uint8Array<ArrayBuffer>,
      { name: "Ed25519" },
      false,
      ["verify"],
    );
    const signature = fromBase64url(voucher.signature) as Uint8Array<ArrayBuffer>;
    const input = utf8("mercato-voucher-v2\ngrt_0123456789ab\n3\n40000");
    expect(await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, input)).toBe(true);
  });

  it("never reads a v1 voucher (paid after) as a v2 one (prepaid): its signature does not verify", async () => {
    const { keys, grant } = await buyerGrant();
    // What a buyer on the v1 scheme signed for its grant's first call: owing 0, the call unpaid.
    const v1 = new Uint8Array(
      await crypto.subtle.sign(
        { name: "Ed25519" },
        keys.privateKey,
        utf8(`mercato-voucher-v1\n${GRANT_ID}\n1\n0`),
      ),
    );
    const header = `seq=1;owed=0;sig=${base64url(v1)}`;
    await expect(verifyVoucher(parseVoucherHeader(header), grant)).rejects.toMatchObject({
      code: "UNAUTHENTICATED",
      details: { reason: "voucher_bad_signature" },
    });
    // The same claim signed on v2 verifies: only the scheme differs.
    const v2 = await signVoucher({ grantId: GRANT_ID, sequence: 1, owedMicros: 0 }, keys.privateKey);
    expect(await verifyVoucher(parseVoucherHeader(v2.header), grant)).toMatchObject({
      sequence: 1,
      owedMicros: 0,
    });
  });

  it("generateBuyerKeyPair gives a non-extractable signing key and the 32 raw public bytes, base64url", async () => {
    const keys = await generateBuyerKeyPair();
    expect(keys.privateKey.extractable).toBe(false);
    expect(keys.privateKey.usages).toEqual(["sign"]);
    expect(BuyerPublicKey.safeParse(keys.publicKey).success).toBe(true);
    expect(fromBase64url(keys.publicKey)).toHaveLength(32);
  });

  it("round-trip: sign → header → parse → verify, even a voucher owing 0 (refusing it is the ledger's rule)", async () => {
    const { keys, grant } = await buyerGrant();
    const voucher = await signVoucher({ grantId: GRANT_ID, sequence: 1, owedMicros: 0 }, keys.privateKey);
    expect(voucher.header).toBe(`seq=1;owed=0;sig=${voucher.signature}`);
    expect(voucher.header).toMatch(/^seq=1;owed=0;sig=[A-Za-z0-9_-]{86}$/);
    const parsed = parseVoucherHeader(voucher.header);
    expect(parsed).toEqual({ sequence: 1, owedMicros: 0, signature: voucher.signature });
    const verified = await verifyVoucher(parsed, grant);
    expect(verified).toEqual({ grantId: GRANT_ID, sequence: 1, owedMicros: 0, signature: voucher.signature });
    // The signed voucher itself verifies too (it names its grant).
    expect(await verifyVoucher(voucher, grant)).toEqual(verified);
  });

  it("round-trips any sequence and amount within the budget", async () => {
    const { keys, grant } = await buyerGrant({ budget_usd: "9007199254.740991" });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        async (sequence, owedMicros) => {
          const voucher = await signVoucher({ grantId: GRANT_ID, sequence, owedMicros }, keys.privateKey);
          const parsed = parseVoucherHeader(voucher.header);
          expect(parsed).toEqual({ sequence, owedMicros, signature: voucher.signature });
          expect(await verifyVoucher(parsed, grant)).toMatchObject({ sequence, owedMicros });
        },
      ),
      { numRuns: 50 },
    );
  });

  it("refuses a forged voucher: signed by another buyer key", async () => {
    const { grant } = await buyerGrant();
    const forger = await generateBuyerKeyPair();
    const forged = await signVoucher({ grantId: GRANT_ID, sequence: 2, owedMicros: 0 }, forger.privateKey);
    expect(await failureOf(verifyVoucher(parseVoucherHeader(forged.header), grant))).toEqual({
      code: "UNAUTHENTICATED",
      status: 401,
      reason: "voucher_bad_signature",
    });
  });

  it("createVoucherVerifier imports the buyer key once and checks each voucher like verifyVoucher", async () => {
    const { keys, grant } = await buyerGrant();
    const importKey = crypto.subtle.importKey.bind(crypto.subtle);
    let imports = 0;
    const spy = Object.assign(crypto.subtle, {
      importKey: (...args: Parameters<typeof importKey>) => {
        imports++;
        return importKey(...args);
      },
    });
    try {
      const verify = createVoucherVerifier(grant);
      for (let sequence = 1; sequence <= 5; sequence++) {
        const signed = await signVoucher(
          { grantId: GRANT_ID, sequence, owedMicros: sequence * 10 },
          keys.privateKey,
        );
        expect(await verify(parseVoucherHeader(signed.header))).toEqual({
          grantId: GRANT_ID,
          sequence,
          owedMicros: sequence * 10,
          signature: signed.signature,
        });
      }
      const forger = await generateBuyerKeyPair();
      const forged = await signVoucher({ grantId: GRANT_ID, sequence: 6, owedMicros: 60 }, forger.privateKey);
      expect((await failureOf(verify(parseVoucherHeader(forged.header)))).reason).toBe(
        "voucher_bad_signature",
      );
      const over = await signVoucher(
        { grantId: GRANT_ID, sequence: 7, owedMicros: 1_000_001 },
        keys.privateKey,
      );
      expect((await failureOf(verify(parseVoucherHeader(over.header)))).reason).toBe("voucher_over_budget");
      expect(imports).toBe(1);
    } finally {
      spy.importKey = importKey;
    }
  });

  it("refuses a voucher for another grant, even one with the same buyer key", async () => {
    const { keys, grant } = await buyerGrant();
    const other = { ...grant, grant_id: "grt_otherother01" };
    const voucher = await signVoucher(
      { grantId: GRANT_ID, sequence: 5, owedMicros: 80_000 },
      keys.privateKey,
    );
    // As an object that names its grant: refused before the signature is checked.
    expect(await failureOf(verifyVoucher(voucher, other))).toMatchObject({
      code: "UNAUTHENTICATED",
      reason: "voucher_wrong_grant",
    });
    // As a header sent with the other grant's token: the grant id is signed, so it does not verify.
    expect(await failureOf(verifyVoucher(parseVoucherHeader(voucher.header), other))).toMatchObject({
      reason: "voucher_bad_signature",
    });
  });

  it("refuses a tampered header: a smaller amount or another sequence", async () => {
    const { keys, grant } = await buyerGrant();
    const voucher = await signVoucher(
      { grantId: GRANT_ID, sequence: 5, owedMicros: 80_000 },
      keys.privateKey,
    );
    for (const header of [
      voucher.header.replace("owed=80000", "owed=60000"),
      voucher.header.replace("seq=5", "seq=6"),
    ]) {
      expect(await failureOf(verifyVoucher(parseVoucherHeader(header), grant))).toMatchObject({
        reason: "voucher_bad_signature",
      });
    }
  });

  it("refuses a voucher owing more than the budget (402)", async () => {
    const { keys, grant } = await buyerGrant({ budget_usd: "1.000000" });
    const atBudget = await signVoucher(
      { grantId: GRANT_ID, sequence: 9, owedMicros: 1_000_000 },
      keys.privateKey,
    );
    expect((await verifyVoucher(atBudget, grant)).owedMicros).toBe(1_000_000);
    const over = await signVoucher(
      { grantId: GRANT_ID, sequence: 9, owedMicros: 1_000_001 },
      keys.privateKey,
    );
    expect(await failureOf(verifyVoucher(over, grant))).toEqual({
      code: "BUDGET_EXCEEDED",
      status: 402,
      reason: "voucher_over_budget",
    });
  });

  it("refuses malformed voucher fields and a grant whose buyer key WebCrypto cannot use", async () => {
    const { keys, grant } = await buyerGrant();
    const voucher = await signVoucher({ grantId: GRANT_ID, sequence: 1, owedMicros: 0 }, keys.privateKey);
    for (const fields of [
      { ...voucher, sequence: 0 },
      { ...voucher, sequence: 1.5 },
      { ...voucher, owedMicros: -1 },
      { ...voucher, owedMicros: Number.MAX_SAFE_INTEGER + 1 },
      { ...voucher, signature: voucher.signature.slice(1) },
      { ...voucher, signature: "!".repeat(86) },
    ]) {
      expect(await failureOf(verifyVoucher(fields, grant))).toMatchObject({ reason: "voucher_malformed" });
    }
    expect(
      await failureOf(verifyVoucher(voucher, { ...grant, buyer_public_key: "A".repeat(43) })),
    ).toMatchObject({
      reason: "voucher_bad_signature",
    });
  });

  it("parseVoucherHeader accepts only seq=<n>;owed=<micros>;sig=<64 bytes base64url>", () => {
    const sig = `${"a".repeat(85)}A`;
    expect(parseVoucherHeader(` seq=12;owed=240000;sig=${sig} `)).toEqual({
      sequence: 12,
      owedMicros: 240_000,
      signature: sig,
    });
    expect(parseVoucherHeader(`seq=9007199254740991;owed=9007199254740991;sig=${sig}`)).toMatchObject({
      sequence: Number.MAX_SAFE_INTEGER,
    });
    for (const header of [
      undefined,
      null,
      "",
      `seq=0;owed=0;sig=${sig}`,
      `seq=01;owed=0;sig=${sig}`,
      `seq=1;owed=00;sig=${sig}`,
      `seq=-1;owed=0;sig=${sig}`,
      `seq=1;owed=-5;sig=${sig}`,
      `seq=1;owed=0.5;sig=${sig}`,
      `seq=1;owed=1e3;sig=${sig}`,
      `seq=9007199254740992;owed=0;sig=${sig}`,
      `seq=1;owed=9007199254740992;sig=${sig}`,
      `seq=1; owed=0; sig=${sig}`,
      `owed=0;seq=1;sig=${sig}`,
      `seq=1;owed=0;sig=${sig};extra=1`,
      `seq=1;owed=0;sig=${sig.slice(1)}`,
      `seq=1;owed=0;sig=${"a".repeat(86)}`,
      `seq=1;owed=0;sig=${"a".repeat(85)}=`,
      `seq=1;owed=0;sig=${"+".repeat(85)}A`,
      `seq=1\nowed=0;sig=${sig}`,
    ]) {
      let failure: unknown;
      try {
        parseVoucherHeader(header);
      } catch (error) {
        failure = error;
      }
      expect(failure, String(header)).toMatchObject({
        code: "UNAUTHENTICATED",
        details: { reason: "voucher_malformed" },
      });
    }
  });

  it("signVoucher refuses what the signing input cannot carry", async () => {
    const { keys } = await buyerGrant();
    for (const claim of [
      { grantId: "grt_0123456789ab\n2", sequence: 1, owedMicros: 0 },
      { grantId: "grant-1", sequence: 1, owedMicros: 0 },
      { grantId: GRANT_ID, sequence: 0, owedMicros: 0 },
      { grantId: GRANT_ID, sequence: 1, owedMicros: -1 },
      { grantId: GRANT_ID, sequence: 1, owedMicros: 0.5 },
      { grantId: GRANT_ID, sequence: 1, owedMicros: 2 ** 53 },
    ]) {
      expect(await failureOf(signVoucher(claim, keys.privateKey))).toMatchObject({
        code: "VALIDATION_ERROR",
      });
    }
    expect(formatVoucherHeader({ sequence: 2, owedMicros: 20_000, signature: "s" })).toBe(
      "seq=2;owed=20000;sig=s",
    );
  });

  it("names the direct call's headers and call id", () => {
    expect(DIRECT_HEADERS).toEqual({ grant: "mercato-grant", voucher: "mercato-voucher" });
    expect(directCallId(GRANT_ID, 7)).toBe("grt_0123456789ab:7");
  });
});
