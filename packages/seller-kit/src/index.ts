export type {
  ExpressLikeRequest,
  FastifyLikeError,
  FastifyLikeInstance,
  FastifyLikeReply,
  FastifyLikeRequest,
  SellerExpressMiddleware,
  SellerFastifyPlugin,
  SellerFetchHandler,
  SellerNodeListener,
} from "./adapters/index.js";
export type { JsonSchemaObject, SellerContract } from "./contract/index.js";
export { CONTRACT_PATH } from "./contract/index.js";
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
} from "./core/index.js";
export type { SellerKit } from "./kit/index.js";
export { sellerKit } from "./kit/index.js";
export type { DirectCallStats, LatencySummary, SellerKitStats } from "./metering/index.js";
export type { StandardSchemaV1, ValidationIssue } from "./validation/index.js";
export type { FetchLike, JsonWebKeyLike, JsonWebKeySetLike } from "./verification/index.js";
