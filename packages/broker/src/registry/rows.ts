import { type AgentCounters, EMPTY_COUNTERS, scoreAgent } from "@mercato/protocol";
import type {
  AgentContractRecord,
  AgentPatch,
  AgentRecord,
  AgentSchemasPatch,
  EndpointProofRecord,
  NewAgent,
  PriceHistoryRecord,
} from "./port.js";
import { SCORE_COLUMNS, type ScoreColumns, scoresOfRow, scoreValues } from "./score-columns.js";

// Row shapes and their records, shared by the SQLite and PostgreSQL stores (same column names).

/** An `agents` row (the columns both stores have). `tags` is the JSON array of the tags. */
export interface AgentRow extends ScoreColumns {
  seq: number;
  id: string;
  owner_id: string;
  name: string;
  description: string;
  category: string;
  tags: string;
  version: string;
  api_endpoint: string;
  status: AgentRecord["status"];
  price_micros: number;
  currency: "USD";
  tier: string;
  min_calls: number;
  calls: number;
  successes: number;
  total_response_time_ms: number;
  health_checks: number;
  healthy_checks: number;
  metrics_updated_at: string;
  created_at: string;
  updated_at: string;
  endpoint_verified_at: string | null;
  endpoint_challenge: string | null;
  endpoint_grace_until: string | null;
  endpoint_checked_at: string | null;
  endpoint_check_error: string | null;
  /** Whether the listing has an input and an output schema (1/0 in SQLite); see {@link agentColumns}. */
  has_input_schema: boolean | number;
  has_output_schema: boolean | number;
}

/** The contract's columns: each schema's checked JSON text, or NULL. Read by `getAgentContract` only. */
export const SCHEMA_COLUMNS = ["input_schema", "output_schema"] as const;

/** The endpoint-proof columns, in the order of {@link endpointProofValues}. */
export const ENDPOINT_PROOF_COLUMNS = [
  "endpoint_verified_at",
  "endpoint_challenge",
  "endpoint_grace_until",
  "endpoint_checked_at",
  "endpoint_check_error",
] as const;

/** The proof's field of each endpoint-proof column. */
export const ENDPOINT_PROOF_FIELDS: Record<
  (typeof ENDPOINT_PROOF_COLUMNS)[number],
  keyof EndpointProofRecord
> = {
  endpoint_verified_at: "verifiedAt",
  endpoint_challenge: "challenge",
  endpoint_grace_until: "graceUntil",
  endpoint_checked_at: "checkedAt",
  endpoint_check_error: "error",
};

/** A proof's values, in the order of {@link ENDPOINT_PROOF_COLUMNS}. */
export function endpointProofValues(proof: EndpointProofRecord | undefined): unknown[] {
  return ENDPOINT_PROOF_COLUMNS.map((column) => proof?.[ENDPOINT_PROOF_FIELDS[column]] ?? null);
}

/**
 * The columns an owner sets (beside the id and owner), in the order of their values in
 * {@link newAgentValues} and {@link patchedValues}. `pricing_model` is written, never read.
 */
const OWNER_COLUMNS = [
  "name",
  "description",
  "category",
  "tags",
  "version",
  "api_endpoint",
  "status",
  "pricing_model",
  "price_micros",
  "currency",
  "tier",
  "min_calls",
] as const;

/** The columns a registration writes, in the order of {@link newAgentValues}. */
export const NEW_AGENT_COLUMNS: readonly string[] = Object.freeze([
  "id",
  "owner_id",
  ...OWNER_COLUMNS,
  ...SCORE_COLUMNS,
  "metrics_updated_at",
  "created_at",
  "updated_at",
  ...ENDPOINT_PROOF_COLUMNS,
  ...SCHEMA_COLUMNS,
]);

/** The columns an owner's patch rewrites, in the order of {@link patchedValues}. */
export const PATCHED_COLUMNS: readonly string[] = Object.freeze([...OWNER_COLUMNS, "updated_at"]);

