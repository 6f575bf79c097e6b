import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GrantId } from "../schemas/grants.js";
import { isGrantId } from "./grant-id.js";

describe("isGrantId", () => {
  it("says what the GrantId schema says, for any value", () => {
    const grantLike = fc
      .tuple(
        fc.constantFrom("grt_", "grt", "GRT_", "gr_", ""),
        fc.string({ unit: "grapheme-ascii", maxLength: 44 }),
      )
      .map(([prefix, rest]) => prefix + rest);
    const idLike = fc.stringMatching(/^[a-z0-9]{6,42}$/).map((rest) => `grt_${rest}`);
    fc.assert(
      fc.property(fc.oneof(grantLike, idLike, fc.anything()), (value) => {
        expect(isGrantId(value)).toBe(GrantId.safeParse(value).success);
      }),
      { numRuns: 2000 },
    );
  });
});
