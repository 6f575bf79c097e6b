// Listed agents as tools of their own (`--agent-tools`): which agents become tools, their names and
// schemas, what calling one charges, the list_changed notification, and sellers who try to shadow a
// built-in tool or raise their price after the tools were listed. Real broker, real seller kits, the
// ledger audit at the end.
import { parseUsd } from "@mercato/protocol";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentToolCatalog, MAX_AGENT_TOOLS } from "../src/agent-tools.js";
import { type PolicyOptions, parsePolicy } from "../src/policy.js";
import { closeAudited, connect, type Market, startMarket, structured, toolError } from "./support.js";

let market: Market;

beforeAll(async () => {
  market = await startMarket("mcp-agent-tools-admin-0001");
});

afterAll(() => closeAudited(market));

/** A server whose catalog reads the listings on the first tools/list, with the same policy as the server. */
async function withCatalog(key: string, options: PolicyOptions, max: number) {
  const catalog = createAgentToolCatalog(parsePolicy(options), max);
  const mcp = await connect(market.broker.url, key, options, catalog, 0);
  return { catalog, mcp };
}

const agentToolNames = (tools: Array<{ name: string }>) =>
  tools.map((t) => t.name).filter((name) => name.startsWith("agent_"));

const tail = (agentId: string) =>
  agentId
    .replace(/[^A-Za-z0-9]/g, "")
    .slice(-8)
    .toLowerCase();

describe("createAgentToolCatalog", () => {
  it("clamps the number of tools to 0..MAX_AGENT_TOOLS, and a catalog of 0 never asks the broker", async () => {
    const policy = parsePolicy({});
    expect(createAgentToolCatalog(policy, 1000).max).toBe(MAX_AGENT_TOOLS);
    expect(createAgentToolCatalog(policy, 3.9).max).toBe(3);
    const none = createAgentToolCatalog(policy, -5);
    expect(none.max).toBe(0);
    const buyer = await market.buyer("none buyer", "10");
    let asked = 0;
    const counting = new Proxy(buyer.client, {
      get(target, property, receiver) {
        asked += 1;
        return Reflect.get(target, property, receiver);
      },
    });
    expect(await none.refresh(counting)).toBe(false);
    expect(asked).toBe(0);
    expect(none.list()).toEqual([]);
    expect(none.refreshedAt).toBe(0);
  });
});

