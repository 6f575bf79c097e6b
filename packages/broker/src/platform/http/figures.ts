import { MICROS_PER_USD, PLATFORM_FEE_BPS } from "@mercato/protocol";

/**
 * A number as the API reference prints it, with thousands separators: `figure(1000)` is "1,000".
 * Reference texts print defaults through it from the constants the code uses, so they cannot drift.
 */
export function figure(value: number): string {
  return value.toLocaleString("en-US");
}

/** Micro-USD as whole (or fractional) USD for prose: `usdFigure(100_000_000)` is "100". */
export function usdFigure(micros: number | bigint): string {
  return figure(Number(micros) / Number(MICROS_PER_USD));
}

/** The marketplace fee as a percentage, e.g. "10%". */
export const FEE_PERCENT = `${figure(Number(PLATFORM_FEE_BPS) / 100)}%`;
