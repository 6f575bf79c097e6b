/**
 * Test support (not part of the package): a broker signing key and signed calls, made with
 * protocol's `signCall` exactly as the broker makes them.
 */
import { CALL_HEADERS, signCall } from "@mercato/protocol";
import type { JsonWebKeySetLike } from "../verification/index.js";

/** A fixed clock for tests: 2027-01-15, in ms. */
export const NOW = 1_800_000_000_000;

/** The seller account the test kits serve (`owner`), and the listing test calls are signed for. */
export const TEST_OWNER = "acct_seller001";
export const TEST_AGENT = "agent_seller001";

export interface TestBrokerKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: { kty: "OKP"; crv: "Ed25519"; x: string; kid: string; alg: "EdDSA"; use: "sig" };
  jwks: JsonWebKeySetLike;
}

/** A fresh Ed25519 key pair, its public JWK and a one-key set. */
export async function brokerKey(kid = "broker-key-1"): Promise<TestBrokerKey> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const { x } = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as { x: string };
  const jwk = { kty: "OKP", crv: "Ed25519", x, kid, alg: "EdDSA", use: "sig" } as const;
  return { kid, privateKey: pair.privateKey, jwk, jwks: { keys: [jwk] } };
}

/** The JSON body of a seller call. */
export function callBody(callId: string, input: unknown = { symbol: "BTC" }, timeoutMs = 5000): string {
  return JSON.stringify({ input, call_id: callId, timeout_ms: timeoutMs });
}

export interface SignOptions {
  key: TestBrokerKey;
  callId: string;
  /** The body to send; default {@link callBody} of `callId`. */
  body?: string | Uint8Array;
  /** Request target; default `/agent`. */
  path?: string;
  method?: string;
  /** Unix seconds; default `NOW / 1000`. */
  timestamp?: number;
  /** The listing signed: default {@link TEST_AGENT} of {@link TEST_OWNER} at 20,000 micro-USD. */
  agentId?: string;
  agentOwner?: string;
  priceMicros?: number;
}

/** The signature headers of a call. */
export async function signedHeaders(options: SignOptions): Promise<Record<string, string>> {
  return signCall(
    {
      method: options.method ?? "POST",
      path: options.path ?? "/agent",
      body: options.body ?? callBody(options.callId),
      callId: options.callId,
      timestamp: options.timestamp ?? NOW / 1000,
      agentId: options.agentId ?? TEST_AGENT,
      agentOwner: options.agentOwner ?? TEST_OWNER,
      priceMicros: options.priceMicros ?? 20_000,
    },
    options.key.privateKey,
    options.key.kid,
  );
}

export { CALL_HEADERS };
