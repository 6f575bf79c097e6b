import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isMercatoError } from "@mercato/protocol/errors";
import type { MercatoClient } from "@mercato/sdk";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createPolicyMeter, type PolicyMeter } from "./policy.js";
import {
  type AccountSession,
  createAccountSession,
  createMcpServer,
  type ServerShared,
  spentSince,
} from "./server.js";

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  shared: ServerShared;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Interface to listen on (default 127.0.0.1: this machine only). */
  host?: string;
  /** Accounts whose spending the server meters at once (default 10,000); past it, new accounts get 503. */
  maxAccounts?: number;
  /** Largest request body, bytes (default 1 MiB). */
  maxBodyBytes?: number;
}

/** A running Streamable HTTP server: its `/mcp` URL, and how to stop it. */
export interface RunningHttpServer {
  url: string;
  close(): Promise<void>;
}

/** Account keys whose SDK client is kept (the least recently used is dropped; its meter is not). */
const MAX_CLIENTS = 10_000;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/**
 * Serves MCP over Streamable HTTP at `/mcp`, stateless: every request carries the caller's own
 * Mercato account key (`Authorization: Bearer mk_…`), checked with the broker once and then kept,
 * and is answered by a server built for it; nothing but the spending meters lives between requests.
 * The spending policy applies per account: the session budget to what the account spends through
 * this server while it runs, the daily budget to the account's day.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const { shared } = options;
  const host = options.host ?? "127.0.0.1";
  const maxAccounts = options.maxAccounts ?? 10_000;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const clients = new Map<string, Promise<{ session: AccountSession; account: Account }>>();
  // Never evicted: dropping an account's meter would reset its session budget.
  const accounts = new Map<string, Account>();

  const sessionFor = async (apiKey: string): Promise<AccountSession> => {
    const id = createHash("sha256").update(apiKey).digest("base64url");
    let kept = clients.get(id);
    if (kept) {
      clients.delete(id);
      clients.set(id, kept);
    } else {
      kept = (async () => {
        const { client } = createAccountSession(shared, apiKey);
        // Refuses a key the broker does not know before anything is kept for it.
        const { account_id } = await client.accounts.me();
        let account = accounts.get(account_id);
        if (!account) {
          if (accounts.size >= maxAccounts) throw new Overloaded();
          const holder: Account = {
            current: client,
            meter: createPolicyMeter(
              shared.policy,
              spentSince(() => holder.current),
            ),
          };
          account = holder;
          accounts.set(account_id, account);
        }
        return { session: { client, meter: account.meter }, account };
      })();
      const created = kept;
      created.catch(() => clients.delete(id));
      clients.set(id, created);
      if (clients.size > MAX_CLIENTS) clients.delete(clients.keys().next().value as string);
    }
    const { session, account } = await kept;
    // The account's meter reads the day's spending with the key that served it last: a key of the
    // account revoked since cannot break its other keys.
    account.current = session.client;
    return session;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path !== "/mcp") return reply(response, 404, "Not found: the MCP endpoint is /mcp");
    if (LOOPBACK.has(host) && !LOOPBACK.has(hostName(request.headers.host))) {
      // A page elsewhere that made its name resolve to this machine (DNS rebinding).
      return reply(response, 403, "Forbidden host");
    }
    if (request.method !== "POST") {
      response.setHeader("allow", "POST");
      return reply(response, 405, "This server is stateless: POST JSON-RPC messages to /mcp");
    }
    const key = bearer(request.headers.authorization);
    if (key === undefined) {
      response.setHeader("www-authenticate", 'Bearer realm="mercato"');
      return reply(response, 401, "Send your Mercato account key: Authorization: Bearer mk_…");
    }
    let session: AccountSession;
    try {
      session = await sessionFor(key);
    } catch (error) {
      if (error instanceof Overloaded) return reply(response, 503, "Too many accounts on this server");
      if (isMercatoError(error) && (error.status === 401 || error.status === 403)) {
        response.setHeader("www-authenticate", 'Bearer realm="mercato", error="invalid_token"');
        return reply(response, 401, `The broker refused the key: ${error.code}`);
      }
      return reply(response, 502, "The Mercato broker could not be reached");
    }
    const server = createMcpServer(shared, session);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      maxRequestBodySize: maxBodyBytes,
    });
    response.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(request, response);
  };

  const http = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      process.stderr.write(
        `mercato-mcp: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      if (!response.headersSent) reply(response, 500, "Internal error");
      else response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port, host, () => resolve());
  });
  const address = http.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

class Overloaded extends Error {}

/** One account's spending meter, and the client of the key that served it last. */
interface Account {
  current: MercatoClient;
  meter: PolicyMeter;
}

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

function hostName(header: string | undefined): string {
  if (!header) return "";
  header = header.toLowerCase();
  if (header.startsWith("[")) return header.slice(0, header.indexOf("]") + 1);
  return header.split(":")[0] ?? "";
}

/** A JSON-RPC error answer outside any MCP exchange (no id: the request was never read). */
function reply(response: ServerResponse, status: number, message: string): void {
  response.statusCode = status;
  response.setHeader("content-type", "application/json");
  response.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}
