export type { ReceiptPayloadValue, SignedReceipt } from "./receipt.js";
export { importPublicKey, signReceipt, verifyReceipt } from "./receipt.js";
