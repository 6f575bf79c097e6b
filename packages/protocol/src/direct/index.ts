export type { DirectFailure } from "./failures.js";
export { DIRECT_FAILURE_CODES, directError } from "./failures.js";
export type { Admission, GrantClaim, GrantLedger, GrantLedgerOptions, GrantRefusal } from "./grant-ledger.js";
export { createGrantLedger, grantRefusalError } from "./grant-ledger.js";
export { DIRECT_HEADERS, directCallId } from "./headers.js";
export type {
  BuyerKeyPair,
  SignedVoucher,
  Voucher,
  VoucherClaim,
  VoucherHeaderFields,
  VoucherVerifier,
} from "./voucher.js";
export {
  createVoucherVerifier,
  formatVoucherHeader,
  generateBuyerKeyPair,
  parseVoucherHeader,
  signVoucher,
  VOUCHER_SCHEME,
  verifyVoucher,
  voucherSigningInput,
} from "./voucher.js";
