import { defineRoute } from "../platform/http/route.js";
import { BROKER_VERSION } from "../version.js";

/** Liveness. */
export const systemRoutes = [
  defineRoute({
    method: "GET",
    url: "/healthz",
    operationId: "healthz",
    tag: "System",
    summary: "Liveness check",
    auth: "none",
    success: { status: 200, schema: "HealthzResponse", description: "The broker is up" },
    async handler({ deps }) {
      return { status: "ok" as const, version: BROKER_VERSION, time: deps.clock.now().toISOString() };
    },
  }),
];
