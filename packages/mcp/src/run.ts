import { isMercatoError, MercatoError } from "@mercato/protocol/errors";
import type { FetchFunction } from "@mercato/sdk";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Command } from "commander";
import { type AgentToolCatalog, createAgentToolCatalog, MAX_AGENT_TOOLS } from "./agent-tools.js";
import { startHttpServer } from "./http.js";
import { readLogin } from "./login-config.js";
import { parsePolicy } from "./policy.js";
import {
  type AccountSession,
  createAccountSession,
  createMcpServer,
  createShared,
  type ServerShared,
  whenIdle,
} from "./server.js";

export const DEFAULT_BROKER_URL = "http://127.0.0.1:4020";
/** How often the agent tools are read again by default, seconds. */
export const DEFAULT_AGENT_TOOLS_REFRESH_S = 300;
/** The shortest refresh interval: each refresh reads the broker's search and each listing. */
export const MIN_AGENT_TOOLS_REFRESH_S = 10;

/** The options of `mercato-mcp` (and `mercato mcp`), as commander parses them. */
export interface McpOptions {
  url?: string;
  key?: string;
  http?: string;
  host?: string;
  maxPrice?: string;
  budget?: string;
  dailyBudget?: string;
  categories?: string;
  agents?: string;
  agentTools?: string;
  agentToolsRefresh?: string;
}

/**
 * Adds the server's options to a command: the connection (`--url`, `--key`) unless the command has
 * its own (the `mercato` CLI's global ones), the transport and the spending policy.
 */
export function configureMcpCommand(
  command: Command,
  options: { connection?: boolean; invokedAs?: string } = {},
): Command {
  const invokedAs = options.invokedAs ?? "mercato-mcp";
  if (options.connection !== false) {
    command
      .option(
        "--url <url>",
        `the broker (env MERCATO_URL; default: the logged-in one, else ${DEFAULT_BROKER_URL})`,
      )
      .option(
        "--key <key>",
        "the account key to spend from over stdio (env MERCATO_API_KEY; default: the logged-in one)",
      );
  }
  return command
    .description(
      "Serve the Mercato marketplace as MCP tools (search_agents, get_agent, call_agent, get_balance, list_transactions, verify_receipt) to an MCP client, within a spending policy you set",
    )
    .option(
      "--http <port>",
      "serve Streamable HTTP at http://HOST:PORT/mcp instead of stdio; each request brings its own account key as a Bearer token",
    )
    .option("--host <host>", "the interface --http listens on (default 127.0.0.1)")
    .option("--max-price <usd>", "the most one call may cost, USD (env MERCATO_MAX_PRICE)")
    .option("--budget <usd>", "the most this session may spend, USD (env MERCATO_BUDGET)")
    .option(
      "--daily-budget <usd>",
      "the most the account may spend per UTC day, USD, counting what it spent earlier that day (env MERCATO_DAILY_BUDGET)",
    )
    .option(
      "--categories <list>",
      "only agents in these categories, comma-separated (env MERCATO_CATEGORIES)",
    )
    .option("--agents <list>", "only these agents, comma-separated ids (env MERCATO_AGENTS)")
    .option(
      "--agent-tools <n>",
      `also offer the n best-ranked allowed agents as tools of their own, at most ${MAX_AGENT_TOOLS} (env MERCATO_AGENT_TOOLS; default 0)`,
    )
    .option(
      "--agent-tools-refresh <seconds>",
      `how often the agent tools are read again (default ${DEFAULT_AGENT_TOOLS_REFRESH_S})`,
    )
    .addHelpText(
      "after",
      `
The policy is yours, not the model's: no tool can change it. A call past a limit is refused with
nothing charged, and the error says which limit and what is left. The model never sees a key.

Examples:
  $ ${invokedAs}${options.connection === false ? "" : " --key mk_..."} --max-price 0.05 --budget 2 --daily-budget 10
  $ ${invokedAs} --http 8765 --max-price 0.10 --categories crypto,text
Claude Desktop (claude_desktop_config.json):
  { "mcpServers": { "mercato": { "command": "npx", "args": ["-y", "@mercato/mcp", "--budget", "2"],
                                 "env": { "MERCATO_URL": "http://127.0.0.1:4020", "MERCATO_API_KEY": "mk_..." } } } }`,
    );
}

/** What {@link runMcp} runs with besides the options: the environment, where to log, when to stop. */
export interface McpIo {
  env: NodeJS.ProcessEnv;
  /** Log lines (standard error: standard output is the stdio transport's). */
  log: (line: string) => void;
  /** Resolves when an HTTP server should stop (stdio stops when its input ends). */
  untilStopped: () => Promise<unknown>;
  fetch?: FetchFunction;
}

