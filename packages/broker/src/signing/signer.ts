import {
  createHash,
  createPrivateKey,
  type KeyObject,
  type JsonWebKey as NodeJwk,
  randomBytes,
  sign,
} from "node:crypto";
import { type AgentCard, generateAgentCardSignature } from "@a2a-js/sdk";
import {
  callHeaders,
  callSigningInput,
  type GrantPayloadValue,
  LEGACY_CALL_SIGNATURE_HEADER,
  type PublicJwk,
  type ReceiptPayloadValue,
  type SignedGrant,
  type SignedReceipt,
  signGrant as signGrantToken,
  signReceipt,
} from "@mercato/protocol";
import type * as z from "zod";
import type { Clock } from "../platform/clock.js";
import type { SigningKeyRecord, SigningKeyStore } from "./port.js";

/** A public key as published at `/.well-known/jwks.json`. */
export type PublishedJwk = z.output<typeof PublicJwk>;

/**
 * A seller call to sign: method, request target (path and query), exact body, call id, and the
 * listing it is for (agent, owner, price), so a seller kit can refuse a call for another's listing.
 */
export interface CallToSign {
  method: string;
  path: string;
  body: string;
  callId: string;
  /** Seconds since the epoch. */
  timestamp: number;
  agentId: string;
  agentOwner: string;
  /** The call's price, integer micro-USD. */
  priceMicros: number;
  /**
   * Also sign the retired `mercato-call-v1` scheme, in its old header: only for a listing in its
   * endpoint-proof grace period, whose seller may still run a kit older than v2.
   */
  legacy?: boolean;
}

/** Signs receipts and seller calls with the broker's Ed25519 key and publishes the public keys. */
export interface ReceiptSigner {
  sign(payload: ReceiptPayloadValue): Promise<SignedReceipt>;
  /**
   * The signature headers of a seller call (`CALL_HEADERS` in @mercato/protocol). The Ed25519
   * signature is computed on libuv's thread pool, so the invoke path can place its hold meanwhile.
   */
  signCall(call: CallToSign): Promise<Record<string, string>>;
  jwks(): Promise<{ keys: PublishedJwk[] }>;
  /** Signs a direct-mode grant token (`signGrant` in @mercato/protocol) with the broker's key. */
  signGrant(payload: GrantPayloadValue): Promise<SignedGrant>;
  /**
   * Signs an A2A 1.0 agent card, given in its JSON form (what is served), as A2A §8.4 says: a
   * flattened JWS over the RFC 8785 canonical form of the card without `signatures`, computed by the
   * official SDK (`generateAgentCardSignature`, so that its `verifyAgentCardSignature` agrees),
   * with the protected header `{alg: "EdDSA", kid, typ: "JOSE", jku}`. Returns the signature entry
   * to put in the card's `signatures`.
   */
  signAgentCard(card: Record<string, unknown>, options: { jku: string }): Promise<AgentCardJws>;
}

/** One entry of an A2A agent card's `signatures`, as JSON. */
export interface AgentCardJws {
  /** The base64url protected header. */
  protected: string;
  /** The base64url Ed25519 signature. */
  signature: string;
}

/**
 * The broker's receipt signer. Its Ed25519 key lives in the store, so every broker process on one
 * database signs with the same key; the first broker to need one generates it. Older keys stay
 * published so that old receipts keep verifying.
 */
