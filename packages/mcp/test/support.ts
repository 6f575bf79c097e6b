// Shared fixtures of the in-process tests: a real broker (SQLite, dev mode), seller kits, buyers, and
// an MCP client connected to `createMcpServer` through the SDK's in-memory transport.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig, type RunningBroker, startBroker } from "@mercato/broker";
import { parseUsd } from "@mercato/protocol";
import { createClient, type FetchFunction, fetchKitContract, type MercatoClient } from "@mercato/sdk";
import { sellerKit } from "@mercato/seller-kit";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { expect } from "vitest";
import * as z from "zod";
import type { AgentToolCatalog } from "../src/agent-tools.js";
import { type PolicyOptions, parsePolicy } from "../src/policy.js";
import {
  type AccountSession,
  createAccountSession,
  createMcpServer,
  createShared,
  type ServerShared,
} from "../src/server.js";

export const TextInput = z.object({ text: z.string().min(1).max(1000) });
export const TextOutput = z.object({ summary: z.string(), by: z.string() });

export interface Seller {
  agentId: string;
  /** How many times the seller's handler ran. */
  served: () => number;
}

export interface Market {
  broker: RunningBroker;
  admin: string;
  owner: MercatoClient;
  ownerId: string;
  /** Registers a seller kit as a listing; `fail` makes its handler throw. */
  seller(options: SellerOptions): Promise<Seller>;
  /** A new seller account. */
  newOwner(name: string): Promise<Owner>;
  buyer(name: string, topUpUsd: string): Promise<Buyer>;
  audit(): Promise<{ ok: boolean; violations: unknown[] }>;
  close(): Promise<void>;
}

export interface SellerOptions {
  name: string;
  price: string;
  category: string;
  description?: string;
  tags?: string[];
  fail?: boolean;
  /** A string input instead of `{text}`: its input schema is not an object. */
  stringInput?: boolean;
  /** Another owner than the market's (each account may register 30 listings an hour). */
  owner?: Owner;
}

export interface Owner {
  client: MercatoClient;
  accountId: string;
}

export interface Buyer {
  key: string;
  accountId: string;
  client: MercatoClient;
  available(): Promise<bigint>;
}

