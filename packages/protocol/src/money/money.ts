import { MercatoError } from "../errors/mercato-error.js";

/** Micro-USD per US dollar: every amount in Mercato is an integer number of micros. */
export const MICROS_PER_USD = 1_000_000n;

/** Decimal places a USD amount may carry (one micro-USD). More is an `INVALID_AMOUNT` error. */
export const USD_DECIMALS = 6;

/**
 * The largest amount Mercato accepts anywhere, in micros: 2^53 − 1, so that it is also a safe
 * JavaScript integer (about 9 billion USD).
 */
export const MAX_MICROS = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The largest amount, in micros, that a JavaScript number carries exactly as USD with six
 * decimals: 2^33 USD. Amounts sent as JSON numbers must stay below it; send larger ones as strings.
 */
export const MAX_NUMBER_MICROS = 2n ** 33n * MICROS_PER_USD;

/** Marketplace fee in basis points of each charge (10%). */
export const PLATFORM_FEE_BPS = 1000n;

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * Converts a USD amount, a decimal string (`"0.02"`, `"10"`, `"0.020000"`) or a number (`0.02`),
 * to integer micro-USD, exactly. A number is read through its shortest decimal representation, so
 * `0.1 + 0.2` (`0.30000000000000004`) is refused rather than rounded.
 *
 * @throws MercatoError `INVALID_AMOUNT` for a negative, non-finite or malformed amount, more than
 *   six decimal places, or an amount above {@link MAX_MICROS}.
 * @example
 * parseUsd("0.02"); // 20000n
 * parseUsd(10); // 10000000n
 */
export function parseUsd(value: string | number): bigint {
  let text: string;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw invalidAmount(value, "is not a finite number");
    // Past 2^33 USD a double cannot hold every micro: the number may not be what the sender typed.
    if (Math.abs(value) > 2 ** 33)
      throw invalidAmount(value, "is too large for a JSON number: send it as a string");
    text = String(value);
  } else if (typeof value === "string") {
    text = value.trim();
  } else {
    throw invalidAmount(value, "must be a decimal string or a number");
  }
  if (text.startsWith("-")) throw invalidAmount(value, "must not be negative");
  const match = DECIMAL.exec(text);
  if (!match) throw invalidAmount(value, "is not a plain decimal number (like 0.02)");
  const whole = match[1] ?? "0";
  const fraction = match[2] ?? "";
  if (fraction.length > USD_DECIMALS) {
    throw invalidAmount(value, `has more than ${USD_DECIMALS} decimal places`);
  }
  const micros = BigInt(whole) * MICROS_PER_USD + BigInt(fraction.padEnd(USD_DECIMALS, "0") || "0");
  if (micros > MAX_MICROS) throw invalidAmount(value, "is too large");
  return micros;
}

/** `parseUsd` as a predicate: true when the value is a valid, exact, non-negative USD amount. */
export function isUsdAmount(value: unknown): value is string | number {
  if (typeof value !== "string" && typeof value !== "number") return false;
  try {
    parseUsd(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Formats micros as the wire's USD decimal string with exactly six decimals.
 *
 * @example formatUsd(20000n); // "0.020000"
 */
export function formatUsd(micros: bigint | number): string {
  const value = toBigInt(micros);
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const whole = abs / MICROS_PER_USD;
  const fraction = (abs % MICROS_PER_USD).toString().padStart(USD_DECIMALS, "0");
  return `${sign}${whole}.${fraction}`;
}

/**
 * Micros as a JavaScript number of USD, for the display fields the API shows as numbers
 * (`price_per_call: 0.02`). Below {@link MAX_NUMBER_MICROS} (2^33 USD) the result prints back to the
 * same decimal, so `parseUsd` of it returns the same micros; above, a double cannot be exact.
 * Never feed it to arithmetic that moves money.
 */
export function microsToUsdNumber(micros: bigint | number): number {
  return Number(formatUsd(micros));
}

/** The split of one charge: the platform's fee and the seller's share. */
export interface ChargeSplit {
  fee: bigint;
  sellerShare: bigint;
}

/**
 * Splits a charge into the marketplace fee and the seller's share. The rule, stated once:
 * `fee = floor(charge × 1000 / 10000)` (10%), `sellerShare = charge − fee`; so fee + share = charge,
 * always, and rounding favours the seller.
 *
 * @throws MercatoError `INVALID_AMOUNT` for a negative charge.
 */
export function splitCharge(charge: bigint | number): ChargeSplit {
  const amount = toBigInt(charge);
  if (amount < 0n) throw invalidAmount(amount, "must not be negative");
  const fee = (amount * PLATFORM_FEE_BPS) / 10_000n;
  return { fee, sellerShare: amount - fee };
}

function toBigInt(micros: bigint | number): bigint {
  if (typeof micros === "bigint") return micros;
  if (!Number.isSafeInteger(micros)) {
    throw new MercatoError("INVALID_AMOUNT", `Micros must be a safe integer, got ${micros}`);
  }
  return BigInt(micros);
}

function invalidAmount(value: unknown, reason: string): MercatoError {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  return new MercatoError("INVALID_AMOUNT", `Amount ${shown} ${reason}`, { details: { value: shown } });
}
