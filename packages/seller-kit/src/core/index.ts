export type { SellerCore } from "./create-core.js";
export { createSellerCore } from "./create-core.js";
export type {
  SellerCallContext,
  SellerCallHandler,
  SellerErrorContext,
  SellerErrorStage,
  SellerKitOptions,
  SellerKitRequest,
  SellerKitResponse,
  VerifiedCallInfo,
} from "./types.js";
