export type {
  CreateSellerHandlerOptions,
  SellerCallContext,
  SellerCallHandler,
  SellerFetchHandler,
} from "./handler/index.js";
export { createSellerHandler } from "./handler/index.js";
