export {
  A2A_VERSION,
  type AgentCardJson,
  CONTRACT_EXTENSION_URI,
  listingCard,
  marketplaceCard,
  PRICING_EXTENSION_URI,
} from "./cards.js";
export type { A2aDeps } from "./deps.js";
export { A2A_JSON_RPC_PATH, JSON_RPC_CODES } from "./json-rpc.js";
export { A2A_OPENAPI_PATHS, MARKETPLACE_CARD_PATH, registerA2aRoutes } from "./routes.js";
