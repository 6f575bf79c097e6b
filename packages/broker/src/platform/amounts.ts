import { MercatoError } from "@mercato/protocol";

/** @throws MercatoError `INVALID_AMOUNT` unless `amount` is a safe integer of micros ≥ `min`. */
export function assertAmount(amount: number, min: number): void {
  if (!Number.isSafeInteger(amount) || amount < min) {
    throw new MercatoError(
      "INVALID_AMOUNT",
      `Amount must be an integer number of micros ≥ ${min}, got ${amount}`,
    );
  }
}