export function createReceiptSigner(store: SigningKeyStore, clock: Clock): ReceiptSigner {
  let loaded: Promise<{ kid: string; privateKey: CryptoKey; keyObject: KeyObject }> | undefined;

  const load = async () => {
    let keys = await store.listSigningKeys();
    if (keys.length === 0) {
      const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
        "sign",
        "verify",
      ])) as CryptoKeyPair;
      const kid = `mk-${clock.now().toISOString().slice(0, 10)}-${randomBytes(4).toString("hex")}`;
      await store.insertSigningKey({
        kid,
        privateJwk: JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey)),
        publicJwk: JSON.stringify(await crypto.subtle.exportKey("jwk", pair.publicKey)),
        createdAt: clock.now().toISOString(),
      });
      // Another process may have inserted its key first: use whichever the store holds.
      keys = await store.listSigningKeys();
    }
    const current = keys[0];
    if (!current) throw new Error("No signing key could be stored");
    const privateKey = await crypto.subtle.importKey(
      "jwk",
      JSON.parse(current.privateJwk) as JsonWebKey,
      { name: "Ed25519" },
      false,
      ["sign"],
    );
    const keyObject = createPrivateKey({
      key: JSON.parse(current.privateJwk) as NodeJwk,
      format: "jwk",
    });
    return { kid: current.kid, privateKey, keyObject };
  };

  const ready = () => {
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };

  const publish = (keys: SigningKeyRecord[]): PublishedJwk[] =>
    keys.map((key): PublishedJwk => {
      const jwk = JSON.parse(key.publicJwk) as { x: string };
      return { kty: "OKP", crv: "Ed25519", x: jwk.x, kid: key.kid, alg: "EdDSA", use: "sig" };
    });

  return {
    async sign(payload) {
      const { kid, privateKey } = await ready();
      return signReceipt(payload, privateKey, kid);
    },
    async signCall(call) {
      const { kid, keyObject } = await ready();
      const bodyDigest = createHash("sha256").update(call.body, "utf8").digest("base64url");
      const input = callSigningInput({ ...call, bodyDigest });
      if (!call.legacy) {
        const signature = await signOffThread(Buffer.from(input, "utf8"), keyObject);
        return callHeaders(call, kid, signature.toString("base64url"));
      }
      const [signature, legacy] = await Promise.all([
        signOffThread(Buffer.from(input, "utf8"), keyObject),
        signOffThread(Buffer.from(legacyCallSigningInput({ ...call, bodyDigest }), "utf8"), keyObject),
      ]);
      return {
        ...callHeaders(call, kid, signature.toString("base64url")),
        [LEGACY_CALL_SIGNATURE_HEADER]: legacy.toString("base64url"),
      };
    },
    async signGrant(payload) {
      const { kid, privateKey } = await ready();
      return signGrantToken(payload, privateKey, kid);
    },
    async signAgentCard(card, { jku }) {
      const { kid, privateKey } = await ready();
      const header = { alg: "EdDSA", kid, typ: "JOSE", jku };
      // The SDK canonicalizes its argument as the card's JSON form (AgentCard.fromJSON), which is
      // what `card` is, whatever its declared type says.
      const signed = await generateAgentCardSignature(privateKey, header)(card as unknown as AgentCard);
      const entry = signed.signatures.at(-1);
      if (!entry) throw new Error("The agent card was not signed");
      return { protected: entry.protected, signature: entry.signature };
    },
    async jwks() {
      await ready();
      // Read from the store each time (sellers fetch the keys rarely and cache them): brokers that
      // started together on an empty database may each have made a key, and every key in use must
      // be published by every broker, whichever one a seller asks.
      return { keys: publish(await store.listSigningKeys()) };
    },
  };
}

/**
 * The retired `mercato-call-v1` signing input (method, target, body digest, timestamp, call id: no
 * listing), as kits older than v2 check it. Sent only to listings in their grace period; to be
 * removed with the grace period (docs/sellers.md).
 */
function legacyCallSigningInput(call: CallToSign & { bodyDigest: string }): string {
  return [
    "mercato-call-v1",
    call.method.toUpperCase(),
    call.path,
    call.bodyDigest,
    String(call.timestamp),
    call.callId,
  ].join("\n");
}

/** Ed25519 signature of `data` on libuv's thread pool (node:crypto's callback form). */
function signOffThread(data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign(null, data, key, (error, signature) => (error ? reject(error) : resolve(signature)));
  });
}
