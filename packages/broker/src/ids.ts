import { randomBytes } from "node:crypto";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A new random id `prefix_` + 20 characters of [a-z0-9] (about 103 bits), e.g. `agent_3k9…`.
 * Rejection sampling keeps every character uniform.
 */
export function newId(prefix: "acct" | "agent" | "key" | "req" | "topup" | "stl"): string {
  let out = "";
  while (out.length < 20) {
    for (const byte of randomBytes(24)) {
      if (byte < 252 && out.length < 20) out += ALPHABET[byte % 36];
    }
  }
  return `${prefix}_${out}`;
}
