export type {
  CreateSellerHandlerOptions,
  SellerCallContext,
  SellerCallHandler,
  SellerFetchHandler,
} from "./create-seller-handler.js";
export { createSellerHandler } from "./create-seller-handler.js";
