import type { FastifyInstance } from "fastify";
import type { BrokerConfig } from "./config/config.js";
import { createBroker } from "./http/app.js";
import { createSqliteStore } from "./store/sqlite/sqlite-store.js";

/** A broker listening on its port, with what it runs on. */
export interface RunningBroker {
  app: FastifyInstance;
  /** Base URL, e.g. `http://127.0.0.1:4020`. */
  url: string;
  /** Stops accepting requests, finishes those in flight, closes the store. */
  close(): Promise<void>;
}

/**
 * Starts a broker from a configuration: opens (and migrates) its SQLite file, listens, and
 * returns its URL.
 *
 * @example
 * const broker = await startBroker(parseConfig(process.argv.slice(2), process.env));
 * console.log(broker.url);
 */
export async function startBroker(config: BrokerConfig): Promise<RunningBroker> {
  const store = createSqliteStore({ path: config.dbPath });
  const app = createBroker({
    store,
    config: { dev: config.dev, adminToken: config.adminToken, logLevel: config.logLevel },
  });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await store.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return {
    app,
    url: `http://${host}:${port}`,
    async close() {
      await app.close();
      await store.close();
    },
  };
}
