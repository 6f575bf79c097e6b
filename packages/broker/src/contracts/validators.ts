import type { ContractCheck, ContractCompiler } from "./compile.js";

/** What the validators read of a listing (the registry's `AgentRecord` has these fields). */
export interface ContractListing {
  id: string;
  /** Which of the contract schemas the listing has. */
  contract: { input: boolean; output: boolean };
  /** The listing's version: a listing changed since an entry was compiled is compiled anew. */
  updatedAt: string;
}

/** A listing's contract schemas as stored, JSON text (the registry's `getAgentContract`). */
export interface StoredContract {
  inputSchema: string | null;
  outputSchema: string | null;
  updatedAt: string;
}

/** Where the validators read a listing's schemas: the registry's store. */
export interface ContractSource {
  getAgentContract(id: string): Promise<StoredContract | undefined>;
}

/** A listing's compiled contract: a check per schema it has (undefined: no such schema). */
export interface CompiledContract {
  input?: ContractCheck;
  output?: ContractCheck;
}

/**
 * Compiled contracts per listing version, for the invoke path. An entry is the listing's contract
 * as of its `updatedAt`: a listing changed since (its schemas, or anything else) is compiled anew.
 * Bounded twice: at most `maxEntries` listings, and at most `maxSchemaBytes` of schema text behind
 * them (compiled code grows with the schema); the least recently used go first.
 */
export interface ContractValidators {
  /** The contract of `agent` as it is now; an empty one for a listing without schemas. */
  forAgent(agent: ContractListing): Promise<CompiledContract>;
  /** Drops the listing's entry (its owner changed it). */
  invalidate(agentId: string): void;
  /** Listings held now. */
  size(): number;
}

/** Options of {@link createContractValidators}. */
export interface ContractValidatorsOptions {
  store: ContractSource;
  compiler: ContractCompiler;
  /** Default 1,000. */
  maxEntries?: number;
  /** Default 32 MiB. */
  maxSchemaBytes?: number;
}

interface Entry {
  version: string;
  bytes: number;
  contract: CompiledContract;
}

const NONE: CompiledContract = Object.freeze({});

/** An in-memory {@link ContractValidators}, least recently used first out. */
export function createContractValidators(options: ContractValidatorsOptions): ContractValidators {
  const maxEntries = options.maxEntries ?? 1_000;
  const maxBytes = options.maxSchemaBytes ?? 32 * 1024 * 1024;
  const entries = new Map<string, Entry>();
  let bytes = 0;

  const drop = (id: string) => {
    const entry = entries.get(id);
    if (!entry) return;
    entries.delete(id);
    bytes -= entry.bytes;
  };
  const keep = (id: string, entry: Entry) => {
    drop(id);
    entries.set(id, entry);
    bytes += entry.bytes;
    for (const [oldest] of entries) {
      if (entries.size <= maxEntries && bytes <= maxBytes) break;
      drop(oldest);
    }
  };

  return {
    async forAgent(agent) {
      if (!agent.contract.input && !agent.contract.output) return NONE;
      const cached = entries.get(agent.id);
      // A newer entry than the listing (a cached listing, a contract read since) is still right.
      if (cached && cached.version >= agent.updatedAt) {
        entries.delete(agent.id);
        entries.set(agent.id, cached);
        return cached.contract;
      }
      const stored = await options.store.getAgentContract(agent.id);
      if (!stored) return NONE;
      const contract: CompiledContract = {};
      if (stored.inputSchema !== null)
        contract.input = options.compiler.compile(JSON.parse(stored.inputSchema));
      if (stored.outputSchema !== null) {
        contract.output = options.compiler.compile(JSON.parse(stored.outputSchema));
      }
      const size = (stored.inputSchema?.length ?? 0) + (stored.outputSchema?.length ?? 0);
      keep(agent.id, { version: stored.updatedAt, bytes: size, contract });
      return contract;
    },
    invalidate: drop,
    size: () => entries.size,
  };
}
