export type { ExpressLikeRequest, SellerExpressMiddleware } from "./express.js";
export { createExpressMiddleware, PARSED_BODY_MESSAGE } from "./express.js";
export type {
  FastifyLikeError,
  FastifyLikeInstance,
  FastifyLikeReply,
  FastifyLikeRequest,
  SellerFastifyPlugin,
} from "./fastify.js";
export { createFastifyPlugin } from "./fastify.js";
export type { SellerNodeListener } from "./node.js";
export { createNodeListener, serveNode } from "./node.js";
export type { SellerFetchHandler } from "./web.js";
export { createFetchHandler, targetOf } from "./web.js";