const AGENT_COLUMNS = [
  "seq",
  // The schemas (up to 64 KiB each) are read apart: searches and the invoke cache need only whether they exist.
  ...NEW_AGENT_COLUMNS.filter(
    (column) => column !== "pricing_model" && !(SCHEMA_COLUMNS as readonly string[]).includes(column),
  ),
  "calls",
  "successes",
  "total_response_time_ms",
  "health_checks",
  "healthy_checks",
];

/** The columns of {@link AgentRow}, for a select list (`a.` prefixes each one when `alias` is given). */
export function agentColumns(alias?: string): string {
  const prefix = alias === undefined ? "" : `${alias}.`;
  return [
    ...AGENT_COLUMNS.map((column) => prefix + column),
    ...SCHEMA_COLUMNS.map((column) => `(${prefix}${column} IS NOT NULL) AS has_${column}`),
  ].join(", ");
}

/** An agent's lifetime counters; all zero without a row. */
export function countersOf(row: AgentRow | undefined): AgentCounters {
  return {
    calls: row?.calls ?? 0,
    successes: row?.successes ?? 0,
    totalResponseTimeMs: row?.total_response_time_ms ?? 0,
    healthChecks: row?.health_checks ?? 0,
    healthyChecks: row?.healthy_checks ?? 0,
  };
}

/** The record of an `agents` row. */
export function toAgent(row: AgentRow): AgentRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    name: row.name,
    description: row.description,
    category: row.category,
    tags: JSON.parse(row.tags) as string[],
    version: row.version,
    apiEndpoint: row.api_endpoint,
    status: row.status,
    pricing: {
      model: "per_call",
      priceMicros: row.price_micros,
      currency: row.currency,
      tier: row.tier,
      minCalls: row.min_calls,
    },
    counters: countersOf(row),
    scores: scoresOfRow(row),
    metricsUpdatedAt: row.metrics_updated_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    endpoint: {
      verifiedAt: row.endpoint_verified_at,
      challenge: row.endpoint_challenge,
      graceUntil: row.endpoint_grace_until,
      checkedAt: row.endpoint_checked_at,
      error: row.endpoint_check_error,
    },
    contract: { input: Boolean(row.has_input_schema), output: Boolean(row.has_output_schema) },
  };
}

/**
 * A new agent's `agents` row, as the values of {@link NEW_AGENT_COLUMNS}: counters at zero, scored
 * at the prior, its lower bound on its category's prior `categoryPrior`.
 */
export function newAgentValues(agent: NewAgent, categoryPrior: number): unknown[] {
  return [
    ...registeredValues(agent),
    ...scoreValues(scoreAgent(agent.pricing.priceMicros, EMPTY_COUNTERS, categoryPrior)),
    agent.createdAt,
    agent.createdAt,
    agent.createdAt,
    ...endpointProofValues(agent.endpoint),
    agent.schemas?.input ?? null,
    agent.schemas?.output ?? null,
  ];
}

/** A patched agent's values of {@link PATCHED_COLUMNS}. */
export function patchedValues(agent: AgentRecord): unknown[] {
  return [...registeredValues(agent).slice(2), agent.updatedAt];
}

/** An agent's id, owner, the fields its owner sets and its pricing, as stored. */
function registeredValues(agent: NewAgent): unknown[] {
  return [
    agent.id,
    agent.ownerId,
    agent.name,
    agent.description,
    agent.category,
    JSON.stringify(agent.tags),
    agent.version,
    agent.apiEndpoint,
    agent.status,
    agent.pricing.model,
    agent.pricing.priceMicros,
    agent.pricing.currency,
    agent.pricing.tier,
    agent.pricing.minCalls,
  ];
}

/** What an agent becomes under `patch` at `at`, and which of the patch's effects need more writes. */
export interface PatchedAgent {
  next: AgentRecord;
  /** The price, tier or minimum changed: a new price-history entry. */
  repriced: boolean;
  /** The price or the category changed: the ranking figures change with it. */
  rescore: boolean;
}

