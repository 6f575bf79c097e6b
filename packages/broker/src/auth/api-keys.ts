import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Key kinds: `account` keys (`mk_…`) manage an account; `access` keys (`sk_live_…`) invoke one agent. */
export type KeyKind = "account" | "access";

const PREFIX: Record<KeyKind, string> = { account: "mk_", access: "sk_live_" };
const KEY_PATTERN = /^(mk_|sk_live_)[A-Za-z0-9_-]{43}$/;

/** A freshly generated key: the secret (shown once), its SHA-256 and its visible prefix. */
export interface GeneratedKey {
  secret: string;
  hash: string;
  prefix: string;
}

/** Generates a key of `kind` with 256 random bits, base64url-encoded. */
export function generateApiKey(kind: KeyKind): GeneratedKey {
  const secret = PREFIX[kind] + randomBytes(32).toString("base64url");
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
  const kindPrefix = secret.startsWith("mk_") ? "mk_" : "sk_live_";
  return secret.slice(0, kindPrefix.length + 6);
}
