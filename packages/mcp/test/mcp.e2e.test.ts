// Issue 19: the marketplace as MCP tools. A real broker (SQLite, dev mode), two real seller kits,
// and `mercato-mcp` as a user runs it (the built bin, in its own process), driven by the official
// MCP client over stdio and over Streamable HTTP. Money is checked to the micro and the ledger
// audit ends the file.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseConfig, type RunningBroker, startBroker } from "@mercato/broker";
import { parseUsd, verifyReceipt } from "@mercato/protocol";
import { createClient, fetchKitContract } from "@mercato/sdk";
import { sellerKit } from "@mercato/seller-kit";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const ADMIN = "mcp-e2e-admin-token-0001";
const CATEGORY = "mcp-e2e";
const Input = z.object({ text: z.string().min(1).max(1000) });
const Output = z.object({ summary: z.string(), by: z.string() });

let dir: string;
let broker: RunningBroker;
const servers: Server[] = [];
const served = { cheap: 0, dear: 0 };
const agents: Record<"cheap" | "dear", string> = { cheap: "", dear: "" };

async function startKit(name: "cheap" | "dear", owner: string): Promise<string> {
  const kit = sellerKit({
    broker: broker.url,
    owner,
    onError: () => {},
    input: Input,
    output: Output,
    handler: async (input: z.infer<typeof Input>) => {
      served[name] += 1;
      return { summary: input.text.slice(0, 10), by: name };
    },
  });
  const server = createServer(kit.node);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/agent`;
}

const admin = async (path: string) =>
  (await fetch(`${broker.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();

async function buyer(name: string, topUpUsd: string) {
  const account = await createClient({ baseUrl: broker.url }).accounts.create({ name });
  const client = createClient({ baseUrl: broker.url, apiKey: account.api_key });
  await client.topups.create({ amountUsd: topUpUsd });
  return {
    key: account.api_key,
    client,
    available: async () => parseUsd((await client.balance()).available_usd),
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mercato-mcp-e2e-"));
  broker = await startBroker(
    parseConfig(
      ["--port", "0", "--dev", "--db", join(dir, "e2e.db"), "--log-level", "silent", "--admin-token", ADMIN],
      {},
    ),
    { scheduler: false },
  );
  const ownerAccount = await createClient({ baseUrl: broker.url }).accounts.create({ name: "Summaries Inc" });
  const owner = createClient({ baseUrl: broker.url, apiKey: ownerAccount.api_key });
  for (const [name, price] of [
    ["cheap", "0.02"],
    ["dear", "0.03"],
  ] as const) {
    const url = await startKit(name, ownerAccount.account_id);
    const contract = await fetchKitContract(url);
    const registered = await owner.agents.register({
      name: `${name} summarizer`,
      description: `Summarizes text (${name})`,
      category: CATEGORY,
      tags: ["text"],
      api_endpoint: url,
      pricing: { model: "per_call", price_per_call: price },
      ...(contract.input_schema && { input_schema: contract.input_schema }),
      ...(contract.output_schema && { output_schema: contract.output_schema }),
    });
    agents[name] = registered.agent_id;
  }
});

afterAll(async () => {
  const audit = await admin("/admin/audit");
  expect(audit.violations).toEqual([]);
  expect(audit.ok).toBe(true);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The environment the server process gets: no login file of the machine's user, no inherited key. */
function serverEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "SYSTEMROOT"])
    if (process.env[name]) env[name] = process.env[name] as string;
  return { ...env, MERCATO_CONFIG_DIR: join(dir, "no-login"), ...extra };
}

async function stdioClient(key: string, args: string[]) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, "--url", broker.url, ...args],
    env: serverEnv({ MERCATO_API_KEY: key }),
    stderr: "pipe",
  });
  const client = new Client({ name: "mcp-e2e", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

/** Every text the model was shown, to check no key is ever among them. */
const shown: string[] = [];

async function tool(client: Client, name: string, args: Record<string, unknown>) {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  for (const part of result.content) if (part.type === "text") shown.push(part.text);
  return result;
}

function structured<T = Record<string, unknown>>(result: CallToolResult): T {
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  return result.structuredContent as T;
}

function toolError(result: CallToolResult): {
  code: string;
  message: string;
  details?: Record<string, unknown>;
} {
  expect(result.isError).toBe(true);
  const part = result.content[0];
  if (part?.type !== "text") throw new Error("a tool error carries its error as text");
  return (JSON.parse(part.text) as { error: { code: string; message: string } }).error;
}

/** The session every transport is put through: tools, search, a paid call, a receipt, the policy. */
async function exercise(client: Client, spender: Awaited<ReturnType<typeof buyer>>) {
  const { tools } = await client.listTools();
  const byName = new Map(tools.map((t) => [t.name, t]));
  expect([...byName.keys()]).toEqual(
    expect.arrayContaining([
      "search_agents",
      "get_agent",
      "call_agent",
      "get_balance",
      "list_transactions",
      "verify_receipt",
    ]),
  );
  expect(byName.get("search_agents")?.annotations?.readOnlyHint).toBe(true);
  expect(byName.get("call_agent")?.annotations?.readOnlyHint).toBe(false);
  expect(byName.get("call_agent")?.outputSchema?.type).toBe("object");

  const found = structured<{ agents: Array<Record<string, unknown>> }>(
    await tool(client, "search_agents", { category: CATEGORY }),
  );
  expect(found.agents.map((a) => a.agent_id).sort()).toEqual([agents.cheap, agents.dear].sort());
  const cheap = found.agents.find((a) => a.agent_id === agents.cheap);
  expect(cheap).toMatchObject({ price_usd: "0.020000", has_input_schema: true, allowed_by_policy: true });
  expect(typeof cheap?.new).toBe("boolean");
  expect(found.agents.find((a) => a.agent_id === agents.dear)?.allowed_by_policy).toBe(false);

  const detail = structured<{
    input_schema: { properties: Record<string, unknown> };
    windows: Record<string, unknown>;
  }>(await tool(client, "get_agent", { agent_id: agents.cheap }));
  expect(Object.keys(detail.input_schema.properties)).toEqual(["text"]);
  expect(Object.keys(detail.windows)).toEqual(["24h", "7d", "30d"]);
  expect(detail.windows["24h"]).toMatchObject({ calls: expect.any(Number), successes: expect.any(Number) });

  // An input the schema refuses: refused before anything is paid, the seller never called.
  const before = await spender.available();
  const servedBefore = served.cheap;
  const refused = toolError(
    await tool(client, "call_agent", { agent_id: agents.cheap, input: { text: 42 } }),
  );
  expect(refused.code).toBe("VALIDATION_ERROR");
  expect(await spender.available()).toBe(before);
  expect(served.cheap).toBe(servedBefore);

  // A paid call: the answer, its cost to the micro, a receipt that verifies.
  const call = structured<{
    output: unknown;
    cost_usd: string;
    agent_id: string;
    transaction_id: string;
    receipt: string;
  }>(await tool(client, "call_agent", { agent_id: agents.cheap, input: { text: "Bitcoin rose 4% today" } }));
  expect(call).toMatchObject({
    output: { summary: "Bitcoin ro", by: "cheap" },
    cost_usd: "0.020000",
    agent_id: agents.cheap,
  });
  expect(await spender.available()).toBe(before - 20_000n);
  expect(served.cheap).toBe(servedBefore + 1);
  const verified = structured<{ valid: boolean; receipt: { transaction_id: string; amount_usd: string } }>(
    await tool(client, "verify_receipt", { receipt: call.receipt }),
  );
  expect(verified).toMatchObject({
    valid: true,
    receipt: { transaction_id: call.transaction_id, amount_usd: "0.020000" },
  });
  const jwks = await (await fetch(`${broker.url}/.well-known/jwks.json`)).json();
  expect((await verifyReceipt(call.receipt, jwks)).amount_usd).toBe("0.020000");
  // A receipt whose signature was tampered with does not verify.
  const forged = `${call.receipt.slice(0, -4)}AAAA`;
  expect(
    structured<{ valid: boolean }>(await tool(client, "verify_receipt", { receipt: forged })).valid,
  ).toBe(false);

  // The dearer agent is above the policy's price ceiling: refused, nothing charged, the limit named.
  const tooDear = toolError(
    await tool(client, "call_agent", { agent_id: agents.dear, input: { text: "hi" } }),
  );
  expect(tooDear).toMatchObject({
    code: "BUDGET_EXCEEDED",
    details: { limit: "max_price", price_usd: "0.030000" },
  });
  expect(served.dear).toBe(0);

  // Letting Mercato choose within the category: the policy keeps it to the agents it allows.
  const chosen = structured<{ agent_id: string; cost_usd: string }>(
    await tool(client, "call_agent", { category: CATEGORY, input: { text: "Ether fell" } }),
  );
  expect(chosen).toMatchObject({ agent_id: agents.cheap, cost_usd: "0.020000" });
  expect(await spender.available()).toBe(before - 40_000n);

  // The session's budget (0.05) has 0.01 left: the next 0.02 call is refused with nothing charged.
  const atBudget = toolError(
    await tool(client, "call_agent", { agent_id: agents.cheap, input: { text: "more" } }),
  );
  expect(atBudget).toMatchObject({
    code: "BUDGET_EXCEEDED",
    details: { limit: "session_budget", remaining_usd: "0.010000", price_usd: "0.020000" },
  });
  expect(await spender.available()).toBe(before - 40_000n);
  expect(served.cheap).toBe(servedBefore + 2);

  const balance = structured<{ available_usd: string }>(await tool(client, "get_balance", {}));
  expect(parseUsd(balance.available_usd)).toBe(before - 40_000n);
  const listed = structured<{ transactions: Array<{ transaction_id: string; amount_usd: string }> }>(
    await tool(client, "list_transactions", { role: "buyer" }),
  );
  expect(listed.transactions.map((t) => t.transaction_id)).toContain(call.transaction_id);

  const resource = await client.readResource({ uri: "mercato://policy" });
  const text = (resource.contents[0] as { text: string }).text;
  shown.push(text);
  expect(JSON.parse(text)).toMatchObject({
    policy: {
      max_price_per_call_usd: "0.025000",
      session_budget_usd: "0.050000",
      daily_budget_usd: "1.000000",
    },
    spending: { session: { spent_usd: "0.040000", remaining_usd: "0.010000" } },
  });
  // The model never sees a key: not in a tool's answer, an error or the policy.
  expect(shown.join("\n")).not.toMatch(/mk_|sk_(live|test)_/);
}

const POLICY = ["--max-price", "0.025", "--budget", "0.05", "--daily-budget", "1"];

describe("mercato-mcp over stdio", () => {
  it("lists the tools, searches, calls an agent (money to the micro, receipt verified), and stops at the budget", async () => {
    const spender = await buyer("Stdio buyer", "10");
    const client = await stdioClient(spender.key, POLICY);
    try {
      await exercise(client, spender);
    } finally {
      await client.close();
    }
    // A new session of the same day starts a new session budget but knows what the day spent: with a
    // daily budget of 0.05 and 0.04 spent today, a 0.02 call is refused and nothing is charged.
    const again = await stdioClient(spender.key, ["--daily-budget", "0.05"]);
    try {
      const before = await spender.available();
      const refused = toolError(
        await tool(again, "call_agent", { agent_id: agents.cheap, input: { text: "x" } }),
      );
      expect(refused).toMatchObject({
        code: "BUDGET_EXCEEDED",
        details: { limit: "daily_budget", remaining_usd: "0.010000" },
      });
      expect(await spender.available()).toBe(before);
    } finally {
      await again.close();
    }
  });

  it("answers every request a client sent before closing its input, then exits 0", async () => {
    const spender = await buyer("Piping buyer", "10");
    const child = spawn(process.execPath, [BIN, "--url", broker.url], {
      env: serverEnv({ MERCATO_API_KEY: spender.key }),
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    const lines = [
      {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-11-25",
          capabilities: {},
          clientInfo: { name: "pipe", version: "1" },
        },
      },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "get_balance", arguments: {} } },
      { jsonrpc: "2.0", id: 3, method: "resources/read", params: { uri: "mercato://policy" } },
    ];
    child.stdin.end(`${lines.map((line) => JSON.stringify(line)).join("\n")}\n`);
    const [code] = await exited(child);
    expect(code).toBe(0);
    const answers = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { id: number; result?: unknown });
    // Requests are answered as they finish, in any order.
    expect(answers.map((a) => a.id).sort()).toEqual([1, 2, 3]);
    expect(answers.find((a) => a.id === 2)?.result).toMatchObject({
      structuredContent: { available_usd: "10.000000" },
    });
  });

  it("refuses to start without an account key, saying how to give one", async () => {
    const child = spawn(process.execPath, [BIN, "--url", broker.url], { env: serverEnv({}) });
    const [code, stderr] = await exited(child);
    expect(code).toBe(2);
    expect(stderr).toContain("UNAUTHENTICATED");
    expect(stderr).toContain("MERCATO_API_KEY");
  });
});

