import type { Clock } from "../platform/clock.js";
import { type Route, routeDefiner } from "../platform/http/route.js";
import { BROKER_VERSION } from "../version.js";

/** What the system routes use. */
export interface SystemDeps {
  clock: Clock;
}

const defineRoute = routeDefiner<SystemDeps>();

/** Liveness. */
export const systemRoutes: Route<SystemDeps>[] = [
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
