import { describe, expect, it } from "vitest";
import { createEstablishedBuyers } from "../../src/metrics/buyer-weights.js";

const OLD = "2020-01-01T00:00:00.000Z";
const AT = "2026-03-01T00:00:00.000Z";

describe("established buyers bound", () => {
  it("remembers at most maxKnown buyers, and a forgotten one is read again, still established", async () => {
    const reads: string[][] = [];
    const establishedAt = createEstablishedBuyers((ids) => {
      reads.push(ids);
      return ids.map((id) => ({ id, created_at: OLD, topped_up: 1 }));
    }, 3);
    for (let i = 0; i < 10; i++) {
      const isEstablished = await establishedAt([`acct_${i}`, "acct_0"], AT);
      // Every buyer asked about is answered right, also one pushed out by this very flush.
      expect(isEstablished(`acct_${i}`)).toBe(true);
      expect(isEstablished("acct_0")).toBe(true);
    }
    reads.length = 0;
    const again = await establishedAt(["acct_1"], AT);
    expect(reads).toEqual([["acct_1"]]);
    expect(again("acct_1")).toBe(true);
  });
});
