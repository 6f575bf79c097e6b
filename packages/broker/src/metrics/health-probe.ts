import { isIP } from "node:net";
import { Agent } from "undici";
import { isPublicAddress, publicOnlyLookup, type ResolveHost } from "../platform/endpoint-policy.js";
import type { MonitoringSettings } from "../platform/settings.js";
import type { Endpoint } from "./health-schedule.js";

const USER_AGENT = "mercato-health-check/1";

/** What one request to an endpoint's health URL said. */
export interface ProbeResult {
  healthy: boolean;
  /** Why it is not healthy (for the logs and the down alert). */
  reason?: string;
}

/** The timer a probe's timeout is set on. */
export interface ProbeTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of {@link createHealthProbe}. */
export interface HealthProbeOptions {
  settings: Pick<MonitoringSettings, "healthTimeoutMs">;
  /** How many checks may be in flight at once: the agent's connections. */
  concurrency: number;
  /** The health-check interval, ms: how long idle connections are kept. */
  interval: number;
  /** Dev mode: sellers on loopback and private addresses are checked too. */
  dev: boolean;
  resolveHost: ResolveHost;
  timers: ProbeTimers;
}

/** Sends health checks: `GET` one endpoint's health URL on one keep-alive agent. */
export interface HealthProbe {
  /** Checks the endpoint once; its `controller` aborts the request (set while it runs). */
  probe(endpoint: Endpoint): Promise<ProbeResult>;
  /** Frees the connections. */
  close(): Promise<void>;
}

/**
 * A 2xx answer within `healthTimeoutMs` is healthy; anything else, a timeout or a refused
 * connection is not. Outside dev mode the agent's DNS lookup refuses non-public addresses at
 * connect time, as the invoke path's does, and an IP literal that is not public is refused here.
 */
export function createHealthProbe(options: HealthProbeOptions): HealthProbe {
  const { settings, timers, interval } = options;
  const agent = new Agent({
    connections: options.concurrency,
    keepAliveTimeout: Math.min(Math.max(interval * 2, 4_000), 120_000),
    keepAliveMaxTimeout: 120_000,
    connectTimeout: settings.healthTimeoutMs,
    pipelining: 1,
    ...(!options.dev && { connect: { lookup: publicOnlyLookup(options.resolveHost) } }),
  });

  return {
    async probe(endpoint) {
      const { host } = endpoint.url;
      // The lookup below is not asked about IP literals: refuse a non-public one here.
      if (!options.dev && isIP(host) !== 0 && !isPublicAddress(host)) {
        return { healthy: false, reason: `non-public address ${host}` };
      }
      const controller = new AbortController();
      endpoint.controller = controller;
      const timeout = timers.setTimeout(() => controller.abort(), settings.healthTimeoutMs);
      try {
        const response = await agent.request({
          origin: endpoint.url.origin,
          path: endpoint.url.path,
          method: "GET",
          headers: { "user-agent": USER_AGENT, accept: "application/json" },
          signal: controller.signal,
          headersTimeout: settings.healthTimeoutMs,
          bodyTimeout: settings.healthTimeoutMs,
        });
        // Read (at most 64 KiB of) the body so the connection can be reused.
        await response.body.dump({ limit: 64 * 1024 }).catch(() => {});
        const healthy = response.statusCode >= 200 && response.statusCode < 300;
        return healthy ? { healthy } : { healthy, reason: `HTTP ${response.statusCode}` };
      } catch (error) {
        if (controller.signal.aborted) return { healthy: false, reason: "timed out" };
        const code = (error as { code?: unknown }).code;
        return { healthy: false, reason: typeof code === "string" ? code : String(error) };
      } finally {
        timers.clearTimeout(timeout);
      }
    },

    close() {
      return agent.close();
    },
  };
}
