export { importPublicKey } from "./public-key.js";
export type { ReceiptPayloadValue, SignedReceipt } from "./receipt.js";
export { signReceipt, verifyReceipt } from "./receipt.js";
