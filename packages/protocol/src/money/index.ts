export type { ChargeSplit } from "./money.js";
export {
  formatUsd,
  isUsdAmount,
  MAX_MICROS,
  MAX_NUMBER_MICROS,
  MICROS_PER_USD,
  microsToUsdNumber,
  PLATFORM_FEE_BPS,
  parseUsd,
  splitCharge,
  USD_DECIMALS,
} from "./money.js";
