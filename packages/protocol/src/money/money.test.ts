import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MercatoError } from "../errors/mercato-error.js";
import {
  formatUsd,
  isUsdAmount,
  MAX_MICROS,
  MICROS_PER_USD,
  microsToUsdNumber,
  PLATFORM_FEE_BPS,
  parseUsd,
  splitCharge,
  USD_DECIMALS,
} from "./money.js";

/**
 * Above 2^33 USD a double is coarser than one micro-USD (its spacing there is 2^-19 ≈ 1.9 µUSD), so
 * `microsToUsdNumber` can no longer be exact. Up to this bound it is.
 */
const EXACT_NUMBER_LIMIT_MICROS = (1n << 33n) * MICROS_PER_USD;

/** Runs `fn` and returns the MercatoError it throws; fails the test when it throws nothing else. */
function thrownBy(fn: () => unknown): MercatoError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(MercatoError);
  return caught as MercatoError;
}

function expectInvalidAmount(fn: () => unknown): MercatoError {
  const error = thrownBy(fn);
  expect(error.code).toBe("INVALID_AMOUNT");
  expect(error.status).toBe(400);
  return error;
}

/** An independent reading of a plain decimal string, as the canonical six-decimal wire form. */
function canonical(text: string): string {
  const [whole = "", fraction = ""] = text.split(".");
  const wholeDigits = whole.replace(/^0+(?=\d)/, "");
  return `${wholeDigits}.${fraction.padEnd(USD_DECIMALS, "0")}`;
}

describe("constants", () => {
  it("states the money model", () => {
    expect(MICROS_PER_USD).toBe(1_000_000n);
    expect(USD_DECIMALS).toBe(6);
    expect(MAX_MICROS).toBe(9_007_199_254_740_991n);
    expect(Number.isSafeInteger(Number(MAX_MICROS))).toBe(true);
    expect(Number.isSafeInteger(Number(MAX_MICROS) + 1)).toBe(false);
    expect(PLATFORM_FEE_BPS).toBe(1000n);
  });
});

