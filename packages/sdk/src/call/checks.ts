import { MercatoError } from "@mercato/protocol/errors";

// Checks of `call()`'s numeric options: each throws `VALIDATION_ERROR` naming the option.

export function positiveInt(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new MercatoError("VALIDATION_ERROR", `${name} must be a positive integer, got ${value}`);
  }
  return value;
}

export function nonNegativeNumber(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new MercatoError("VALIDATION_ERROR", `${name} must be a finite number ≥ 0, got ${value}`);
  }
  return value;
}

export function nonNegativeInt(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new MercatoError("VALIDATION_ERROR", `${name} must be a whole number ≥ 0, got ${value}`);
  }
  return value;
}