export async function startMarket(adminToken: string): Promise<Market> {
  const dir = mkdtempSync(join(tmpdir(), "mercato-mcp-unit-"));
  const broker = await startBroker(
    parseConfig(
      [
        "--port",
        "0",
        "--dev",
        "--db",
        join(dir, "unit.db"),
        "--log-level",
        "silent",
        "--admin-token",
        adminToken,
      ],
      {},
    ),
    { scheduler: false },
  );
  const servers: HttpServer[] = [];
  const ownerAccount = await createClient({ baseUrl: broker.url }).accounts.create({ name: "Owner Inc" });
  const owner = createClient({ baseUrl: broker.url, apiKey: ownerAccount.api_key });

  const seller = async (options: SellerOptions): Promise<Seller> => {
    let served = 0;
    const listingOwner = options.owner ?? { client: owner, accountId: ownerAccount.account_id };
    const kit = options.stringInput
      ? sellerKit({
          broker: broker.url,
          owner: listingOwner.accountId,
          onError: () => {},
          input: z.string().min(1).max(100),
          output: TextOutput,
          handler: async (input: string) => {
            served += 1;
            return { summary: input.slice(0, 10), by: options.name };
          },
        })
      : sellerKit({
          broker: broker.url,
          owner: listingOwner.accountId,
          onError: () => {},
          input: TextInput,
          output: TextOutput,
          handler: async (input: z.infer<typeof TextInput>) => {
            served += 1;
            if (options.fail) throw new Error("the seller broke");
            return { summary: input.text.slice(0, 10), by: options.name };
          },
        });
    const server = createServer(kit.node);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/agent`;
    const contract = await fetchKitContract(url);
    const registered = await listingOwner.client.agents.register({
      name: options.name,
      description: options.description ?? `Summarizes text (${options.name})`,
      category: options.category,
      tags: options.tags ?? ["text"],
      api_endpoint: url,
      pricing: { model: "per_call", price_per_call: options.price },
      ...(contract.input_schema && { input_schema: contract.input_schema }),
      ...(contract.output_schema && { output_schema: contract.output_schema }),
    });
    return { agentId: registered.agent_id, served: () => served };
  };

  const buyer = async (name: string, topUpUsd: string): Promise<Buyer> => {
    const account = await createClient({ baseUrl: broker.url }).accounts.create({ name });
    const client = createClient({ baseUrl: broker.url, apiKey: account.api_key });
    await client.topups.create({ amountUsd: topUpUsd });
    return {
      key: account.api_key,
      accountId: account.account_id,
      client,
      available: async () => parseUsd((await client.balance()).available_usd),
    };
  };

  return {
    broker,
    admin: adminToken,
    owner,
    ownerId: ownerAccount.account_id,
    seller,
    buyer,
    newOwner: async (name) => {
      const account = await createClient({ baseUrl: broker.url }).accounts.create({ name });
      return {
        client: createClient({ baseUrl: broker.url, apiKey: account.api_key }),
        accountId: account.account_id,
      };
    },
    audit: async () =>
      (await (
        await fetch(`${broker.url}/admin/audit`, { headers: { authorization: `Bearer ${adminToken}` } })
      ).json()) as { ok: boolean; violations: unknown[] },
    close: async () => {
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Connected {
  client: Client;
  server: Server;
  shared: ServerShared;
  session: AccountSession;
  /** Every text the model was shown (tool answers, errors, the policy resource, tools/list). */
  shown: string[];
  tool(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  policy(): Promise<PolicyResource>;
  close(): Promise<void>;
}

export interface PolicyResource {
  policy: Record<string, unknown>;
  spending: {
    session: { spent_usd: string; reserved_usd: string; remaining_usd: string | null };
    today: { date: string; spent_usd: string; reserved_usd: string; remaining_usd: string | null };
  };
  agent_tools: { max: number; listed: number } | null;
}

/** An MCP client connected in-process to a server for `key` under `policy`. */
export async function connect(
  brokerUrl: string,
  key: string,
  policy: PolicyOptions,
  agentTools?: AgentToolCatalog,
  agentToolsTtlMs = Number.POSITIVE_INFINITY,
  /** The `fetch` the server's SDK client reads the broker with (to lose or reshape answers). */
  fetch?: FetchFunction,
): Promise<Connected> {
  const shared = createShared({
    brokerUrl,
    policy: parsePolicy(policy),
    agentTools,
    agentToolsTtlMs,
    fetch,
  });
  const session = createAccountSession(shared, key);
  const server = createMcpServer(shared, session);
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "mcp-unit", version: "1.0.0" });
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  const shown: string[] = [];
  const remember = (result: CallToolResult) => {
    for (const part of result.content) if (part.type === "text") shown.push(part.text);
    return result;
  };
  return {
    client,
    server,
    shared,
    session,
    shown,
    tool: async (name, args) =>
      remember((await client.callTool({ name, arguments: args })) as CallToolResult),
    policy: async () => {
      const read = await client.readResource({ uri: "mercato://policy" });
      const text = (read.contents[0] as { text: string }).text;
      shown.push(text);
      return JSON.parse(text) as PolicyResource;
    },
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

export function structured<T = Record<string, unknown>>(result: CallToolResult): T {
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  return result.structuredContent as T;
}

export function toolError(result: CallToolResult): {
  code: string;
  message: string;
  details?: Record<string, unknown>;
} {
  expect(result.isError, JSON.stringify(result.content)).toBe(true);
  expect(result.structuredContent).toBeUndefined();
  const part = result.content[0];
  if (part?.type !== "text") throw new Error("a tool error carries its error as text");
  return (JSON.parse(part.text) as { error: { code: string; message: string } }).error;
}

/** Ends a test file: the ledger audit of `market` must be clean, then the market stops. */
export async function closeAudited(market: Market | undefined): Promise<void> {
  if (!market) return;
  const audit = await market.audit();
  expect(audit.violations).toEqual([]);
  expect(audit.ok).toBe(true);
  await market.close();
}