describe("parseUsd", () => {
  it.each<[string | number, bigint]>([
    ["0.02", 20_000n],
    [0.02, 20_000n],
    ["10", 10_000_000n],
    [10, 10_000_000n],
    ["0", 0n],
    [0, 0n],
    [-0, 0n],
    ["0.0", 0n],
    ["0.000000", 0n],
    ["0.000001", 1n],
    [0.000001, 1n],
    ["0.020000", 20_000n],
    ["0.1", 100_000n],
    ["1.5", 1_500_000n],
    [1.5, 1_500_000n],
    ["123.456789", 123_456_789n],
    [123.456789, 123_456_789n],
    ["007.5", 7_500_000n],
    ["  0.02  ", 20_000n],
    ["\t10\n", 10_000_000n],
    ["1000", 1_000_000_000n],
    ["9007199254.740991", MAX_MICROS],
    [8589934592, 8_589_934_592_000_000n],
  ])("parses %j as %s micros", (input, micros) => {
    expect(parseUsd(input)).toBe(micros);
  });

  it("is exact where floats are not", () => {
    // 0.1 + 0.2 as a float is 0.30000000000000004; as strings, the sum is exact.
    expect(parseUsd("0.1") + parseUsd("0.2")).toBe(parseUsd("0.3"));
    expect(parseUsd(0.3)).toBe(300_000n);
  });

  it.each<[string, string | number]>([
    ["a seventh decimal (string)", "0.0000001"],
    ["a seventh decimal (number, printed 1e-7)", 1e-7],
    ["the float sum 0.1 + 0.2", 0.1 + 0.2],
    ["seven decimals with trailing zeros", "0.0200000"],
    ["more than six decimals", "1.1234567"],
    ["a negative string", "-0.02"],
    ["a negative number", -0.02],
    ["a negative whole number", -1],
    ["minus zero as a string", "-0"],
    ["a word", "abc"],
    ["the empty string", ""],
    ["a blank string", " "],
    ["exponent notation", "1e3"],
    ["a number printed with an exponent", 1e21],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-Infinity", Number.NEGATIVE_INFINITY],
    ["one micro above the maximum", "9007199254.740992"],
    ["far too large", "100000000000"],
    ["a huge number", Number.MAX_VALUE],
    ["a leading plus sign", "+1"],
    ["a missing whole part", ".5"],
    ["a trailing dot", "5."],
    ["a thousands separator", "1,000"],
    ["an underscore separator", "1_000"],
    ["hexadecimal", "0x10"],
    ["a currency sign", "$1"],
    ["a currency suffix", "1 USD"],
    ["two dots", "1.2.3"],
    ["an inner space", "1 000"],
    ["non-ASCII digits", "١٢"],
  ])("refuses %s with INVALID_AMOUNT", (_label, input) => {
    expectInvalidAmount(() => parseUsd(input));
  });

  it("refuses values that are neither strings nor numbers", () => {
    for (const value of [null, undefined, 1n, true, {}, [], ["1"]]) {
      expectInvalidAmount(() => parseUsd(value as unknown as string));
    }
  });

  it("says why in the message and shows the value in details", () => {
    const negative = expectInvalidAmount(() => parseUsd("-1"));
    expect(negative.message).toMatch(/negative/);
    expect(negative.details).toEqual({ value: '"-1"' });

    const precise = expectInvalidAmount(() => parseUsd("0.0000001"));
    expect(precise.message).toMatch(/more than 6 decimal places/);

    const large = expectInvalidAmount(() => parseUsd("9007199254.740992"));
    expect(large.message).toMatch(/too large/);

    const infinite = expectInvalidAmount(() => parseUsd(Number.POSITIVE_INFINITY));
    expect(infinite.message).toMatch(/finite/);
    expect(infinite.details).toEqual({ value: "Infinity" });

    const malformed = expectInvalidAmount(() => parseUsd("abc"));
    expect(malformed.message).toMatch(/plain decimal/);
  });

  it("property: any plain decimal with at most 6 decimals parses to its exact micros", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{1,9}(\.\d{1,6})?$/), (text) => {
        const micros = parseUsd(text);
        expect(micros).toBeGreaterThanOrEqual(0n);
        expect(formatUsd(micros)).toBe(canonical(text));
      }),
      { numRuns: 500 },
    );
  });

  it("property: 7 or more decimals are always refused, even trailing zeros", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{1,6}\.\d{7,12}$/), (text) => {
        expectInvalidAmount(() => parseUsd(text));
      }),
    );
  });

  it("property: a negative amount is always refused", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -MAX_MICROS, max: -1n }), (micros) => {
        expectInvalidAmount(() => parseUsd(formatUsd(micros)));
        expectInvalidAmount(() => parseUsd(-Number(formatUsd(-micros))));
      }),
    );
  });

  it("property: amounts above MAX_MICROS are always refused", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: MAX_MICROS + 1n, max: MAX_MICROS * 1000n }), (micros) => {
        expectInvalidAmount(() => parseUsd(formatUsd(micros)));
      }),
    );
  });

  it("property: on any string or number it returns micros in [0, MAX] or throws INVALID_AMOUNT only", () => {
    const inputs = fc.oneof(
      fc.string(),
      fc.string({ unit: "grapheme" }),
      fc.stringMatching(/^[-+ ]?\d{0,12}[.,e]?\d{0,8}$/),
      fc.double(),
      fc.integer(),
    );
    fc.assert(
      fc.property(inputs, (value) => {
        let result: bigint | undefined;
        try {
          result = parseUsd(value);
        } catch (error) {
          expect(error).toBeInstanceOf(MercatoError);
          expect((error as MercatoError).code).toBe("INVALID_AMOUNT");
          expect(isUsdAmount(value)).toBe(false);
          return;
        }
        expect(result).toBeGreaterThanOrEqual(0n);
        expect(result).toBeLessThanOrEqual(MAX_MICROS);
        expect(isUsdAmount(value)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("formatUsd", () => {
  it.each<[bigint | number, string]>([
    [0n, "0.000000"],
    [0, "0.000000"],
    [1n, "0.000001"],
    [20_000n, "0.020000"],
    [20_000, "0.020000"],
    [999_999n, "0.999999"],
    [1_000_000n, "1.000000"],
    [10_000_000n, "10.000000"],
    [123_456_789n, "123.456789"],
    [MAX_MICROS, "9007199254.740991"],
    [Number.MAX_SAFE_INTEGER, "9007199254.740991"],
    [-1n, "-0.000001"],
    [-20_000n, "-0.020000"],
    [-1_500_000n, "-1.500000"],
    [-1_500_000, "-1.500000"],
  ])("formats %s micros as %s", (micros, text) => {
    expect(formatUsd(micros)).toBe(text);
  });

  it("formats bigints beyond MAX_MICROS without losing digits", () => {
    expect(formatUsd(MAX_MICROS * 10n)).toBe("90071992547.409910");
  });

  it.each([
    ["a fraction", 1.5],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["an unsafe integer", Number.MAX_SAFE_INTEGER + 1],
  ])("refuses %s of a micro with INVALID_AMOUNT", (_label, micros) => {
    expectInvalidAmount(() => formatUsd(micros));
  });

  it("property: always six decimals, matching the wire's UsdAmount pattern", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -MAX_MICROS, max: MAX_MICROS }), (micros) => {
        expect(formatUsd(micros)).toMatch(/^-?\d+\.\d{6}$/);
        expect(formatUsd(micros).startsWith("-")).toBe(micros < 0n);
      }),
    );
  });

  it("property: numbers and bigints format alike", () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (micros) => {
        expect(formatUsd(micros)).toBe(formatUsd(BigInt(micros)));
      }),
    );
  });

  it("property: formatUsd ∘ parseUsd round-trips every amount in [0, MAX_MICROS]", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_MICROS }), (micros) => {
        const text = formatUsd(micros);
        expect(parseUsd(text)).toBe(micros);
        expect(formatUsd(parseUsd(text))).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });

  it("round-trips the boundaries", () => {
    for (const micros of [0n, 1n, 999_999n, 1_000_000n, MAX_MICROS - 1n, MAX_MICROS]) {
      expect(parseUsd(formatUsd(micros))).toBe(micros);
    }
  });
});

