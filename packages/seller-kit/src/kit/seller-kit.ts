import {
  createExpressMiddleware,
  createFastifyPlugin,
  createFetchHandler,
  createNodeListener,
  type SellerExpressMiddleware,
  type SellerFastifyPlugin,
  type SellerFetchHandler,
  type SellerNodeListener,
} from "../adapters/index.js";
import type { SellerContract } from "../contract/index.js";
import {
  createSellerCore,
  type DirectFlushResult,
  type SellerKitOptions,
  type SellerKitRequest,
  type SellerKitResponse,
} from "../core/index.js";
import type { SellerKitStats } from "../metering/index.js";
import type { StandardSchemaV1 } from "../validation/index.js";

/** A seller's handler on the marketplace, mountable on any server. See {@link sellerKit}. */
export interface SellerKit {
  /** Web standard `(request) => Promise<Response>`: Deno.serve, Bun.serve, workers, Hono (`c.req.raw`). */
  readonly fetch: SellerFetchHandler;
  /** `node:http` request listener: `http.createServer(kit.node)`. Verifies against `req.url`. */
  readonly node: SellerNodeListener;
  /**
   * Express middleware: `app.use("/agent", kit.express())`, mounted before any body parser (or after
   * `express.raw()`). Verifies against `req.originalUrl`.
   */
  express(): SellerExpressMiddleware;
  /** Fastify plugin: `app.register(kit.fastify, { prefix: "/agent" })`. */
  readonly fastify: SellerFastifyPlugin;
  /**
   * The JSON Schemas (draft 2020-12) of `input` and `output`, as `GET …/.well-known/mercato-contract`
   * serves them (`null` for one the kit lacks or cannot convert): spread it into a registration,
   * `client.agents.register({ ...listing, ...kit.contract })`.
   */
  readonly contract: SellerContract;
  /** The framework-free core every adapter wraps: one request in, one answer out. Never rejects. */
  handle(request: SellerKitRequest): Promise<SellerKitResponse>;
  /** Call counts and latency since the kit was created (with `direct: {calls, refused, grants}` in direct mode). */
  stats(): SellerKitStats;
  /** The same figures in Prometheus text format (what the metrics endpoint serves). */
  prometheus(): string;
  /**
   * Direct mode: redeems now every grant whose best voucher grew and sends the buffered usage
   * reports now, without waiting for the timer. Resolves when the broker has answered (or the
   * requests failed, which `onError` sees). Resolves `{0, 0, 0}` without direct mode.
   */
  flush(): Promise<DirectFlushResult>;
  /**
   * Direct mode: stops the redemption timer and flushes once; call it on shutdown, after the server
   * stopped taking calls. A direct call after it starts the timer again. The timer never keeps the
   * process alive.
   */
  close(): Promise<void>;
}

