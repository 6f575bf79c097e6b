import { describe, expect, it } from "vitest";
import { exceedsJsonDepth, MAX_JSON_DEPTH } from "./json-depth.js";

const nested = (levels: number): unknown => JSON.parse(`${"[".repeat(levels)}${"]".repeat(levels)}`);

describe("exceedsJsonDepth", () => {
  it("counts arrays and objects, not scalars", () => {
    expect(exceedsJsonDepth("text", 0)).toBe(false);
    expect(exceedsJsonDepth(null, 0)).toBe(false);
    expect(exceedsJsonDepth([], 0)).toBe(true);
    expect(exceedsJsonDepth({ a: [1, { b: 2 }] }, 3)).toBe(false);
    expect(exceedsJsonDepth({ a: [1, { b: 2 }] }, 2)).toBe(true);
    expect(exceedsJsonDepth([1, [2], { c: { d: [] } }], 4)).toBe(false);
    expect(exceedsJsonDepth([1, [2], { c: { d: [] } }], 3)).toBe(true);
  });

  it("takes values at the limit and refuses one level more, by default 64", () => {
    expect(MAX_JSON_DEPTH).toBe(64);
    expect(exceedsJsonDepth(nested(64))).toBe(false);
    expect(exceedsJsonDepth(nested(65))).toBe(true);
  });

  it("walks values far deeper than the stack allows without overflowing, and ends on a cycle", () => {
    expect(exceedsJsonDepth(nested(200_000))).toBe(true);
    expect(exceedsJsonDepth(nested(200_000), 300_000)).toBe(false);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(exceedsJsonDepth(cyclic)).toBe(true);
  });
});