describe("microsToUsdNumber", () => {
  it.each<[bigint | number, number]>([
    [0n, 0],
    [1n, 0.000001],
    [20_000n, 0.02],
    [20_000, 0.02],
    [300_000n, 0.3],
    [1_500_000n, 1.5],
    [10_000_000n, 10],
    [123_456_789n, 123.456789],
    [-20_000n, -0.02],
  ])("shows %s micros as %s USD", (micros, usd) => {
    expect(microsToUsdNumber(micros)).toBe(usd);
  });

  it("refuses a non-integer number of micros", () => {
    expectInvalidAmount(() => microsToUsdNumber(0.5));
  });

  it("prints back to the same decimal for small amounts", () => {
    expect(String(microsToUsdNumber(20_000n))).toBe("0.02");
    expect(String(microsToUsdNumber(1n))).toBe("0.000001");
    expect(String(microsToUsdNumber(100_000n))).toBe("0.1");
  });

  it("property: parseUsd(microsToUsdNumber(x)) === x up to 2^33 USD", () => {
    // Not asserted up to MAX_MICROS, although the doc comment promises it: above 2^33 USD
    // (8,589,934,592 USD) a double cannot hold every micro, so 8589934592000001n comes back as
    // 8589934592000002n and MAX_MICROS as 9007199254.740992, which parseUsd refuses as too large.
    const amounts = fc.oneof(
      fc.bigInt({ min: 0n, max: EXACT_NUMBER_LIMIT_MICROS }),
      fc.bigInt({ min: 0n, max: 1_000_000_000n }),
      fc.bigInt({ min: EXACT_NUMBER_LIMIT_MICROS - 10_000_000n, max: EXACT_NUMBER_LIMIT_MICROS }),
    );
    fc.assert(
      fc.property(amounts, (micros) => {
        const usd = microsToUsdNumber(micros);
        expect(typeof usd).toBe("number");
        expect(parseUsd(usd)).toBe(micros);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("splitCharge", () => {
  it.each<[bigint | number, bigint, bigint]>([
    [0n, 0n, 0n],
    [1n, 0n, 1n],
    [9n, 0n, 9n],
    [10n, 1n, 9n],
    [11n, 1n, 10n],
    [19n, 1n, 18n],
    [20n, 2n, 18n],
    [99n, 9n, 90n],
    [20_000n, 2_000n, 18_000n],
    [20_000, 2_000n, 18_000n],
    [10_000_000n, 1_000_000n, 9_000_000n],
    [MAX_MICROS, 900_719_925_474_099n, 8_106_479_329_266_892n],
  ])("splits %s into fee %s and seller share %s", (charge, fee, sellerShare) => {
    expect(splitCharge(charge)).toEqual({ fee, sellerShare });
  });

  it("rounds the fee down, in the seller's favour", () => {
    // 0.000019 USD: 10% would be 1.9 micros; the platform takes 1.
    expect(splitCharge(parseUsd("0.000019"))).toEqual({ fee: 1n, sellerShare: 18n });
  });

  it.each<[string, bigint | number]>([
    ["a negative bigint", -1n],
    ["a negative number", -20_000],
    ["a fractional number", 1.5],
    ["NaN", Number.NaN],
    ["an unsafe integer", 2 ** 60],
  ])("refuses %s with INVALID_AMOUNT", (_label, charge) => {
    expectInvalidAmount(() => splitCharge(charge));
  });

  it("property: fee + sellerShare === charge, fee === floor(charge × 1000 / 10000), fee ≥ 0, share ≥ 9 × fee", () => {
    const charges = fc.oneof(
      fc.bigInt({ min: 0n, max: MAX_MICROS }),
      fc.bigInt({ min: 0n, max: 1_000n }),
      fc.bigInt({ min: 0n, max: 1n << 80n }),
    );
    fc.assert(
      fc.property(charges, (charge) => {
        const { fee, sellerShare } = splitCharge(charge);
        expect(fee + sellerShare).toBe(charge);
        expect(fee).toBe((charge * 1000n) / 10_000n);
        // floor, stated without bigint division: fee × 10 ≤ charge < (fee + 1) × 10
        expect(fee * 10n).toBeLessThanOrEqual(charge);
        expect((fee + 1n) * 10n).toBeGreaterThan(charge);
        expect(fee).toBeGreaterThanOrEqual(0n);
        expect(sellerShare).toBeGreaterThanOrEqual(fee * 9n);
      }),
      { numRuns: 1000 },
    );
  });

  it("property: a number charge splits like the same bigint", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (charge) => {
        expect(splitCharge(charge)).toEqual(splitCharge(BigInt(charge)));
      }),
    );
  });
});

describe("isUsdAmount", () => {
  it.each<unknown>(["0.02", 0.02, "10", 10, "0", 0, "0.000001", " 1.5 ", "9007199254.740991"])(
    "accepts %j",
    (value) => {
      expect(isUsdAmount(value)).toBe(true);
    },
  );

  it.each<unknown>([
    "0.0000001",
    1e-7,
    0.1 + 0.2,
    "-0.02",
    -1,
    "abc",
    "",
    " ",
    "1e3",
    Number.NaN,
    Number.POSITIVE_INFINITY,
    "9007199254.740992",
    null,
    undefined,
    20_000n,
    true,
    {},
    [],
    ["0.02"],
  ])("refuses %o", (value) => {
    expect(isUsdAmount(value)).toBe(false);
  });

  it("property: agrees with parseUsd on canonical amounts", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -MAX_MICROS, max: MAX_MICROS * 2n }), (micros) => {
        expect(isUsdAmount(formatUsd(micros))).toBe(micros >= 0n && micros <= MAX_MICROS);
      }),
    );
  });
});
