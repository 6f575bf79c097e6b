import type { FastifyInstance } from "fastify";
import { authenticateAdmin } from "../accounts/authenticate.js";
import type { BrokerDeps } from "./deps.js";

/**
 * Counts every response into the broker's metrics and serves them at `GET /metrics` in
 * Prometheus's text format.
 *
 * Who may read them: anyone in dev mode; otherwise only with the admin token
 * (`Authorization: Bearer <MERCATO_ADMIN_TOKEN>`, which Prometheus sends with `authorization:
 * { credentials: … }` in its scrape config), and no one when the broker has none. The figures are
 * aggregates (no account, key or agent ids), but traffic and revenue are a business's own.
 *
 * The route is not in the OpenAPI document: it answers text, not one of the protocol's schemas.
 */
export function registerMetrics(app: FastifyInstance, deps: BrokerDeps): void {
  const { metrics } = deps;
  app.addHook("onResponse", (request, reply, done) => {
    metrics.httpResponse(
      request.routeOptions.url ?? "unmatched",
      request.method,
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
  app.get("/metrics", async (request, reply) => {
    if (!deps.config.dev) authenticateAdmin(request, deps);
    const { contentType, body } = await metrics.scrape();
    return reply.header("cache-control", "no-store").type(contentType).send(body);
  });
}