function positiveWhole(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new MercatoError("VALIDATION_ERROR", `${flag} must be a whole number ≥ 0, got ${value}`);
  return n;
}

/**
 * Runs the server until stdio's input ends or, over HTTP, until `untilStopped` resolves.
 * @throws MercatoError `VALIDATION_ERROR` / `INVALID_AMOUNT` for a bad option, `UNAUTHENTICATED`
 *   for stdio without an account key.
 */
export async function runMcp(options: McpOptions, io: McpIo): Promise<void> {
  const { env } = io;
  const login = await readLogin(env);
  const brokerUrl = (options.url ?? env.MERCATO_URL ?? login.url ?? DEFAULT_BROKER_URL).replace(/\/+$/, "");
  try {
    new URL(brokerUrl);
  } catch {
    throw new MercatoError("VALIDATION_ERROR", `--url must be a URL, got ${JSON.stringify(brokerUrl)}`);
  }
  const policy = parsePolicy({
    maxPrice: options.maxPrice ?? env.MERCATO_MAX_PRICE,
    budget: options.budget ?? env.MERCATO_BUDGET,
    dailyBudget: options.dailyBudget ?? env.MERCATO_DAILY_BUDGET,
    categories: options.categories ?? env.MERCATO_CATEGORIES,
    agents: options.agents ?? env.MERCATO_AGENTS,
  });
  const agentTools = positiveWhole(options.agentTools ?? env.MERCATO_AGENT_TOOLS, "--agent-tools", 0);
  const refreshS = positiveWhole(
    options.agentToolsRefresh,
    "--agent-tools-refresh",
    DEFAULT_AGENT_TOOLS_REFRESH_S,
  );
  if (refreshS < MIN_AGENT_TOOLS_REFRESH_S) {
    throw new MercatoError(
      "VALIDATION_ERROR",
      `--agent-tools-refresh must be at least ${MIN_AGENT_TOOLS_REFRESH_S} seconds, got ${refreshS}`,
    );
  }
  const shared = createShared({
    brokerUrl,
    policy,
    agentTools: agentTools > 0 ? createAgentToolCatalog(policy, agentTools) : undefined,
    agentToolsTtlMs: refreshS * 1000,
    fetch: io.fetch,
  });

  if (options.http !== undefined) {
    if (options.key !== undefined) {
      throw new MercatoError(
        "VALIDATION_ERROR",
        "--key is for stdio: over HTTP each client sends its own account key (Authorization: Bearer mk_…)",
      );
    }
    const port = positiveWhole(options.http, "--http", 0);
    const server = await startHttpServer({
      shared,
      port,
      ...(options.host !== undefined && { host: options.host }),
    });
    io.log(`mercato-mcp: Streamable HTTP at ${server.url} (broker ${brokerUrl})`);
    await io.untilStopped();
    await server.close();
    return;
  }

  const apiKey = options.key ?? env.MERCATO_API_KEY ?? login.apiKey;
  if (apiKey === undefined) {
    throw new MercatoError(
      "UNAUTHENTICATED",
      "No account key: pass --key mk_…, set MERCATO_API_KEY, or run `mercato login` first",
    );
  }
  await runStdio(shared, apiKey, io);
}

async function runStdio(shared: ServerShared, apiKey: string, io: McpIo): Promise<void> {
  const session = createAccountSession(shared, apiKey);
  const catalog = shared.agentTools;
  // The first read of the agent tools comes before the client connects, so that its first
  // tools/list has them; later changes are announced with notifications/tools/list_changed.
  if (catalog) await refreshCatalog(catalog, session, io);
  const server = createMcpServer(shared, session);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
  });
  await server.connect(transport);
  io.log(`mercato-mcp: serving MCP on stdio (broker ${shared.brokerUrl})`);
  let timer: NodeJS.Timeout | undefined;
  if (catalog) {
    timer = setInterval(async () => {
      if (await refreshCatalog(catalog, session, io))
        await server.sendToolListChanged().catch(() => undefined);
    }, shared.agentToolsTtlMs);
    timer.unref();
  }
  // Standard input ending (the client is done) closes the server once the requests it sent are answered.
  process.stdin.once("end", () => void whenIdle(server).then(() => server.close()));
  await closed;
  if (timer) clearInterval(timer);
}

/** Reads the agent tools again: whether they changed (false when the broker could not be read). */
async function refreshCatalog(
  catalog: AgentToolCatalog,
  session: AccountSession,
  io: McpIo,
): Promise<boolean> {
  try {
    return await catalog.refresh(session.client);
  } catch (error) {
    io.log(
      `mercato-mcp: could not read the agent tools: ${isMercatoError(error) ? error.message : (error as Error).message}`,
    );
    return false;
  }
}
