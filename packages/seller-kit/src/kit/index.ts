export type { SellerKit } from "./seller-kit.js";
export { sellerKit } from "./seller-kit.js";
