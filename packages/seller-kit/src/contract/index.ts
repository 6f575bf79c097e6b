export type { JsonSchemaObject, SellerContract } from "./contract.js";
export { CONTRACT_PATH, deriveContract } from "./contract.js";