describe("mercato-mcp over Streamable HTTP", () => {
  it("serves each caller with its own key, statelessly, with the same policy", async () => {
    const child = spawn(process.execPath, [BIN, "--url", broker.url, "--http", "0", ...POLICY], {
      env: serverEnv({}),
    });
    try {
      const url = await announcedUrl(child);
      // No key, or a key the broker does not know: refused before any MCP exchange.
      const init = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} };
      const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
      const bare = await fetch(url, { method: "POST", headers, body: JSON.stringify(init) });
      expect(bare.status).toBe(401);
      expect(bare.headers.get("www-authenticate")).toContain("Bearer");
      const forged = await fetch(url, {
        method: "POST",
        headers: { ...headers, authorization: `Bearer mk_${"x".repeat(43)}` },
        body: JSON.stringify(init),
      });
      expect(forged.status).toBe(401);

      const spender = await buyer("HTTP buyer", "10");
      const client = new Client({ name: "mcp-e2e-http", version: "1.0.0" });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { authorization: `Bearer ${spender.key}` } },
        }),
      );
      try {
        await exercise(client, spender);
      } finally {
        await client.close();
      }
    } finally {
      child.kill("SIGTERM");
      await exited(child);
    }
  });
});

/** The `/mcp` URL the HTTP server prints on standard error once it listens. */
function announcedUrl(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    child.stderr.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
      const match = /Streamable HTTP at (http:\/\/\S+\/mcp)/.exec(text);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`mercato-mcp exited (${code}): ${text}`)));
  });
}

function exited(child: ChildProcessWithoutNullStreams): Promise<[number | null, string]> {
  return new Promise((resolve) => {
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    if (child.exitCode !== null) return resolve([child.exitCode, stderr]);
    child.once("exit", (code) => resolve([code, stderr]));
  });
}