/**
 * Puts a seller's handler on the Mercato marketplace. The kit speaks the seller protocol: the broker
 * sends `POST <api_endpoint>` with `{"input", "call_id", "timeout_ms"}` and signature headers, the
 * kit answers `{"output"}`; `GET <api_endpoint>/health` answers `{"status":"ok"}`,
 * `GET <api_endpoint>/.well-known/mercato-contract` the JSON Schemas of `input` and `output`
 * (`{"input_schema", "output_schema"}`, for `mercato agents register --from-kit`), and
 * `GET <api_endpoint>/.well-known/mercato-challenge/{token}` answers the broker's endpoint challenge
 * (`{"token", "owner"}` and/or `"agents"`), which is how a listing of this endpoint goes active.
 *
 * Before the handler runs, every call is checked: the body is at most `maxBodyBytes` (else 413); the
 * broker's Ed25519 signature (`mercato-call-v2`) over method, path and query, body digest,
 * timestamp, call id and the listing (agent id, its owner, the price) verifies against the broker's
 * published keys (else 401 `UNAUTHENTICATED`, `details.reason` `missing`, `malformed`, `stale`,
 * `unknown_key` or `bad_signature`); the listing is one this kit serves — of its `owner`, or among
 * its `agents` (else 401, reason `wrong_listing`: someone else listed this endpoint); the call id was not seen
 * within the replay window (else 401, reason `replayed`); the body is a seller call (else 400) whose
 * `call_id` is the signed one (else 401); the input matches the `input` schema (else 400). The
 * handler gets an `AbortSignal` that fires at `timeout_ms` or when the caller goes away. A handler
 * that throws is answered 500 `INTERNAL_ERROR` without its message, unless it threw a `MercatoError`
 * with a 4xx status, which the caller gets as is. An output the `output` schema refuses is the
 * seller's failure: 500 `INTERNAL_ERROR`, `details.reason` `output_schema`, never earned.
 *
 * **Direct mode** (`direct`): a POST carrying `mercato-grant` and `mercato-voucher` comes straight
 * from a buyer, the broker off the path. The kit verifies the grant (the broker's signature, once
 * per token; its agent must be `direct.agentId`) and the buyer's voucher, checks `call_id` is
 * `{grant_id}:{sequence}`, admits the call by the grant ledger's rule (else 401/402/409 with
 * `details.reason`), runs the handler and settles the call before answering; a call that ends after
 * its `timeout_ms` is answered 504 `SELLER_TIMEOUT` and not owed. Every `redeemIntervalMs` it redeems
 * each grant's best voucher at the broker (`kit.flush()` does it now, `kit.close()` on shutdown).
 * Direct calls are checked even with `verify: false`: they are how the seller is paid.
 *
 * @throws MercatoError `VALIDATION_ERROR` when an option is invalid (neither `owner` nor `agents`
 * while verifying or in direct mode, no `broker` nor `jwks` while verifying, a `broker` that is not an http(s) URL, a non-positive window or body limit, `direct`
 * without `broker`, a bad `direct` option).
 *
 * @example
 * import { sellerKit } from "@mercato/seller-kit";
 * import * as z from "zod";
 *
 * const kit = sellerKit({
 *   broker: "https://broker.example",
 *   owner: "acct_…", // your account id: the kit serves your listings only
 *   input: z.object({ symbol: z.string() }),
 *   output: z.object({ symbol: z.string(), price: z.number().positive() }),
 *   handler: async ({ symbol }, { signal }) => ({ symbol, price: await lookUpPrice(symbol, { signal }) }),
 * });
 *
 * http.createServer(kit.node).listen(8080);             // node:http
 * app.use("/agent", kit.express());                      // Express, before express.json()
 * await app.register(kit.fastify, { prefix: "/agent" }); // Fastify
 * Deno.serve(kit.fetch);                                 // Deno, Bun, workers, Hono
 *
 * // Direct mode: buyers call with a grant and vouchers; the kit redeems them at the broker.
 * const direct = sellerKit({
 *   broker: "https://broker.example",
 *   direct: { agentId: "agent_4f9a2c1b7d", apiKey: process.env.MERCATO_API_KEY },
 *   input: z.object({ symbol: z.string() }),
 *   handler: async ({ symbol }, { direct }) => ({ symbol, grant: direct?.grantId }),
 * });
 * process.on("SIGTERM", () => server.close(() => direct.close())); // hand in the last vouchers
 */
export function sellerKit<
  Schema extends StandardSchemaV1 = StandardSchemaV1,
  OutputSchema extends StandardSchemaV1 = StandardSchemaV1,
>(options: SellerKitOptions<Schema, OutputSchema>): SellerKit {
  const core = createSellerCore(options);
  const express = createExpressMiddleware(core);
  return {
    fetch: createFetchHandler(core),
    node: createNodeListener(core),
    express: () => express,
    fastify: createFastifyPlugin(core),
    contract: core.contract,
    handle: core.handle,
    stats: core.stats,
    prometheus: () => core.meter.prometheus(),
    flush: core.flush,
    close: core.close,
  };
}
