/** Micro-USD per US cent: card payments and Stripe transfers move whole cents. */
export const MICROS_PER_CENT = 10_000;

/** True when an amount of micros is a whole number of cents. */
export function isWholeCents(micros: number): boolean {
  return Number.isSafeInteger(micros) && micros % MICROS_PER_CENT === 0;
}

/**
 * Converts micros to cents, exactly.
 *
 * @throws RangeError when the amount is not a whole number of cents: callers check first, so
 *   this is a bug, never rounding.
 */
export function microsToCents(micros: number): number {
  if (!isWholeCents(micros)) throw new RangeError(`${micros} micro-USD is not a whole number of cents`);
  return micros / MICROS_PER_CENT;
}
