import { EMPTY_COUNTERS, isMercatoError, RANKING, scoreAgent, successLowerBound } from "@mercato/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AccountRecord, ApiKeyRecord } from "../../src/accounts/port.js";
import type { Store } from "../../src/app/store.js";
import type { AgentRecord, AgentSearch, NewAgent } from "../../src/registry/port.js";
import { establishedBuyers, spreadOverBuyers } from "../support/buyers.js";
import { apiKeyRecord } from "../support/records.js";

/**
 * The store conformance suite: every `Store` implementation (SQLite today, PostgreSQL later) must
 * pass it. Call it from the implementation's test file with a factory of fresh, empty stores.
 *
 * @example
 * describeStoreConformance("sqlite", () => createSqliteStore({ path: ":memory:" }));
 */
export function describeStoreConformance(name: string, makeStore: () => Store | Promise<Store>): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let n = 0;
    const T0 = "2026-01-01T00:00:00.000Z";
    const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

    /** 60 established buyers, made on first use: calls spread over them are never capped. */
    let buyers: string[] | undefined;
    /** Records calls spread over the established buyers (a success, or a seller failure). */
    const recordOld = async (
      calls: ReadonlyArray<{ agentId: string; success: boolean; responseTimeMs: number }>,
      at: string,
    ) => {
      buyers ??= await establishedBuyers(store, 60);
      await store.recordCallOutcomes(spreadOverBuyers(buyers, calls), at);
    };

    beforeEach(async () => {
      buyers = undefined;
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    const account = (id = `acct_test${String(++n).padStart(8, "0")}`): AccountRecord => ({
      id,
      name: `Account ${id}`,
      email: null,
      createdAt: T0,
    });
    const key = (accountId: string, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord => {
      const id = `key_test${String(++n).padStart(8, "0")}`;
      return apiKeyRecord({
        id,
        accountId,
        hash: id.padEnd(64, "0").replace(/[^0-9a-f]/g, "a"),
        createdAt: T0,
        ...overrides,
      });
    };
    const newAgent = (ownerId: string, overrides: Partial<NewAgent> = {}): NewAgent => ({
      id: `agent_test${String(++n).padStart(8, "0")}`,
      ownerId,
      name: "Crypto News Summarizer",
      description: "Summarizes crypto news from multiple sources",
      category: "crypto",
      tags: ["news", "summarization"],
      version: "1.0.0",
      apiEndpoint: "https://api.example.com/agent",
      status: "active",
      pricing: { model: "per_call", priceMicros: 20_000, currency: "USD", tier: "basic", minCalls: 1 },
      createdAt: T0,
      ...overrides,
    });
    const withOwner = async (): Promise<string> => {
      const owner = account();
      await store.createAccount(owner, key(owner.id));
      return owner.id;
    };
    const ids = (agents: AgentRecord[]) => agents.map((agent) => agent.id);
    const searchAll = async (search: Omit<AgentSearch, "cursor">): Promise<AgentRecord[]> => {
      const found: AgentRecord[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 100; page++) {
        const result = await store.searchAgents({ ...search, ...(cursor !== undefined && { cursor }) });
        found.push(...result.agents);
        if (result.nextCursor === null) return found;
        cursor = result.nextCursor;
      }
      throw new Error("pagination did not end");
    };

    describe("accounts and keys", () => {
      it("creates an account with its first key and finds the key by hash", async () => {
        const owner = account();
        const first = key(owner.id);
        await store.createAccount(owner, first);
        expect(await store.getAccount(owner.id)).toEqual(owner);
        expect(await store.findApiKeyByHash(first.hash)).toEqual(first);
        expect(await store.getApiKey(first.id)).toEqual(first);
        expect(await store.getAccount("acct_missing00")).toBeUndefined();
        expect(await store.findApiKeyByHash("f".repeat(64))).toBeUndefined();
      });

      it("does not create the account when its first key is refused", async () => {
        const owner = account();
        const first = key(owner.id);
        await store.createAccount(owner, first);
        const other = account();
        await expect(store.createAccount(other, { ...key(other.id), hash: first.hash })).rejects.toThrow();
        expect(await store.getAccount(other.id)).toBeUndefined();
      });

      it("lists an account's keys newest first, and only its own", async () => {
        const owner = account();
        await store.createAccount(owner, key(owner.id, { createdAt: at(0) }));
        await store.insertApiKey(key(owner.id, { createdAt: at(2), name: "newest" }));
        await store.insertApiKey(key(owner.id, { createdAt: at(1), name: "middle" }));
        const stranger = account();
        await store.createAccount(stranger, key(stranger.id));
        const keys = await store.listApiKeys(owner.id);
        expect(keys.map((k) => k.name)).toEqual(["newest", "middle", null]);
        expect(keys.every((k) => k.accountId === owner.id)).toBe(true);
      });

      it("revokes a key once: a second revocation keeps the first time", async () => {
        const owner = account();
        const first = key(owner.id);
        await store.createAccount(owner, first);
        expect((await store.revokeApiKey(first.id, at(5)))?.revokedAt).toBe(at(5));
        expect((await store.revokeApiKey(first.id, at(9)))?.revokedAt).toBe(at(5));
        expect(await store.revokeApiKey("key_missing000", at(9))).toBeUndefined();
      });

      it("rotates atomically, and refuses to rotate a revoked key", async () => {
        const owner = account();
        const old = key(owner.id);
        await store.createAccount(owner, old);
        const replacement = key(owner.id, { createdAt: at(1) });
        expect(await store.rotateApiKey(old.id, replacement, at(1))).toBe(true);
        expect((await store.getApiKey(old.id))?.revokedAt).toBe(at(1));
        expect(await store.findApiKeyByHash(replacement.hash)).toEqual(replacement);

        const again = key(owner.id);
        expect(await store.rotateApiKey(old.id, again, at(2))).toBe(false);
        expect(await store.getApiKey(again.id)).toBeUndefined();
      });

      it("keeps an access key's spend cap, and updates a key's name, rate limit and spend cap: a field left out is kept, null clears it", async () => {
        const owner = account();
        await store.createAccount(owner, key(owner.id));
        const access = key(owner.id, {
          kind: "access",
          prefix: "sk_live_abc",
          agentId: "agent_capped0001",
          spendCap: 5_000_000,
        });
        await store.insertApiKey(access);
        expect(await store.getApiKey(access.id)).toEqual(access);

        const named = await store.updateApiKey(access.id, { name: "ci" });
        expect(named).toEqual({ ...access, name: "ci" });
        const limited = await store.updateApiKey(access.id, { rateLimit: 30 });
        expect(limited).toEqual({ ...access, name: "ci", rateLimit: 30 });
        const capped = await store.updateApiKey(access.id, { spendCap: 0 });
        expect(capped).toEqual({ ...access, name: "ci", rateLimit: 30, spendCap: 0 });
        expect(await store.updateApiKey(access.id, {})).toEqual(capped);
        const all = await store.updateApiKey(access.id, { name: "nightly", rateLimit: 5, spendCap: 1 });
        expect(all).toEqual({ ...access, name: "nightly", rateLimit: 5, spendCap: 1 });
        const cleared = await store.updateApiKey(access.id, { name: null, rateLimit: null, spendCap: null });
        expect(cleared).toEqual({ ...access, name: null, rateLimit: null, spendCap: null });
        expect(await store.getApiKey(access.id)).toEqual(cleared);
        expect(await store.findApiKeyByHash(access.hash)).toEqual(cleared);
        expect(await store.updateApiKey("key_missing000", { name: "x" })).toBeUndefined();
      });

      it("refuses a spend cap that is not integer micros ≥ 0, or on an account key", async () => {
        const owner = account();
        const first = key(owner.id);
        await store.createAccount(owner, first);
        const access = key(owner.id, { kind: "access", prefix: "sk_live_abc", agentId: "agent_capped0001" });
        await store.insertApiKey(access);
        const codeOf = (promise: Promise<unknown>) =>
          promise.then(
            () => "fulfilled",
            (error: unknown) => (isMercatoError(error) ? error.code : error),
          );
        for (const spendCap of [-1, 1.5, Number.NaN]) {
          expect(await codeOf(store.updateApiKey(access.id, { spendCap }))).toBe("INVALID_AMOUNT");
        }
        expect(await codeOf(store.updateApiKey(first.id, { spendCap: 1 }))).toBe("VALIDATION_ERROR");
        expect(await codeOf(store.insertApiKey(key(owner.id, { spendCap: 1 })))).toBe("VALIDATION_ERROR");
        expect(await store.getApiKey(access.id)).toEqual(access);
        expect(await store.getApiKey(first.id)).toEqual(first);
        expect(await store.updateApiKey(first.id, { spendCap: null, name: "admin" })).toEqual({
          ...first,
          name: "admin",
        });
      });

      it("suspends a key once, reinstates it, never suspends a revoked one, and keeps a suspension through rotation", async () => {
        const owner = account();
        await store.createAccount(owner, key(owner.id));
        const access = key(owner.id, { kind: "access", prefix: "sk_live_abc", agentId: "agent_burst0001" });
        await store.insertApiKey(access);
        expect(await store.suspendApiKey(access.id, at(1), "burst")).toBe(true);
        expect(await store.suspendApiKey(access.id, at(2), "again")).toBe(false);
        const suspended = { ...access, suspendedAt: at(1), suspendReason: "burst" };
        expect(await store.getApiKey(access.id)).toEqual(suspended);
        expect(await store.findApiKeyByHash(access.hash)).toEqual(suspended);
        expect(await store.listApiKeys(owner.id)).toContainEqual(suspended);

        expect(await store.reinstateApiKey(access.id)).toBe(true);
        expect(await store.reinstateApiKey(access.id)).toBe(false);
        expect(await store.getApiKey(access.id)).toEqual(access);
        expect(await store.suspendApiKey("key_missing000", at(3), "burst")).toBe(false);
        expect(await store.reinstateApiKey("key_missing000")).toBe(false);

        await store.suspendApiKey(access.id, at(4), "burst");
        const replacement = key(owner.id, {
          kind: "access",
          prefix: "sk_live_ghi",
          agentId: "agent_burst0001",
          suspendedAt: at(4),
          suspendReason: "burst",
        });
        expect(await store.rotateApiKey(access.id, replacement, at(5))).toBe(true);
        expect(await store.getApiKey(replacement.id)).toEqual(replacement);
        expect(await store.suspendApiKey(access.id, at(6), "burst")).toBe(false);
        const revoked = key(owner.id, { kind: "access", prefix: "sk_live_def", agentId: "agent_burst0001" });
        await store.insertApiKey(revoked);
        await store.revokeApiKey(revoked.id, at(7));
        expect(await store.suspendApiKey(revoked.id, at(8), "burst")).toBe(false);
        expect((await store.getApiKey(revoked.id))?.suspendedAt).toBeNull();
      });
    });

    describe("agents", () => {
      it("registers an agent scored at the prior", async () => {
        const ownerId = await withOwner();
        const input = newAgent(ownerId);
        const agent = await store.insertAgent(input);
        expect(agent).toMatchObject({ ...input, updatedAt: T0, metricsUpdatedAt: T0 });
        expect(agent.counters).toEqual(EMPTY_COUNTERS);
        expect(agent.scores).toEqual(scoreAgent(20_000, EMPTY_COUNTERS));
        expect(await store.getAgent(input.id)).toEqual(agent);
        expect(await store.getAgent("agent_missing")).toBeUndefined();
      });

      it("applies a patch and keeps unchanged fields", async () => {
        const ownerId = await withOwner();
        const agent = await store.insertAgent(newAgent(ownerId));
        const updated = await store.updateAgent(agent.id, { name: "Renamed", tags: ["alpha"] }, at(3));
        expect(updated).toMatchObject({ name: "Renamed", tags: ["alpha"], description: agent.description });
        expect(updated?.updatedAt).toBe(at(3));
        expect(await store.updateAgent("agent_missing", { name: "x" }, at(3))).toBeUndefined();
      });

      it("keeps a listing's contract schemas: stored as given, read apart, patched one at a time, removed with null", async () => {
        const ownerId = await withOwner();
        const input = '{"type":"object","properties":{"symbol":{"type":"string"}}}';
        const output = '{"type":"object","required":["summary"]}';
        const agent = await store.insertAgent(newAgent(ownerId, { schemas: { input, output } }));
        expect(agent.contract).toEqual({ input: true, output: true });
        expect((await store.getAgent(agent.id))?.contract).toEqual({ input: true, output: true });
        expect(await store.getAgentContract(agent.id)).toEqual({
          inputSchema: input,
          outputSchema: output,
          updatedAt: T0,
        });
        const plain = await store.insertAgent(newAgent(ownerId));
        expect(plain.contract).toEqual({ input: false, output: false });
        expect(await store.getAgentContract(plain.id)).toEqual({
          inputSchema: null,
          outputSchema: null,
          updatedAt: T0,
        });
        expect(await store.getAgentContract("agent_missing")).toBeUndefined();

        // Only the output schema goes; the input schema and the other fields stay.
        const patched = await store.updateAgent(agent.id, { schemas: { output: null } }, at(2));
        expect(patched?.contract).toEqual({ input: true, output: false });
        expect(patched?.name).toBe(agent.name);
        expect(await store.getAgentContract(agent.id)).toEqual({
          inputSchema: input,
          outputSchema: null,
          updatedAt: at(2),
        });
        const renamed = await store.updateAgent(agent.id, { name: "Renamed" }, at(3));
        expect(renamed?.contract).toEqual({ input: true, output: false });
        expect((await store.getAgentContract(agent.id))?.inputSchema).toBe(input);
        const both = await store.updateAgent(plain.id, { schemas: { input: output, output: input } }, at(4));
        expect(both?.contract).toEqual({ input: true, output: true });

        // Search says which listings have schemas, without reading them.
        const found = await store.searchAgents({ sort: "price_asc", limit: 10 });
        expect(Object.fromEntries(found.agents.map((a) => [a.id, a.contract]))).toEqual({
          [agent.id]: { input: true, output: false },
          [plain.id]: { input: true, output: true },
        });
      });

      it("keeps price changes as history, newest first, and re-ranks on a new price", async () => {
        const ownerId = await withOwner();
        const agent = await store.insertAgent(newAgent(ownerId));
        await store.updateAgent(agent.id, { name: "Only a rename" }, at(1));
        const repriced = await store.updateAgent(
          agent.id,
          { pricing: { ...agent.pricing, priceMicros: 50_000 } },
          at(2),
        );
        await store.updateAgent(
          agent.id,
          { pricing: { ...agent.pricing, priceMicros: 50_000, tier: "pro" } },
          at(3),
        );
        expect(repriced?.pricing.priceMicros).toBe(50_000);
        // No record: 0.05 / the lower bound on the fallback prior.
        expect(repriced?.scores.costPerSuccessMicros).toBe(
          50_000 / successLowerBound(0, 0, RANKING.fallbackPrior),
        );
        const history = await store.listPriceHistory(agent.id);
        expect(history).toEqual([
          {
            priceMicros: 50_000,
            currency: "USD",
            tier: "pro",
            minCalls: 1,
            effectiveFrom: at(3),
            effectiveTo: null,
          },
          {
            priceMicros: 50_000,
            currency: "USD",
            tier: "basic",
            minCalls: 1,
            effectiveFrom: at(2),
            effectiveTo: at(3),
          },
          {
            priceMicros: 20_000,
            currency: "USD",
            tier: "basic",
            minCalls: 1,
            effectiveFrom: T0,
            effectiveTo: at(2),
          },
        ]);
      });

      it("records call outcomes and health checks into counters and scores", async () => {
        const ownerId = await withOwner();
        const agent = await store.insertAgent(newAgent(ownerId));
        await recordOld(
          [
            { agentId: agent.id, success: true, responseTimeMs: 100 },
            { agentId: agent.id, success: false, responseTimeMs: 300 },
            { agentId: agent.id, success: true, responseTimeMs: 200 },
            { agentId: "agent_unknown", success: true, responseTimeMs: 1 },
          ],
          at(4),
        );
        await store.recordHealthChecks(
          [
            { agentId: agent.id, healthy: true },
            { agentId: agent.id, healthy: false },
          ],
          at(5),
        );
        const measured = await store.getAgent(agent.id);
        const counters = {
          calls: 3,
          successes: 2,
          totalResponseTimeMs: 600,
          healthChecks: 2,
          healthyChecks: 1,
        };
        expect(measured?.counters).toEqual(counters);
        expect(measured?.scores).toEqual(scoreAgent(20_000, counters));
        expect(measured?.metricsUpdatedAt).toBe(at(5));
      });
    });

    describe("endpoint proofs", () => {
      const unproven = { verifiedAt: null, challenge: null, graceUntil: null, checkedAt: null, error: null };

      it("registers with a proof or without one, and keeps it across an owner's patch", async () => {
        const ownerId = await withOwner();
        const bare = await store.insertAgent(newAgent(ownerId));
        expect(bare.endpoint).toEqual(unproven);
        const pending = { ...unproven, challenge: "tok_0123456789abcdefghijkl" };
        const waiting = await store.insertAgent(newAgent(ownerId, { status: "inactive", endpoint: pending }));
        expect(waiting.endpoint).toEqual(pending);
        expect((await store.updateAgent(waiting.id, { name: "Renamed" }, at(1)))?.endpoint).toEqual(pending);
      });

      it("sets the given fields and the status in one write, only while the endpoint is the one proven", async () => {
        const ownerId = await withOwner();
        const agent = await store.insertAgent(
          newAgent(ownerId, { status: "inactive", endpoint: { ...unproven, challenge: "tok_a" } }),
        );
        const proven = await store.setEndpointProof(
          agent.id,
          { verifiedAt: at(2), challenge: null, checkedAt: at(2), error: null },
          { status: "active", ifEndpoint: agent.apiEndpoint, at: at(2) },
        );
        expect(proven).toMatchObject({
          status: "active",
          updatedAt: at(2),
          endpoint: { verifiedAt: at(2), challenge: null, graceUntil: null, checkedAt: at(2), error: null },
        });
        expect(await store.getAgent(agent.id)).toEqual(proven);
        // A proof of an endpoint the owner moved away from changes nothing.
        await store.updateAgent(agent.id, { apiEndpoint: "https://moved.example.com/agent" }, at(3));
        expect(
          await store.setEndpointProof(
            agent.id,
            { error: "late" },
            { ifEndpoint: agent.apiEndpoint, at: at(4) },
          ),
        ).toBeUndefined();
        expect((await store.getAgent(agent.id))?.endpoint.error).toBeNull();
        expect(await store.setEndpointProof("agent_missing", { error: "x" }, { at: at(4) })).toBeUndefined();
      });

      it("lists unproven listings in their grace period, least recently checked first", async () => {
        const ownerId = await withOwner();
        const grace = { ...unproven, graceUntil: at(60 * 24 * 14) };
        const never = await store.insertAgent(newAgent(ownerId, { endpoint: grace }));
        const old = await store.insertAgent(newAgent(ownerId, { endpoint: { ...grace, checkedAt: at(1) } }));
        const recent = await store.insertAgent(
          newAgent(ownerId, { endpoint: { ...grace, checkedAt: at(50) } }),
        );
        await store.insertAgent(newAgent(ownerId, { endpoint: { ...grace, verifiedAt: at(2) } }));
        await store.insertAgent(
          newAgent(ownerId, { status: "inactive", endpoint: { ...unproven, challenge: "t" } }),
        );
        expect(ids(await store.listGraceEndpoints(at(30), 10))).toEqual([never.id, old.id]);
        expect(ids(await store.listGraceEndpoints(at(60), 10))).toEqual([never.id, old.id, recent.id]);
        expect(ids(await store.listGraceEndpoints(at(60), 1))).toEqual([never.id]);
      });
    });

    describe("search", () => {
      /** Four agents whose orders differ by every sort. */
      const seed = async () => {
        const ownerId = await withOwner();
        const cheapFlaky = await store.insertAgent(
          newAgent(ownerId, {
            name: "Cheap flaky",
            tags: ["news"],
            pricing: { model: "per_call", priceMicros: 10_000, currency: "USD", tier: "basic", minCalls: 1 },
          }),
        );
        const reliable = await store.insertAgent(
          newAgent(ownerId, {
            name: "Reliable summarizer",
            tags: ["news", "summarization"],
            pricing: { model: "per_call", priceMicros: 12_000, currency: "USD", tier: "basic", minCalls: 1 },
          }),
        );
        const fast = await store.insertAgent(
          newAgent(ownerId, {
            name: "Fast oracle",
            description: "Token prices",
            category: "defi",
            tags: ["prices"],
            pricing: { model: "per_call", priceMicros: 30_000, currency: "USD", tier: "basic", minCalls: 1 },
          }),
        );
        const gone = await store.insertAgent(
          newAgent(ownerId, {
            name: "Deactivated",
            pricing: { model: "per_call", priceMicros: 1_000, currency: "USD", tier: "basic", minCalls: 1 },
          }),
        );
        await store.updateAgent(gone.id, { status: "inactive" }, at(1));
        const calls = (agentId: string, total: number, successes: number, responseTimeMs: number) =>
          Array.from({ length: total }, (_, i) => ({ agentId, success: i < successes, responseTimeMs }));
        await recordOld(
          [
            ...calls(cheapFlaky.id, 200, 100, 400),
            ...calls(reliable.id, 200, 199, 300),
            ...calls(fast.id, 200, 190, 50),
          ],
          at(2),
        );
        return { cheapFlaky, reliable, fast, gone };
      };

      it("orders by cost per success by default, then by each other sort", async () => {
        const { cheapFlaky, reliable, fast } = await seed();
        const by = async (sort: AgentSearch["sort"]) =>
          ids((await store.searchAgents({ sort, limit: 10 })).agents);
        // cost per success: reliable 12000/0.9928 < cheapFlaky 10000/0.5227 ; fast 30000/0.95
        expect(await by("cost_per_success")).toEqual([reliable.id, cheapFlaky.id, fast.id]);
        expect(await by("price_asc")).toEqual([cheapFlaky.id, reliable.id, fast.id]);
        expect(await by("trust_score_desc")).toEqual([fast.id, reliable.id, cheapFlaky.id]);
        expect(await by("response_time_asc")).toEqual([fast.id, reliable.id, cheapFlaky.id]);
      });

      it("filters by category, all tags, words, price ceiling and trust floor; never lists inactive agents", async () => {
        const { cheapFlaky, reliable, fast, gone } = await seed();
        const find = async (filters: Partial<AgentSearch>) =>
          ids((await store.searchAgents({ sort: "price_asc", limit: 10, ...filters })).agents);
        expect(await find({ category: "defi" })).toEqual([fast.id]);
        expect(await find({ tags: ["news"] })).toEqual([cheapFlaky.id, reliable.id]);
        expect(await find({ tags: ["news", "summarization"] })).toEqual([reliable.id]);
        expect(await find({ tags: ["nothing"] })).toEqual([]);
        expect(await find({ words: ["summar"] })).toEqual([cheapFlaky.id, reliable.id]);
        expect(await find({ words: ["reliable", "summarizer"] })).toEqual([reliable.id]);
        expect(await find({ words: ["token"] })).toEqual([fast.id]);
        expect(await find({ maxPriceMicros: 12_000 })).toEqual([cheapFlaky.id, reliable.id]);
        expect(await find({ minTrust: 0.9 })).toEqual([reliable.id, fast.id]);
        expect(
          await find({ category: "crypto", tags: ["news"], words: ["cheap"], maxPriceMicros: 10_000 }),
        ).toEqual([cheapFlaky.id]);
        expect(await find({ words: ["deactivated"] })).toEqual([]);
        expect(await find({})).not.toContain(gone.id);
      });

      it("finds re-tagged and renamed agents by their new words only", async () => {
        const { fast } = await seed();
        await store.updateAgent(fast.id, { name: "Gas tracker", tags: ["gas"] }, at(3));
        const find = async (filters: Partial<AgentSearch>) =>
          ids((await store.searchAgents({ sort: "price_asc", limit: 10, ...filters })).agents);
        expect(await find({ tags: ["gas"] })).toEqual([fast.id]);
        expect(await find({ tags: ["prices"] })).toEqual([]);
        expect(await find({ words: ["gas"] })).toEqual([fast.id]);
        expect(await find({ words: ["oracle"] })).toEqual([]);
      });

      it("pages with cursors through every listed agent exactly once, in order, for every sort", async () => {
        const ownerId = await withOwner();
        for (let i = 0; i < 23; i++) {
          // Prices repeat so that pages must break ties by position, not by value.
          await store.insertAgent(
            newAgent(ownerId, {
              pricing: {
                model: "per_call",
                priceMicros: 1_000 * (1 + (i % 4)),
                currency: "USD",
                tier: "basic",
                minCalls: 1,
              },
            }),
          );
        }
        for (const sort of [
          "cost_per_success",
          "trust_score_desc",
          "price_asc",
          "response_time_asc",
        ] as const) {
          const everything = (await store.searchAgents({ sort, limit: 100 })).agents;
          const paged = await searchAll({ sort, limit: 5 });
          expect(paged).toHaveLength(23);
          expect(ids(paged)).toEqual(ids(everything));
        }
      });

      it("refuses a cursor made for another sort order", async () => {
        const ownerId = await withOwner();
        await store.insertAgent(newAgent(ownerId));
        await store.insertAgent(newAgent(ownerId));
        const { nextCursor } = await store.searchAgents({ sort: "price_asc", limit: 1 });
        expect(nextCursor).not.toBeNull();
        const error = await store
          .searchAgents({ sort: "trust_score_desc", limit: 1, cursor: nextCursor ?? "" })
          .catch((e: unknown) => e);
        expect(isMercatoError(error) && error.code).toBe("VALIDATION_ERROR");
        const garbage = await store
          .searchAgents({ sort: "price_asc", limit: 1, cursor: "%%%" })
          .catch((e: unknown) => e);
        expect(isMercatoError(garbage) && garbage.code).toBe("VALIDATION_ERROR");
      });

      it("counts listed agents per category", async () => {
        await seed();
        expect(await store.listCategories()).toEqual([
          { category: "crypto", count: 2 },
          { category: "defi", count: 1 },
        ]);
      });
    });

    describe("alert channels", () => {
      it("sets, replaces and removes an agent's channels", async () => {
        const ownerId = await withOwner();
        const agent = await store.insertAgent(newAgent(ownerId));
        const other = await store.insertAgent(newAgent(ownerId));
        expect(await store.getAlertChannels(agent.id)).toBeUndefined();

        await store.setAlertChannels(agent.id, {
          slackWebhookUrl: "https://hooks.slack.com/services/T000/B000/XXXX",
          email: "ops@example.com",
          successRateThreshold: 0.9,
          updatedAt: at(1),
        });
        expect(await store.getAlertChannels(agent.id)).toEqual({
          agentId: agent.id,
          slackWebhookUrl: "https://hooks.slack.com/services/T000/B000/XXXX",
          email: "ops@example.com",
          successRateThreshold: 0.9,
          updatedAt: at(1),
        });

        await store.setAlertChannels(agent.id, {
          slackWebhookUrl: null,
          email: "oncall@example.com",
          successRateThreshold: null,
          updatedAt: at(2),
        });
        expect(await store.getAlertChannels(agent.id)).toEqual({
          agentId: agent.id,
          slackWebhookUrl: null,
          email: "oncall@example.com",
          successRateThreshold: null,
          updatedAt: at(2),
        });
        expect(await store.getAlertChannels(other.id)).toBeUndefined();

        await store.setAlertChannels(agent.id, null);
        expect(await store.getAlertChannels(agent.id)).toBeUndefined();
        // Removing what is not there is not an error.
        await store.setAlertChannels(other.id, null);
      });

      it("keeps thresholds of 0 and 1 exactly", async () => {
        const ownerId = await withOwner();
        const agent = await store.insertAgent(newAgent(ownerId));
        for (const threshold of [0, 1, 0.95]) {
          await store.setAlertChannels(agent.id, {
            slackWebhookUrl: null,
            email: null,
            successRateThreshold: threshold,
            updatedAt: at(3),
          });
          expect((await store.getAlertChannels(agent.id))?.successRateThreshold).toBe(threshold);
        }
      });
    });
  });
}
