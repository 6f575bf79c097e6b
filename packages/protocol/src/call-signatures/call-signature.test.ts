import { describe, expect, it } from "vitest";
import { MercatoError } from "../errors/mercato-error.js";
import {
  CALL_HEADERS,
  callSigningInput,
  createJwksKeyResolver,
  digestBody,
  LEGACY_CALL_SIGNATURE_HEADER,
  signCall,
  verifyCallSignature,
} from "./call-signature.js";

async function keyPair() {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as { x: string };
  return {
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    jwk: {
      kty: "OKP" as const,
      crv: "Ed25519" as const,
      x: jwk.x,
      kid: "k1",
      alg: "EdDSA" as const,
      use: "sig" as const,
    },
  };
}

const NOW = 1_800_000_000_000;
const body = JSON.stringify({ input: { q: "btc" }, call_id: "txn_1", timeout_ms: 5000 });
const LISTING = { agentId: "agent_victim", agentOwner: "acct_victim", priceMicros: 50_000 };

async function signed(overrides: Partial<{ path: string; body: string; timestamp: number }> = {}) {
  const { privateKey, publicKey } = await keyPair();
  const headers = await signCall(
    {
      method: "POST",
      path: "/agent",
      body,
      callId: "txn_1",
      timestamp: NOW / 1000,
      ...LISTING,
      ...overrides,
    },
    privateKey,
    "k1",
  );
  return { headers, publicKey };
}

function verify(
  headers: Record<string, string>,
  key: CryptoKey | undefined,
  call: { path?: string; body?: string; now?: number } = {},
) {
  return verifyCallSignature(
    { method: "POST", path: call.path ?? "/agent", body: call.body ?? body, header: (name) => headers[name] },
    { resolveKey: async (kid) => (kid === "k1" ? key : undefined), now: call.now ?? NOW },
  );
}

async function reason(promise: Promise<unknown>): Promise<unknown> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MercatoError);
  expect((error as MercatoError).code).toBe("UNAUTHENTICATED");
  return (error as MercatoError).details?.reason;
}

