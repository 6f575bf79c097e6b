import { describe, expect, it } from "vitest";
import {
  createStyle,
  formatFields,
  formatTable,
  percent,
  usd,
  visibleWidth,
  wantsColor,
  when,
} from "./format.js";

const plain = createStyle(false);
const colour = createStyle(true);

describe("usd", () => {
  it.each([
    ["0.020000", "$0.02"],
    ["0.012500", "$0.0125"],
    ["0.000001", "$0.000001"],
    ["12.5", "$12.50"],
    ["0", "$0.00"],
    ["1234567.890000", "$1,234,567.89"],
    [0.02, "$0.02"],
    [25, "$25.00"],
    [-1_500_000n, "-$1.50"],
  ] as const)("formats %s as %s", (amount, expected) => {
    expect(usd(amount)).toBe(expected);
  });
});

describe("formatTable", () => {
  it("aligns columns, right-aligns numbers and leaves no trailing spaces", () => {
    const table = formatTable(
      [{ title: "NAME" }, { title: "PRICE", align: "right" }, { title: "NOTE" }],
      [
        ["Pro", "$0.02", ""],
        ["Digest", "$0.0125", "cheap"],
      ],
      plain,
    );
    expect(table.split("\n")).toEqual(["NAME      PRICE  NOTE", "Pro       $0.02", "Digest  $0.0125  cheap"]);
  });

  it("does not count colour codes towards widths", () => {
    const table = formatTable([{ title: "STATUS" }, { title: "N" }], [[colour.green("up"), "1"]], colour);
    const row = table.split("\n")[1] ?? "";
    expect(visibleWidth(row)).toBe("STATUS  N".length);
    expect(row).toContain("\u001b[32mup\u001b[39m");
  });
});

describe("formatFields, percent, when", () => {
  it("aligns labels", () => {
    expect(
      formatFields(
        [
          ["a", "1"],
          ["long", "2"],
        ],
        plain,
      ),
    ).toBe("a     1\nlong  2");
  });
  it("formats shares and timestamps", () => {
    expect(percent(0.9751)).toBe("97.5%");
    expect(when("2026-11-24T03:04:05.678Z")).toBe("2026-11-24 03:04:05Z");
    expect(when(null)).toBe("—");
  });
});

describe("wantsColor", () => {
  const base = { isTTY: true, flag: true, env: {} };
  it("colours a terminal only", () => {
    expect(wantsColor(base)).toBe(true);
    expect(wantsColor({ ...base, isTTY: false })).toBe(false);
    expect(wantsColor({ ...base, env: { TERM: "dumb" } })).toBe(false);
  });
  it("obeys --no-color and NO_COLOR over everything, FORCE_COLOR over the terminal check", () => {
    expect(wantsColor({ ...base, flag: false, env: { FORCE_COLOR: "1" } })).toBe(false);
    expect(wantsColor({ ...base, env: { NO_COLOR: "1", FORCE_COLOR: "1" } })).toBe(false);
    expect(wantsColor({ ...base, isTTY: false, env: { FORCE_COLOR: "1" } })).toBe(true);
    expect(wantsColor({ ...base, env: { FORCE_COLOR: "0" } })).toBe(false);
    expect(wantsColor({ ...base, env: { NO_COLOR: "" } })).toBe(true);
  });
});
