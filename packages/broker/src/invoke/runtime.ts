import type { InvokeResponse } from "@mercato/protocol";
import type { FastifyBaseLogger } from "fastify";
import type * as z from "zod";
import {
  type ContractCompiler,
  type ContractValidators,
  createContractCompiler,
  createContractValidators,
} from "../contracts/index.js";
import type { CallOutcome, MetricsStore } from "../metrics/port.js";
import type { Clock } from "../platform/clock.js";
import type { ResolveHost } from "../platform/endpoint-policy.js";
import { createIdempotencyCache, type IdempotencyCache } from "../platform/idempotency.js";
import type { InvokeSettings } from "../platform/settings.js";
import type { RegistryStore } from "../registry/port.js";
import { type AgentCache, createAgentCache } from "./agent-cache.js";
import { createOutcomeRecorder, type OutcomeRecorder } from "./outcome-recorder.js";
import { createSellerClient, type SellerClient } from "./seller-client.js";

/** A successful invoke's answer, as sent (and kept for idempotent retries). */
export type InvokeAnswer = z.output<typeof InvokeResponse>;

/** What the invoke proxy keeps between calls. */
export interface InvokeRuntime {
  /** Agents by id, briefly; drop an agent here when it changes. */
  agents: AgentCache;
  sellers: SellerClient;
  outcomes: OutcomeRecorder;
  idempotency: IdempotencyCache<InvokeAnswer>;
  /** Compiles listings' contract schemas (registration checks them with it). */
  contractCompiler: ContractCompiler;
  /** Compiled contracts per listing version; drop a listing here when its owner changes it. */
  contracts: ContractValidators;
  /** Flushes the outcomes and closes the seller connections. */
  close(): Promise<void>;
}

/** Options of {@link createInvokeRuntime}. */
export interface InvokeRuntimeOptions {
  store: Pick<RegistryStore, "getAgent" | "getAgentContract"> & Pick<MetricsStore, "recordCallOutcomes">;
  clock: Clock;
  log: FastifyBaseLogger;
  dev: boolean;
  resolveHost: ResolveHost;
  settings: InvokeSettings;
  /** Told of each measured call outcome (see `OutcomeRecorderOptions.onRecord`). */
  onOutcome?: (outcome: CallOutcome) => void;
}

/** Builds the invoke proxy's seller client, outcome recorder and idempotency cache. */
export function createInvokeRuntime(options: InvokeRuntimeOptions): InvokeRuntime {
  const sellers = createSellerClient({
    dev: options.dev,
    resolveHost: options.resolveHost,
    maxResponseBytes: options.settings.maxResponseBytes,
  });
  const outcomes = createOutcomeRecorder({
    store: options.store,
    log: options.log.child({ component: "outcomes" }),
    now: () => options.clock.now(),
    ...(options.onOutcome && { onRecord: options.onOutcome }),
  });
  const contractCompiler = createContractCompiler();
  return {
    agents: createAgentCache(options.store),
    contractCompiler,
    contracts: createContractValidators({ store: options.store, compiler: contractCompiler }),
    sellers,
    outcomes,
    idempotency: createIdempotencyCache<InvokeAnswer>(),
    async close() {
      await outcomes.close();
      await sellers.close();
    },
  };
}
