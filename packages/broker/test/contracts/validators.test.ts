import { describe, expect, it } from "vitest";
import { checkContractSchema } from "../../src/contracts/check.js";
import { createContractCompiler } from "../../src/contracts/compile.js";
import { backtracksLinearly } from "../../src/contracts/linear-regexp.js";
import { createContractValidators } from "../../src/contracts/validators.js";
import type { AgentContractRecord, AgentRecord } from "../../src/registry/port.js";

const compiler = createContractCompiler();

function fakeStore(contracts: Map<string, AgentContractRecord>) {
  let reads = 0;
  return {
    reads: () => reads,
    async getAgentContract(id: string) {
      reads++;
      return contracts.get(id);
    },
  };
}

const agent = (id: string, updatedAt: string) =>
  ({ id, updatedAt, contract: { input: true, output: false } }) as AgentRecord;
const schema = (pattern: string) => JSON.stringify({ type: "string", pattern });

describe("contract validators", () => {
  it("keeps V8's faster backtracking engine for patterns that backtrack linearly on it, and only those", () => {
    for (const pattern of [
      "^[a-z0-9 ]*$",
      "^[A-Z]{2,6}$",
      "^\\d{4}-\\d{2}-\\d{2}$",
      "^.*$",
      "^x+?y$",
      "^[\\]]*$",
    ]) {
      expect(backtracksLinearly(pattern), pattern).toBe(true);
    }
    for (const pattern of [
      "a*b",
      "^a*a*$",
      "^a?b?$",
      "^(a)$",
      "^a|b$",
      "^(a)\\1$",
      "^a{1,2}b*$",
      "^[a-z",
      "^a{",
    ]) {
      expect(backtracksLinearly(pattern), pattern).toBe(false);
    }
  });

  it("runs an accepted pattern that backtracks catastrophically elsewhere in linear time (attack: the call would hang)", () => {
    for (const pattern of [
      "^(a+)+$",
      "a*a*a*a*a*b",
      "^a*a*a*a*a*b",
      "^a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a*b",

      "^(\\s*,?\\s*)*$",
      "^[a-z]*x$",
      "^\\w+@x$",
    ]) {
      const text = checkContractSchema({ type: "string", pattern }, "input_schema", compiler);
      const check = compiler.compile(JSON.parse(text));
      // On a backtracking engine each of these runs for longer than the age of the universe.
      expect(check(`${"a".repeat(50_000)}!`).length).toBeLessThanOrEqual(1);
      expect(check(`${" ,".repeat(30_000)}x`).length).toBeLessThanOrEqual(1);
    }
  });

  it("compiles once per listing version, anew when the listing changes, and not for a listing without schemas", async () => {
    const contracts = new Map([
      ["agent_a", { inputSchema: schema("^a$"), outputSchema: null, updatedAt: "t1" }],
    ]);
    const store = fakeStore(contracts);
    const validators = createContractValidators({ store, compiler });
    const first = await validators.forAgent(agent("agent_a", "t1"));
    expect(first.input?.("a")).toEqual([]);
    expect(first.input?.("b")).toHaveLength(1);
    expect(await validators.forAgent(agent("agent_a", "t1"))).toBe(first);
    expect(store.reads()).toBe(1);

    contracts.set("agent_a", { inputSchema: schema("^b$"), outputSchema: null, updatedAt: "t2" });
    const second = await validators.forAgent(agent("agent_a", "t2"));
    expect(second.input?.("b")).toEqual([]);
    expect(store.reads()).toBe(2);
    validators.invalidate("agent_a");
    await validators.forAgent(agent("agent_a", "t2"));
    expect(store.reads()).toBe(3);

    const none = await validators.forAgent({
      ...agent("agent_b", "t1"),
      contract: { input: false, output: false },
    });
    expect(none).toEqual({});
    expect(store.reads()).toBe(3);
  });

  it("keeps at most maxEntries listings and maxSchemaBytes of schemas, least recently used out first", async () => {
    const contracts = new Map<string, AgentContractRecord>();
    for (let i = 0; i < 10; i++) {
      contracts.set(`agent_${i}`, { inputSchema: schema(`^${i}$`), outputSchema: null, updatedAt: "t1" });
    }
    const validators = createContractValidators({ store: fakeStore(contracts), compiler, maxEntries: 3 });
    for (let i = 0; i < 10; i++) await validators.forAgent(agent(`agent_${i}`, "t1"));
    expect(validators.size()).toBe(3);

    const bySize = createContractValidators({ store: fakeStore(contracts), compiler, maxSchemaBytes: 100 });
    for (let i = 0; i < 10; i++) await bySize.forAgent(agent(`agent_${i}`, "t1"));
    // Each schema is 33 bytes of JSON: three fit in 100.
    expect(bySize.size()).toBe(3);
  });
});
