export { checkContractSchema } from "./check.js";
export type { ContractCheck, ContractCompiler, ContractIssue } from "./compile.js";
export { createContractCompiler } from "./compile.js";
export { CONTRACT_LIMITS, DRAFT_2020_12 } from "./limits.js";
export type { SellerErrorSummary } from "./seller-error.js";
export { SELLER_ERROR_LIMITS, summariseSellerError } from "./seller-error.js";
export type {
  CompiledContract,
  ContractListing,
  ContractSource,
  ContractValidators,
  ContractValidatorsOptions,
  StoredContract,
} from "./validators.js";
export { createContractValidators } from "./validators.js";
