import { describe, expect, it } from "vitest";
import { createReceiptVerifier } from "./receipts.js";
import { brokerKey, failure, PAYLOAD } from "./test-fixtures.js";
import type { Jwks } from "./types.js";

/** A verifier over a key set the test changes, with a clock the test moves. */
function setUp(initial: Jwks) {
  const state = { jwks: initial, loads: 0, clock: 1_000_000, failNext: false };
  const verify = createReceiptVerifier({
    loadJwks: async () => {
      state.loads += 1;
      if (state.failNext) {
        state.failNext = false;
        throw new Error("broker down");
      }
      return state.jwks;
    },
    now: () => state.clock,
  });
  return { state, verify };
}

describe("createReceiptVerifier", () => {
  it("verifies a receipt and its bare JWS, fetching the keys once", async () => {
    const key = await brokerKey("k1");
    const { state, verify } = setUp({ keys: [key.jwk] });
    const receipt = await key.sign();
    expect(await verify(receipt)).toEqual(PAYLOAD);
    expect(await verify(receipt.jws)).toEqual(PAYLOAD);
    expect(state.loads).toBe(1);
  });

  it("shares one fetch between concurrent verifications", async () => {
    const key = await brokerKey("k1");
    const { state, verify } = setUp({ keys: [key.jwk] });
    const receipt = await key.sign();
    await Promise.all([verify(receipt), verify(receipt), verify(receipt)]);
    expect(state.loads).toBe(1);
  });

  it("fetches the keys again for an unknown kid (a rotated broker key), at most every 30 s", async () => {
    const old = await brokerKey("old");
    const rotated = await brokerKey("new");
    const later = await brokerKey("newer");
    const { state, verify } = setUp({ keys: [old.jwk] });
    expect(await verify(await old.sign())).toEqual(PAYLOAD);
    expect(state.loads).toBe(1);

    // The broker rotated its key, 30 s after the last fetch: one refetch, then it verifies.
    state.jwks = { keys: [rotated.jwk, old.jwk] };
    state.clock += 30_000;
    expect(await verify(await rotated.sign())).toEqual(PAYLOAD);
    expect(state.loads).toBe(2);

    // Another rotation 29 s later: no refetch yet, the receipt is refused as signed by an unknown key.
    state.jwks = { keys: [later.jwk, rotated.jwk] };
    state.clock += 29_000;
    const laterReceipt = await later.sign();
    const refused = await failure(() => verify(laterReceipt));
    expect(refused.code).toBe("VALIDATION_ERROR");
    expect(refused.message).toContain("unknown key (newer)");
    expect(state.loads).toBe(2);

    // A second later the limit has passed: it refetches once and verifies.
    state.clock += 1_000;
    expect(await verify(await later.sign())).toEqual(PAYLOAD);
    expect(state.loads).toBe(3);
  });

  it("does not refetch for a known kid whose signature is bad, nor for a receipt it cannot read", async () => {
    const real = await brokerKey("k1");
    const impostor = await brokerKey("k1");
    const { state, verify } = setUp({ keys: [real.jwk] });
    state.clock += 60_000;
    const forged = await impostor.sign();
    expect((await failure(() => verify(forged))).message).toMatch(/does not verify/);
    for (const junk of ["", "not-a-jws", "!!.??.**", { jws: 42 }, null]) {
      expect((await failure(() => verify(junk as never))).code).toBe("VALIDATION_ERROR");
    }
    expect(state.loads).toBe(1);
  });

  it("refuses a receipt whose shown payload differs from the signed one", async () => {
    const key = await brokerKey("k1");
    const { verify } = setUp({ keys: [key.jwk] });
    const receipt = await key.sign();
    const error = await failure(() =>
      verify({ ...receipt, payload: { ...receipt.payload, amount_usd: "2.000000" } }),
    );
    expect(error.code).toBe("VALIDATION_ERROR");
    expect(error.message).toContain("payload other than the one signed");
  });

  it("tries a failed fetch again on the next verification", async () => {
    const key = await brokerKey("k1");
    const { state, verify } = setUp({ keys: [key.jwk] });
    state.failNext = true;
    await expect(verify(await key.sign())).rejects.toThrow("broker down");
    expect(await verify(await key.sign())).toEqual(PAYLOAD);
    expect(state.loads).toBe(2);
  });
});