describe("call signatures", () => {
  it("signs a line-per-field input that names the scheme and the listing", async () => {
    expect(
      callSigningInput({
        method: "post",
        path: "/a?b=1",
        bodyDigest: "d",
        timestamp: 5,
        callId: "c",
        agentId: "agent_1",
        agentOwner: "acct_1",
        priceMicros: 20_000,
      }),
    ).toBe("mercato-call-v2\nPOST\n/a?b=1\nd\n5\nc\nagent_1\nacct_1\n20000");
    // SHA-256 of the empty string, base64url.
    expect(await digestBody("")).toBe("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
  });

  it("verifies what it signed", async () => {
    const { headers, publicKey } = await signed();
    expect(await verify(headers, publicKey)).toEqual({
      callId: "txn_1",
      timestamp: NOW / 1000,
      kid: "k1",
      ...LISTING,
    });
  });

  it("refuses a changed body, path, call id or signature", async () => {
    const { headers, publicKey } = await signed();
    expect(await reason(verify(headers, publicKey, { body: body.replace("btc", "eth") }))).toBe(
      "bad_signature",
    );
    expect(await reason(verify(headers, publicKey, { path: "/other" }))).toBe("bad_signature");
    expect(await reason(verify({ ...headers, [CALL_HEADERS.callId]: "txn_2" }, publicKey))).toBe(
      "bad_signature",
    );
    const other = await keyPair();
    const forged = await signCall(
      { method: "POST", path: "/agent", body, callId: "txn_1", ...LISTING },
      other.privateKey,
      "k1",
    );
    expect(await reason(verify(forged, publicKey, { now: Date.now() }))).toBe("bad_signature");
  });

  it("refuses a call whose listing was changed: another agent, owner or price (an impostor's relabelling)", async () => {
    const { headers, publicKey } = await signed();
    for (const [header, value] of [
      [CALL_HEADERS.agentId, "agent_impostor"],
      [CALL_HEADERS.agentOwner, "acct_impostor"],
      [CALL_HEADERS.priceMicros, "500000"],
    ] as const) {
      expect(await reason(verify({ ...headers, [header]: value }, publicKey))).toBe("bad_signature");
    }
  });

  it("refuses a v1 signature, which names no listing", async () => {
    const { headers, publicKey } = await signed();
    const v1 = { ...headers };
    delete (v1 as Record<string, string>)[CALL_HEADERS.agentId];
    delete (v1 as Record<string, string>)[CALL_HEADERS.agentOwner];
    delete (v1 as Record<string, string>)[CALL_HEADERS.priceMicros];
    expect(await reason(verify(v1, publicKey))).toBe("missing");
    expect(
      await reason(verify({ ...headers, [CALL_HEADERS.agentOwner]: "acct x\nagent_y" }, publicKey)),
    ).toBe("malformed");
    expect(await reason(verify({ ...headers, [CALL_HEADERS.priceMicros]: "0.5" }, publicKey))).toBe(
      "malformed",
    );
  });

  it("refuses a call that carries only a v1 signature, and says the broker is older than the kit", async () => {
    const { headers, publicKey } = await signed();
    const v1Only: Record<string, string> = {
      [CALL_HEADERS.callId]: headers[CALL_HEADERS.callId],
      [CALL_HEADERS.timestamp]: headers[CALL_HEADERS.timestamp],
      [CALL_HEADERS.keyId]: headers[CALL_HEADERS.keyId],
      [LEGACY_CALL_SIGNATURE_HEADER]: headers[CALL_HEADERS.signature],
    };
    const error = await verify(v1Only, publicKey).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MercatoError);
    expect((error as MercatoError).details).toEqual({ reason: "missing" });
    expect((error as MercatoError).message).toMatch(/only a mercato-call-v1 signature.*mercato-signature-v2/);
    // Beside a valid v2 signature, the legacy header is ignored.
    expect(
      await verify({ ...headers, [LEGACY_CALL_SIGNATURE_HEADER]: "not-even-base64!" }, publicKey),
    ).toMatchObject({ agentId: "agent_victim" });
  });

  it("refuses missing, malformed, stale and unknown-key signatures", async () => {
    const { headers, publicKey } = await signed();
    expect(await reason(verify({}, publicKey))).toBe("missing");
    expect(await reason(verify({ ...headers, [CALL_HEADERS.signature]: "abc" }, publicKey))).toBe(
      "malformed",
    );
    expect(await reason(verify({ ...headers, [CALL_HEADERS.timestamp]: "-5" }, publicKey))).toBe("malformed");
    expect(await reason(verify(headers, publicKey, { now: NOW + 301_000 }))).toBe("stale");
    expect(await reason(verify(headers, publicKey, { now: NOW - 301_000 }))).toBe("stale");
    expect(await verify(headers, publicKey, { now: NOW + 299_000 })).toMatchObject({ callId: "txn_1" });
    expect(await reason(verify({ ...headers, [CALL_HEADERS.keyId]: "k9" }, publicKey))).toBe("unknown_key");
  });
});

describe("createJwksKeyResolver", () => {
  it("loads once, reloads on an unknown kid no more often than the interval", async () => {
    const { jwk } = await keyPair();
    let loads = 0;
    let clock = 0;
    const resolve = createJwksKeyResolver({
      load: async () => {
        loads++;
        return { keys: loads === 1 ? [jwk] : [jwk, { ...jwk, kid: "k2" }] };
      },
      minReloadIntervalMs: 1000,
      now: () => clock,
    });
    const [a, b] = await Promise.all([resolve("k1"), resolve("k1")]);
    expect(a).toBeDefined();
    expect(b).toBe(a);
    expect(loads).toBe(1);
    // k2 is unknown and the interval has not passed: no reload.
    expect(await resolve("k2")).toBeUndefined();
    expect(loads).toBe(1);
    clock = 1000;
    expect(await resolve("k2")).toBeDefined();
    expect(loads).toBe(2);
    expect(await resolve("forged")).toBeUndefined();
    expect(loads).toBe(2);
  });

  it("retries after a failed load", async () => {
    const { jwk } = await keyPair();
    let fail = true;
    let clock = 0;
    const resolve = createJwksKeyResolver({
      load: async () => {
        if (fail) throw new Error("broker down");
        return { keys: [jwk] };
      },
      now: () => clock,
    });
    await expect(resolve("k1")).rejects.toThrow("broker down");
    fail = false;
    clock = 1;
    expect(await resolve("k1")).toBeDefined();
  });
});