describe("agent tools through the server", () => {
  it("lists the allowed agents as agent_<slug>_<idtail> tools, best-ranked first, at most n", async () => {
    const category = "at-list";
    const alpha = await market.seller({ name: "Alpha Summarizer", price: "0.02", category });
    const beta = await market.seller({ name: "Beta Summarizer", price: "0.03", category });
    const wrapped = await market.seller({
      name: "Echos — Strings!",
      price: "0.01",
      category,
      stringInput: true,
    });
    const gamma = await market.seller({ name: "Gamma Summarizer", price: "0.05", category });
    const other = await market.seller({ name: "Other Summarizer", price: "0.001", category: "at-elsewhere" });
    const buyer = await market.buyer("listing buyer", "10");
    const options = { maxPrice: "0.04", categories: category };

    const { catalog, mcp } = await withCatalog(buyer.key, options, 10);
    try {
      const { tools } = await mcp.client.listTools();
      expect(catalog.refreshedAt).toBeGreaterThan(0);
      const byAgent = new Map(catalog.list().map((t) => [t.agentId, t]));
      // Above the price ceiling or in another category: not a tool.
      expect([...byAgent.keys()].sort()).toEqual([alpha.agentId, beta.agentId, wrapped.agentId].sort());
      expect(byAgent.has(gamma.agentId)).toBe(false);
      expect(byAgent.has(other.agentId)).toBe(false);
      // Ranked by cost per success: the cheapest first (no calls measured yet).
      expect(catalog.list().map((t) => t.agentId)).toEqual([wrapped.agentId, alpha.agentId, beta.agentId]);

      const names = agentToolNames(tools);
      expect(names).toEqual([
        `agent_echos_strings_${tail(wrapped.agentId)}`,
        `agent_alpha_summarizer_${tail(alpha.agentId)}`,
        `agent_beta_summarizer_${tail(beta.agentId)}`,
      ]);
      for (const name of names) expect(name).toMatch(/^agent_[a-z0-9_]{1,57}$/);

      const alphaTool = tools.find((t) => t.name === names[1]);
      expect(alphaTool?.inputSchema).toMatchObject({
        type: "object",
        properties: { text: { type: "string" } },
      });
      expect(alphaTool?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
      expect(alphaTool?.description).toContain(alpha.agentId);
      expect(alphaTool?.description).toContain("0.020000 USD per successful call");
      expect(alphaTool?.outputSchema?.type).toBe("object");
      // A listing whose input is not an object: the tool takes it under `input`.
      const wrappedTool = tools.find((t) => t.name === names[0]);
      expect(wrappedTool?.inputSchema).toMatchObject({
        type: "object",
        properties: { input: { type: "string" } },
        required: ["input"],
      });
      expect(byAgent.get(wrapped.agentId)?.wrapped).toBe(true);
      expect(byAgent.get(alpha.agentId)?.wrapped).toBe(false);

      const policy = await mcp.policy();
      expect(policy.agent_tools).toEqual({ max: 10, listed: 3 });
    } finally {
      await mcp.close();
    }

    // At most n: the best-ranked ones.
    const few = await withCatalog(buyer.key, options, 2);
    try {
      const { tools } = await few.mcp.client.listTools();
      expect(agentToolNames(tools)).toEqual([
        `agent_echos_strings_${tail(wrapped.agentId)}`,
        `agent_alpha_summarizer_${tail(alpha.agentId)}`,
      ]);
    } finally {
      await few.mcp.close();
    }

    // An --agents allow-list: only those agents, whatever the ranking.
    const listed = await withCatalog(buyer.key, { ...options, agents: beta.agentId }, 10);
    try {
      const { tools } = await listed.mcp.client.listTools();
      expect(agentToolNames(tools)).toEqual([`agent_beta_summarizer_${tail(beta.agentId)}`]);
    } finally {
      await listed.mcp.close();
    }
  });

  // NFKD splits an accented letter into the letter and its mark; the mark is dropped, not turned into "_".
  it("folds accented letters of a listing's name into plain letters of its tool name", async () => {
    const category = "at-accents";
    const accented = await market.seller({ name: "Échos Café", price: "0.01", category });
    const buyer = await market.buyer("accent buyer", "10");
    const { mcp } = await withCatalog(buyer.key, { categories: category }, 5);
    try {
      const names = agentToolNames((await mcp.client.listTools()).tools);
      // Whatever the fold, the name is a plain tool name.
      expect(names[0]).toMatch(/^agent_[a-z0-9_]+$/);
      expect(names).toEqual([`agent_echos_cafe_${tail(accented.agentId)}`]);
    } finally {
      await mcp.close();
    }
  });

  it(`offers at most MAX_AGENT_TOOLS (${MAX_AGENT_TOOLS}) tools, however many are asked for and listed`, async () => {
    const category = "at-many";
    const owner = await market.newOwner("Many Listings Inc");
    const listed = await Promise.all(
      Array.from({ length: MAX_AGENT_TOOLS + 2 }, (_, i) =>
        market.seller({ name: `Many ${i}`, price: `0.0${(i % 9) + 1}`, category, owner }),
      ),
    );
    const buyer = await market.buyer("many buyer", "10");
    const { catalog, mcp } = await withCatalog(buyer.key, { categories: category }, 1000);
    try {
      const names = agentToolNames((await mcp.client.listTools()).tools);
      expect(names).toHaveLength(MAX_AGENT_TOOLS);
      expect(new Set(names).size).toBe(MAX_AGENT_TOOLS);
      const ids = new Set(listed.map((s) => s.agentId));
      expect(catalog.list().every((t) => ids.has(t.agentId))).toBe(true);
      // The two left out are among the dearest (0.09 USD).
      const left = listed.filter((s) => !catalog.list().some((t) => t.agentId === s.agentId));
      expect(left).toHaveLength(2);
      for (const s of left) expect(listed.indexOf(s) % 9).toBe(8);
    } finally {
      await mcp.close();
    }
  });

  it("calling an agent tool charges exactly the price; its input is checked first", async () => {
    const category = "at-call";
    const plain = await market.seller({ name: "Plain", price: "0.023456", category });
    const wrapped = await market.seller({ name: "Wrapped", price: "0.011111", category, stringInput: true });
    const buyer = await market.buyer("agent tool buyer", "10");
    const { mcp } = await withCatalog(buyer.key, { categories: category, budget: "1" }, 5);
    try {
      const names = agentToolNames((await mcp.client.listTools()).tools);
      const plainTool = names.find((n) => n.endsWith(tail(plain.agentId))) as string;
      const wrappedTool = names.find((n) => n.endsWith(tail(wrapped.agentId))) as string;
      const before = await buyer.available();

      const refused = toolError(await mcp.tool(plainTool, { text: 7 }));
      expect(refused.code).toBe("VALIDATION_ERROR");
      const unwrapped = toolError(await mcp.tool(wrappedTool, { text: "not under input" }));
      expect(unwrapped.code).toBe("VALIDATION_ERROR");
      expect(await buyer.available()).toBe(before);
      expect(plain.served() + wrapped.served()).toBe(0);

      const first = structured<{ output: unknown; cost_usd: string; agent_id: string }>(
        await mcp.tool(plainTool, { text: "agent tools are tools" }),
      );
      expect(first).toMatchObject({
        output: { summary: "agent tool", by: "Plain" },
        cost_usd: "0.023456",
        agent_id: plain.agentId,
      });
      const second = structured<{ output: unknown; cost_usd: string }>(
        await mcp.tool(wrappedTool, { input: "a plain string" }),
      );
      expect(second).toMatchObject({
        output: { summary: "a plain st", by: "Wrapped" },
        cost_usd: "0.011111",
      });
      expect(await buyer.available()).toBe(before - 23_456n - 11_111n);
      expect((await mcp.policy()).spending.session.spent_usd).toBe("0.034567");
    } finally {
      await mcp.close();
    }
  });

  it("a new cheaper listing: refresh answers true and tools/list_changed reaches the client", async () => {
    const category = "at-change";
    await market.seller({ name: "Incumbent", price: "0.02", category });
    const buyer = await market.buyer("notified buyer", "10");
    const { catalog, mcp } = await withCatalog(buyer.key, { categories: category }, 5);
    try {
      expect(agentToolNames((await mcp.client.listTools()).tools)).toHaveLength(1);
      // Nothing changed: no notification is due.
      expect(await catalog.refresh(buyer.client)).toBe(false);

      const notified = new Promise<void>((resolve) => {
        mcp.client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve());
      });
      const newcomer = await market.seller({ name: "Newcomer", price: "0.01", category });
      expect(await catalog.refresh(buyer.client)).toBe(true);
      await mcp.server.sendToolListChanged();
      await notified;
      const names = agentToolNames((await mcp.client.listTools()).tools);
      expect(names).toHaveLength(2);
      expect(names[0]).toBe(`agent_newcomer_${tail(newcomer.agentId)}`);
      expect(await catalog.refresh(buyer.client)).toBe(false);

      // A listing that stops taking calls is no tool any more.
      await market.owner.agents.deactivate(newcomer.agentId);
      expect(await catalog.refresh(buyer.client)).toBe(true);
      expect(catalog.list().map((t) => t.agentId)).not.toContain(newcomer.agentId);
    } finally {
      await mcp.close();
    }
  });

  it("a seller cannot shadow a built-in tool by naming its listing after it", async () => {
    const category = "at-shadow";
    const seller = await market.seller({ name: "Honest", price: "0.01", category });
    const buyer = await market.buyer("shadow buyer", "10");
    const { catalog, mcp } = await withCatalog(buyer.key, { categories: category }, 5);
    try {
      for (const name of ["search_agents", "call_agent", "get_balance"]) {
        await market.owner.agents.update(seller.agentId, { name });
        expect(await catalog.refresh(buyer.client)).toBe(true);
        const { tools } = await mcp.client.listTools();
        expect(tools.filter((t) => t.name === name)).toHaveLength(1);
        expect(agentToolNames(tools)).toEqual([`agent_${name}_${tail(seller.agentId)}`]);
      }
      // A name that is only punctuation or path tricks still makes a plain agent_ tool name.
      await market.owner.agents.update(seller.agentId, { name: "../../__proto__" });
      await catalog.refresh(buyer.client);
      expect(agentToolNames((await mcp.client.listTools()).tools)).toEqual([
        `agent_proto_${tail(seller.agentId)}`,
      ]);

      // Calling "search_agents" runs the built-in search, free, and never the seller.
      const before = await buyer.available();
      const search = structured<{ agents: unknown[] }>(await mcp.tool("search_agents", { category }));
      expect(search.agents).toHaveLength(1);
      expect(await buyer.available()).toBe(before);
      expect(seller.served()).toBe(0);
    } finally {
      await mcp.close();
    }
  });

  it("a seller who raises its price after the tools were listed: the call uses the current price", async () => {
    const category = "at-raise";
    const seller = await market.seller({ name: "Riser", price: "0.02", category });
    const buyer = await market.buyer("raise buyer", "10");
    const { mcp } = await withCatalog(buyer.key, { categories: category, maxPrice: "0.04" }, 5);
    try {
      const [name] = agentToolNames((await mcp.client.listTools()).tools);
      expect(name).toBe(`agent_riser_${tail(seller.agentId)}`);
      const before = await buyer.available();

      // Above the policy's ceiling now: refused, nothing charged, the seller never called.
      await market.owner.agents.update(seller.agentId, { pricing: { price_per_call: "0.05" } });
      const refused = toolError(await mcp.tool(name as string, { text: "x" }));
      expect(refused).toMatchObject({
        code: "BUDGET_EXCEEDED",
        details: { limit: "max_price", price_usd: "0.050000", max_price_per_call_usd: "0.040000" },
      });
      expect(await buyer.available()).toBe(before);
      expect(seller.served()).toBe(0);

      // Within the ceiling: charged what it costs now (not what the tool's description said).
      await market.owner.agents.update(seller.agentId, { pricing: { price_per_call: "0.03" } });
      const call = structured<{ cost_usd: string }>(await mcp.tool(name as string, { text: "x" }));
      expect(call.cost_usd).toBe("0.030000");
      expect(await buyer.available()).toBe(before - parseUsd("0.03"));
      expect(seller.served()).toBe(1);
    } finally {
      await mcp.close();
    }
  });
});
