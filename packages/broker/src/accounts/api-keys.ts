import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Key kinds: `account` keys (`mk_…`) manage an account; `access` keys (`sk_live_…`, or `sk_test_…`
 * from a dev broker) invoke one agent.
 */
export type KeyKind = "account" | "access";

/**
 * Whether real money is behind a key: a dev broker moves test money only and issues `test` access
 * keys, so that a key's prefix tells, as Stripe's do.
 */
export type KeyMode = "live" | "test";

const ACCESS_PREFIX: Record<KeyMode, string> = { live: "sk_live_", test: "sk_test_" };
const KEY_PATTERN = /^(mk_|sk_live_|sk_test_)[A-Za-z0-9_-]{43}$/;

/** A freshly generated key: the secret (shown once), its SHA-256 and its visible prefix. */
export interface GeneratedKey {
  secret: string;
  hash: string;
  prefix: string;
}

/**
 * Generates a key of `kind` with 256 random bits, base64url-encoded. `mode` names an access key
 * `sk_live_…` or `sk_test_…`; account keys are `mk_…` in both.
 */
export function generateApiKey(kind: KeyKind, mode: KeyMode = "live"): GeneratedKey {
  const secret = (kind === "account" ? "mk_" : ACCESS_PREFIX[mode]) + randomBytes(32).toString("base64url");
  return { secret, hash: hashApiKey(secret), prefix: visiblePrefix(secret) };
}

/** SHA-256 of a key, hex: the only form a key is stored in. */
export function hashApiKey(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** True when `value` has the shape of a Mercato key (checked before any lookup). */
export function isWellFormedKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

/** The kind a well-formed key's prefix names. */
export function kindOfKey(secret: string): KeyKind {
  return secret.startsWith("mk_") ? "account" : "access";
}

/** Constant-time comparison of two hex digests. */
export function digestsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}

function visiblePrefix(secret: string): string {
  const kindPrefix = /^(mk_|sk_live_|sk_test_)/.exec(secret)?.[0] ?? "";
  return secret.slice(0, kindPrefix.length + 6);
}
