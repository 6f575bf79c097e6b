import type Database from "better-sqlite3";
import { searchPage } from "./cursor.js";
import {
  COUNT_LISTINGS,
  countsAsListing,
  listingLimit,
  listingLimitReached,
  reactivates,
} from "./listing-limits.js";
import type {
  AgentPatch,
  AgentRecord,
  AgentStatusStore,
  ListingLimits,
  NewAgent,
  RegistryStore,
} from "./port.js";
import {
  AGENT_CONTRACT_QUERY,
  type AgentContractRow,
  type AgentRow,
  agentColumns,
  endpointProofUpdate,
  graceEndpointsQuery,
  NEW_AGENT_COLUMNS,
  newAgentValues,
  PATCHED_COLUMNS,
  type PriceHistoryRow,
  patchAgent,
  patchedValues,
  schemaAssignments,
  toAgent,
  toAgentContract,
  toPriceHistory,
} from "./rows.js";
import { searchRows } from "./sqlite-search.js";

type Prepare = (sql: string) => Database.Statement;

/**
 * The ranking figures a listing's writes need, from the metrics module above this one (the store
 * passes them in): both run inside the registry's transaction.
 */
export interface SqliteAgentScoring {
  /** The prior of a category, which a new listing is scored at. */
  priorOf(category: string): number;
  /** Rescores an agent whose price or category changed; its figures keep their time `at`. */
  rescore(seq: number, at: string): void;
}

/** The agent registry (listings, prices, endpoint proofs, search, up/down status) on SQLite. */
export function createSqliteRegistry(
  db: Database.Database,
  prepare: Prepare,
  scoring: SqliteAgentScoring,
): RegistryStore & AgentStatusStore {
  const getAgentRow = (id: string): AgentRow | undefined =>
    prepare(`SELECT ${agentColumns()} FROM agents WHERE id = ?`).get(id) as AgentRow | undefined;

  const writeTags = (seq: number, tags: string[]): void => {
    prepare("DELETE FROM agent_tags WHERE agent_seq = ?").run(seq);
    const insert = prepare("INSERT INTO agent_tags (tag, agent_seq) VALUES (?, ?)");
    for (const tag of tags) insert.run(tag, seq);
  };

  /** Refuses one listing too many for `ownerId`; inside the transaction that would add it. */
  const checkListingLimit = (ownerId: string, limits: ListingLimits | undefined): void => {
    const limit = listingLimit(limits);
    if (limit === undefined) return;
    const { count } = prepare(COUNT_LISTINGS).get(ownerId) as { count: number };
    if (count >= limit) throw listingLimitReached(limit);
  };

  const insertAgent = db.transaction((agent: NewAgent, limits: ListingLimits | undefined): AgentRecord => {
    if (countsAsListing(agent)) checkListingLimit(agent.ownerId, limits);
    const result = prepare(
      `INSERT INTO agents (${NEW_AGENT_COLUMNS.join(", ")}) VALUES (${NEW_AGENT_COLUMNS.map(() => "?").join(", ")})`,
    ).run(...newAgentValues(agent, scoring.priorOf(agent.category)));
    writeTags(Number(result.lastInsertRowid), agent.tags);
    insertPrice(agent.id, agent.pricing, agent.createdAt);
    return toAgent(getAgentRow(agent.id) as AgentRow);
  });

  const insertPrice = (agentId: string, pricing: NewAgent["pricing"], at: string): void => {
    prepare("UPDATE price_history SET effective_to = ? WHERE agent_id = ? AND effective_to IS NULL").run(
      at,
      agentId,
    );
    prepare(
      `INSERT INTO price_history (agent_id, price_micros, currency, tier, min_calls, effective_from)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(agentId, pricing.priceMicros, pricing.currency, pricing.tier, pricing.minCalls, at);
  };

  const updateAgent = db.transaction(
    (
      id: string,
      patch: AgentPatch,
      at: string,
      limits: ListingLimits | undefined,
    ): AgentRecord | undefined => {
      const row = getAgentRow(id);
      if (!row) return undefined;
      if (reactivates(row.status, patch)) checkListingLimit(row.owner_id, limits);
      const { next, repriced, rescore } = patchAgent(toAgent(row), patch, at);
      prepare(`UPDATE agents SET ${PATCHED_COLUMNS.map((c) => `${c} = ?`).join(", ")} WHERE seq = ?`).run(
        ...patchedValues(next),
        row.seq,
      );
      const schemas = schemaAssignments(patch.schemas);
      if (schemas.sets.length > 0) {
        prepare(`UPDATE agents SET ${schemas.sets.join(", ")} WHERE seq = ?`).run(...schemas.values, row.seq);
      }
      if (patch.tags) writeTags(row.seq, patch.tags);
      if (repriced) insertPrice(id, next.pricing, at);
      if (rescore) scoring.rescore(row.seq, row.metrics_updated_at);
      return toAgent(getAgentRow(id) as AgentRow);
    },
  );

  return {
    async insertAgent(agent, limits) {
      // IMMEDIATE: the count and the insert hold the write lock, also against other processes.
      return insertAgent.immediate(agent, limits);
    },

    async getAgent(id) {
      const row = getAgentRow(id);
      return row && toAgent(row);
    },

    async getAgentContract(id) {
      const row = prepare(AGENT_CONTRACT_QUERY).get(id) as AgentContractRow | undefined;
      return row && toAgentContract(row);
    },

    async updateAgent(id, patch, at, limits) {
      return updateAgent.immediate(id, patch, at, limits);
    },

    async listPriceHistory(agentId) {
      const rows = prepare(
        `SELECT price_micros, currency, tier, min_calls, effective_from, effective_to FROM price_history
         WHERE agent_id = ? ORDER BY effective_from DESC, rowid DESC`,
      ).all(agentId) as PriceHistoryRow[];
      return rows.map(toPriceHistory);
    },

    async searchAgents(search) {
      // One read transaction: a search may take several statements and must see one snapshot.
      return searchPage(db.transaction(() => searchRows(prepare, search))(), search);
    },

    async listCategories() {
      return prepare(
        `SELECT category, COUNT(*) AS count FROM agents WHERE status <> 'inactive'
         GROUP BY category ORDER BY count DESC, category ASC`,
      ).all() as Array<{ category: string; count: number }>;
    },

    async setEndpointProof(agentId, proof, options) {
      const { sql, params } = endpointProofUpdate(agentId, proof, options);
      const { changes } = prepare(sql).run(...params);
      if (changes !== 1) return undefined;
      return toAgent(getAgentRow(agentId) as AgentRow);
    },

    async listGraceEndpoints(checkedBefore, limit) {
      const rows = prepare(graceEndpointsQuery("*")).all(checkedBefore, limit) as AgentRow[];
      return rows.map(toAgent);
    },

    async listHealthCheckTargets() {
      const rows = prepare(
        "SELECT id, api_endpoint, status FROM agents WHERE status IN ('active', 'down') ORDER BY seq",
      ).all() as Array<{ id: string; api_endpoint: string; status: "active" | "down" }>;
      return rows.map((row) => ({ id: row.id, apiEndpoint: row.api_endpoint, status: row.status }));
    },

    async setAgentHealthStatus(agentId, status, at) {
      // Only between up and down: a deactivated agent stays so until its owner re-activates it.
      const { changes } = prepare(
        `UPDATE agents SET status = ?, updated_at = ?
         WHERE id = ? AND status IN ('active', 'down') AND status <> ?`,
      ).run(status, at, agentId, status);
      return changes === 1;
    },
  };
}