/** Applies an owner's patch to an agent (a field left out is kept). */
export function patchAgent(current: AgentRecord, patch: AgentPatch, at: string): PatchedAgent {
  const { schemas, ...fields } = patch;
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as AgentPatch;
  const contract = {
    input: schemas?.input === undefined ? current.contract.input : schemas.input !== null,
    output: schemas?.output === undefined ? current.contract.output : schemas.output !== null,
  };
  const next = { ...current, ...defined, contract, updatedAt: at };
  const p = patch.pricing;
  const repriced =
    p !== undefined &&
    (p.priceMicros !== current.pricing.priceMicros ||
      p.tier !== current.pricing.tier ||
      p.minCalls !== current.pricing.minCalls);
  const recategorized = patch.category !== undefined && patch.category !== current.category;
  return {
    next,
    repriced,
    rescore: (repriced && p?.priceMicros !== current.pricing.priceMicros) || recategorized,
  };
}

/**
 * The assignments of a schemas patch (`input_schema = ?`, …) with their values, `?` placeholders;
 * none when the patch changes no schema.
 */
export function schemaAssignments(schemas: AgentSchemasPatch | undefined): {
  sets: string[];
  values: unknown[];
} {
  const sets: string[] = [];
  const values: unknown[] = [];
  if (schemas?.input !== undefined) {
    sets.push("input_schema = ?");
    values.push(schemas.input);
  }
  if (schemas?.output !== undefined) {
    sets.push("output_schema = ?");
    values.push(schemas.output);
  }
  return { sets, values };
}

/** An agent's contract columns, as `getAgentContract` selects them. */
export interface AgentContractRow {
  input_schema: string | null;
  output_schema: string | null;
  updated_at: string;
}

/** The statement that reads an agent's contract (`?` placeholder: the agent id). */
export const AGENT_CONTRACT_QUERY = "SELECT input_schema, output_schema, updated_at FROM agents WHERE id = ?";

/** The record of an agent's contract columns. */
export function toAgentContract(row: AgentContractRow): AgentContractRecord {
  return { inputSchema: row.input_schema, outputSchema: row.output_schema, updatedAt: row.updated_at };
}

/** A `price_history` row. */
export interface PriceHistoryRow extends Pick<AgentRow, "price_micros" | "currency" | "tier" | "min_calls"> {
  effective_from: string;
  effective_to: string | null;
}

/** The record of a `price_history` row. */
export function toPriceHistory(row: PriceHistoryRow): PriceHistoryRecord {
  return {
    priceMicros: row.price_micros,
    currency: row.currency,
    tier: row.tier,
    minCalls: row.min_calls,
    effectiveFrom: row.effective_from,
    effectiveTo: row.effective_to,
  };
}

/**
 * The `UPDATE agents` statement of `setEndpointProof`, with `?` placeholders (both stores share it):
 * the proof's given fields, the status when given, `updated_at`; guarded by the endpoint when
 * `ifEndpoint` is given.
 */
export function endpointProofUpdate(
  agentId: string,
  proof: Partial<EndpointProofRecord>,
  options: { status?: "active" | "inactive"; ifEndpoint?: string; at: string },
): { sql: string; params: unknown[] } {
  const sets: string[] = [];
  const params: unknown[] = [];
  for (const column of ENDPOINT_PROOF_COLUMNS) {
    const value = proof[ENDPOINT_PROOF_FIELDS[column]];
    if (value === undefined) continue;
    sets.push(`${column} = ?`);
    params.push(value);
  }
  if (options.status !== undefined) {
    sets.push("status = ?");
    params.push(options.status);
  }
  sets.push("updated_at = ?");
  params.push(options.at, agentId);
  let sql = `UPDATE agents SET ${sets.join(", ")} WHERE id = ?`;
  if (options.ifEndpoint !== undefined) {
    sql += " AND api_endpoint = ?";
    params.push(options.ifEndpoint);
  }
  return { sql, params };
}

/**
 * The `SELECT` of `listGraceEndpoints` (two `?`: checked before, the limit), over the partial index
 * of migration 9.
 */
export function graceEndpointsQuery(columns: string): string {
  return `SELECT ${columns} FROM agents
    WHERE endpoint_verified_at IS NULL AND endpoint_grace_until IS NOT NULL
      AND (endpoint_checked_at IS NULL OR endpoint_checked_at < ?)
    ORDER BY endpoint_checked_at IS NOT NULL, endpoint_checked_at, seq
    LIMIT ?`;
}
