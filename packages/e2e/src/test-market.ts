import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Clock,
  createBroker,
  createScheduler,
  createSqliteStore,
  type Scheduler,
  type Store,
} from "@mercato/broker";
import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import { brokerRequest } from "./broker-api.js";

/** A dev-mode broker on a temporary SQLite file, listening on a loopback port, with its grant sweeper. */
export interface TestMarket {
  /** The broker's base URL. */
  url: string;
  store: Store;
  app: FastifyInstance;
  scheduler: Scheduler;
  /** A JSON request to the broker (see {@link brokerRequest}). */
  api(
    method: string,
    path: string,
    options?: { key?: string; body?: unknown },
  ): ReturnType<typeof brokerRequest>;
  /** Asserts the ledger audit is clean. */
  expectCleanAudit(): Promise<void>;
  /** Stops the sweeper and the broker, closes the store and removes the file. */
  close(): Promise<void>;
}

/** What {@link startTestMarket} needs: the admin token, the broker's clock and the sweeper's timing. */
export interface TestMarketOptions {
  /** Names the temporary directory. */
  name: string;
  adminToken: string;
  clock: Clock;
  sweepIntervalMs: number;
  /** Seconds between a grant's close or expiry and its settlement, in ms. */
  grantGraceMs: number;
}

/**
 * Starts a {@link TestMarket}: the broker every direct-mode and contract e2e test runs against, with
 * the sweeper settling grants a grace period after they close.
 */
export async function startTestMarket(options: TestMarketOptions): Promise<TestMarket> {
  const dir = mkdtempSync(join(tmpdir(), `mercato-${options.name}-`));
  const store = createSqliteStore({ path: join(dir, "e2e.db") });
  const { clock, adminToken } = options;
  const app = createBroker({ store, clock, config: { dev: true, logLevel: "silent", adminToken } });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const scheduler = createScheduler({
    store,
    clock,
    payments: undefined,
    log: app.log,
    sweepIntervalMs: options.sweepIntervalMs,
    grantGraceMs: options.grantGraceMs,
  });
  scheduler.start();
  const api: TestMarket["api"] = (method, path, request = {}) => brokerRequest(url, method, path, request);
  return {
    url,
    store,
    app,
    scheduler,
    api,
    async expectCleanAudit() {
      const audit = (await api("GET", "/admin/audit", { key: adminToken })).json;
      expect(audit.violations).toEqual([]);
      expect(audit.ok).toBe(true);
    },
    async close() {
      await scheduler.stop();
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
