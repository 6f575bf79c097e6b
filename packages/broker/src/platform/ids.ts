import { randomFillSync } from "node:crypto";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
// Random bytes are drawn 4 KiB at a time: one system call per ~170 ids instead of one per id.
const pool = Buffer.alloc(4096);
let offset = pool.length;

function randomByte(): number {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  return pool[offset++] as number;
}

/**
 * A new random id `prefix_` + 20 characters of [a-z0-9] (about 103 bits), e.g. `agent_3k9…`.
 * Rejection sampling keeps every character uniform.
 */
export function newId(prefix: "acct" | "agent" | "grt" | "key" | "req" | "topup" | "stl" | "txn"): string {
  let out = "";
  while (out.length < 20) {
    const byte = randomByte();
    if (byte < 252) out += ALPHABET[byte % 36];
  }
  return `${prefix}_${out}`;
}
