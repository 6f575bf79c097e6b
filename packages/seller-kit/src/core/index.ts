export type { SellerCore } from "./create-core.js";
export { createSellerCore } from "./create-core.js";
export type {
  DirectCallInfo,
  DirectFlushResult,
  SellerCallContext,
  SellerCallHandler,
  SellerDirectOptions,
  SellerErrorContext,
  SellerErrorStage,
  SellerKitOptions,
  SellerKitRequest,
  SellerKitResponse,
  VerifiedCallInfo,
} from "./types.js";
