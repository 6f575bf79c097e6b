import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Clock,
  type CreateBrokerOptions,
  createBroker,
  createScheduler,
  createSqliteStore,
  type Scheduler,
  type Store,
} from "@mercato/broker";
import { settleDueGrants } from "@mercato/broker/internal";
import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import { brokerRequest } from "./broker-api.js";

/**
 * A dev-mode broker on a temporary SQLite file, listening on a loopback port, with its grant sweeper
 * unless asked for none.
 */
export interface TestMarket {
  /** The broker's base URL. */
  url: string;
  store: Store;
  app: FastifyInstance;
  /** The grant sweeper; undefined with `sweeper: false`. */
  scheduler: Scheduler | undefined;
  /** A JSON request to the broker (see {@link brokerRequest}). */
  api(
    method: string,
    path: string,
    options?: { key?: string; body?: unknown },
  ): ReturnType<typeof brokerRequest>;
  /**
   * Signs an account up through the API and, with `topUpUsd`, tops it up through the broker's
   * payment provider (a dev provider credits it at once).
   */
  signUp(name: string, topUpUsd?: string): Promise<{ api_key: string; account_id: string }>;
  /** Asserts the ledger audit is clean. */
  expectCleanAudit(): Promise<void>;
  /**
   * Settles every closed grant now, as the sweeper would once their grace period is over: for a
   * test that must have each side's claims in (the kit's redemptions flushed) before a grant settles,
   * whatever the machine's speed, with `sweeper: false`.
   */
  settleClosedGrants(): Promise<number>;
  /** Stops the sweeper and the broker, closes the store and removes the file. */
  close(): Promise<void>;
}

/**
 * What {@link startTestMarket} needs: the admin token, the broker's clock, and the sweeper's timing
 * (or `false` for no sweeper); a payment provider and fraud settings may be given to the broker.
 */
export interface TestMarketOptions extends Pick<CreateBrokerOptions, "payments" | "fraud"> {
  /** Names the temporary directory. */
  name: string;
  adminToken: string;
  clock: Clock;
  sweeper:
    | false
    | {
        intervalMs: number /** Between a grant's close or expiry and its settlement. */;
        grantGraceMs: number;
      };
}

/**
 * Starts a {@link TestMarket}: the broker every direct-mode and contract e2e test runs against, with
 * the sweeper settling grants a grace period after they close.
 */
export async function startTestMarket(options: TestMarketOptions): Promise<TestMarket> {
  const dir = mkdtempSync(join(tmpdir(), `mercato-${options.name}-`));
  const store = createSqliteStore({ path: join(dir, "e2e.db") });
  const { clock, adminToken } = options;
  const app = createBroker({
    store,
    clock,
    config: { dev: true, logLevel: "silent", adminToken },
    ...(options.payments && { payments: options.payments }),
    ...(options.fraud && { fraud: options.fraud }),
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const scheduler =
    options.sweeper === false
      ? undefined
      : createScheduler({
          store,
          clock,
          payments: undefined,
          log: app.log,
          sweepIntervalMs: options.sweeper.intervalMs,
          grantGraceMs: options.sweeper.grantGraceMs,
        });
  scheduler?.start();
  const api: TestMarket["api"] = (method, path, request = {}) => brokerRequest(url, method, path, request);
  return {
    url,
    store,
    app,
    scheduler,
    api,
    async signUp(name, topUpUsd) {
      const account = (await api("POST", "/accounts", { body: { name } })).json;
      if (topUpUsd !== undefined) {
        const topup = await api("POST", "/topups", { key: account.api_key, body: { amount_usd: topUpUsd } });
        expect(topup.status, JSON.stringify(topup.json)).toBe(201);
      }
      return account;
    },
    async expectCleanAudit() {
      const audit = (await api("GET", "/admin/audit", { key: adminToken })).json;
      expect(audit.violations).toEqual([]);
      expect(audit.ok).toBe(true);
    },
    settleClosedGrants: () => settleDueGrants(store, clock.now().toISOString(), 0),
    async close() {
      await scheduler?.stop();
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
