import type { PgDb, PgTx } from "../platform/db/pg-db.js";
import { numbered } from "../platform/db/sql-queries.js";
import {
  COUNT_LISTINGS,
  countsAsListing,
  listingLimit,
  listingLimitReached,
  reactivates,
} from "./listing-limits.js";
import { searchAgents } from "./pg-search.js";
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
import { searchTokens } from "./search-terms.js";

/**
 * The ranking figures a listing's writes need, from the metrics module above this one (the store
 * passes them in).
 */
export interface PgAgentScoring {
  /** The prior of a category now, which a new listing is scored at (read through `db`). */
  priorOf(db: PgDb | PgTx, category: string): Promise<number>;
  /**
   * Rewrites the figures of the agent `seq`, now `agent` (re-priced or re-categorized), from its
   * window totals, inside `tx` holding its row lock; the figures keep their time `at`.
   */
  rescore(tx: PgTx, seq: number, agent: AgentRecord, at: string): Promise<void>;
}

/** The agent registry (listings, prices, endpoint proofs, search, up/down status) on PostgreSQL. */
export function createPgRegistry(db: PgDb, scoring: PgAgentScoring): RegistryStore & AgentStatusStore {
  return {
    async insertAgent(agent, limits) {
      const limit = listingLimit(limits);
      if (limit === undefined || !countsAsListing(agent)) return insertAgent(db, scoring, agent);
      return db.transaction(async (tx) => {
        await checkListingLimit(tx, agent.ownerId, limit);
        return insertAgent(tx, scoring, agent);
      });
    },

    async getAgent(id) {
      const row = await db.one<AgentRow>(`SELECT ${AGENT} FROM agents WHERE id = $1`, [id]);
      return row && toAgent(row);
    },

    async getAgentContract(id) {
      const row = await db.one<AgentContractRow>(numbered(AGENT_CONTRACT_QUERY), [id]);
      return row && toAgentContract(row);
    },

    async updateAgent(id, patch, at, limits) {
      return db.transaction((tx) => updateAgent(tx, scoring, id, patch, at, limits));
    },

    async listPriceHistory(agentId) {
      const rows = await db.query<PriceHistoryRow>(
        `SELECT price_micros, currency, tier, min_calls, effective_from, effective_to FROM price_history
         WHERE agent_id = $1 ORDER BY effective_from DESC, seq DESC`,
        [agentId],
      );
      return rows.map(toPriceHistory);
    },

    async searchAgents(search) {
      return searchAgents(db, search);
    },

    async listCategories() {
      return db.query<{ category: string; count: number }>(
        `SELECT category, count(*) AS count FROM agents WHERE status <> 'inactive'
         GROUP BY category ORDER BY count DESC, category ASC`,
      );
    },

    async setEndpointProof(agentId, proof, options) {
      const { sql, params } = endpointProofUpdate(agentId, proof, options);
      const row = await db.one<AgentRow>(`${numbered(sql)} RETURNING ${AGENT}`, params);
      return row && toAgent(row);
    },

    async listGraceEndpoints(checkedBefore, limit) {
      const rows = await db.query<AgentRow>(numbered(graceEndpointsQuery(AGENT)), [checkedBefore, limit]);
      return rows.map(toAgent);
    },

    async listHealthCheckTargets() {
      const rows = await db.query<{ id: string; api_endpoint: string; status: "active" | "down" }>(
        "SELECT id, api_endpoint, status FROM agents WHERE status IN ('active', 'down') ORDER BY seq",
      );
      return rows.map((row) => ({ id: row.id, apiEndpoint: row.api_endpoint, status: row.status }));
    },

    async setAgentHealthStatus(agentId, status, at) {
      // One statement: a concurrent owner's deactivation or another broker's flip is re-checked on
      // the row as it stands, and only one of two brokers flipping the same way reports a change.
      // Only between up and down: a deactivated agent stays so until its owner re-activates it.
      const changed = await db.run(
        `UPDATE agents SET status = $1, updated_at = $2
         WHERE id = $3 AND status IN ('active', 'down') AND status <> $1`,
        [status, at, agentId],
      );
      return changed === 1;
    },
  };
}

const AGENT = agentColumns();

/** The search tokens of an agent's name, description and tags (the stored JSON, as SQLite indexes it). */
function termsOf(agent: Pick<AgentRecord, "name" | "description" | "tags">): string[] {
  return searchTokens(`${agent.name} ${agent.description} ${JSON.stringify(agent.tags)}`);
}

/**
 * Registers an agent, scored at the prior, with its tags, search terms and first price: one
 * statement, so atomic without a transaction.
 */
async function insertAgent(db: PgDb | PgTx, scoring: PgAgentScoring, agent: NewAgent): Promise<AgentRecord> {
  const values = newAgentValues(agent, await scoring.priorOf(db, agent.category));
  const tags = values.length + 1;
  const row = await db.one<AgentRow>(
    `WITH a AS (
       INSERT INTO agents (${NEW_AGENT_COLUMNS.join(", ")}) VALUES (${values.map((_, i) => `$${i + 1}`).join(", ")})
       RETURNING ${AGENT}
     ),
     t AS (INSERT INTO agent_tags (tag, agent_seq) SELECT unnest($${tags}::text[]), seq FROM a),
     s AS (INSERT INTO agent_search (agent_seq, terms) SELECT seq, array_to_tsvector($${tags + 1}::text[]) FROM a),
     p AS (
       INSERT INTO price_history (agent_id, price_micros, currency, tier, min_calls, effective_from)
       SELECT id, price_micros, currency, tier, min_calls, created_at FROM a
     )
     SELECT * FROM a`,
    [...values, [...new Set(agent.tags)], termsOf(agent)],
  );
  return toAgent(row as AgentRow);
}

/**
 * Refuses one listing too many for `ownerId`. The owner's account row is locked first (FOR NO KEY
 * UPDATE: it does not block the foreign-key checks of other writes), so that registrations and
 * re-activations of one owner count one after another, each seeing the others' commits.
 */
async function checkListingLimit(tx: PgTx, ownerId: string, limit: number): Promise<void> {
  await tx.run("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE", [ownerId]);
  const row = await tx.one<{ count: number }>(COUNT_LISTINGS.replace("?", "$1"), [ownerId]);
  if ((row?.count ?? 0) >= limit) throw listingLimitReached(limit);
}

/**
 * Applies an owner's patch holding the agent's row lock, so that it neither loses nor undoes a
 * concurrent health flip or metrics flush: those rewrite other columns, and figures re-priced
 * here are computed from the window totals as they stand under the lock.
 */
async function updateAgent(
  tx: PgTx,
  scoring: PgAgentScoring,
  id: string,
  patch: AgentPatch,
  at: string,
  limits: ListingLimits | undefined,
): Promise<AgentRecord | undefined> {
  const row = await tx.one<AgentRow>(`SELECT ${AGENT} FROM agents WHERE id = $1 FOR NO KEY UPDATE`, [id]);
  if (!row) return undefined;
  const limit = listingLimit(limits);
  // The agent's row lock is held: its status cannot change until this transaction ends.
  if (limit !== undefined && reactivates(row.status, patch)) await checkListingLimit(tx, row.owner_id, limit);
  const current = toAgent(row);
  const { next, repriced, rescore } = patchAgent(current, patch, at);
  const seq = row.seq;
  const schemas = schemaAssignments(patch.schemas);
  if (schemas.sets.length > 0) {
    await tx.run(numbered(`UPDATE agents SET ${schemas.sets.join(", ")} WHERE seq = ?`), [
      ...schemas.values,
      seq,
    ]);
  }
  // The figures keep their time: the measurements did not change, only the price.
  if (rescore) await scoring.rescore(tx, seq, next, row.metrics_updated_at);
  const updated = await tx.one<AgentRow>(
    `UPDATE agents SET ${PATCHED_COLUMNS.map((c, i) => `${c} = $${i + 1}`).join(", ")}
     WHERE seq = $${PATCHED_COLUMNS.length + 1} RETURNING ${AGENT}`,
    [...patchedValues(next), seq],
  );
  if (patch.tags) {
    await tx.run("DELETE FROM agent_tags WHERE agent_seq = $1", [seq]);
    await tx.run("INSERT INTO agent_tags (tag, agent_seq) SELECT unnest($1::text[]), $2", [
      [...new Set(patch.tags)],
      seq,
    ]);
  }
  if (next.name !== current.name || next.description !== current.description || patch.tags) {
    await tx.run("UPDATE agent_search SET terms = array_to_tsvector($1::text[]) WHERE agent_seq = $2", [
      termsOf(next),
      seq,
    ]);
  }
  if (repriced) {
    await tx.run("UPDATE price_history SET effective_to = $1 WHERE agent_id = $2 AND effective_to IS NULL", [
      at,
      id,
    ]);
    await tx.run(
      `INSERT INTO price_history (agent_id, price_micros, currency, tier, min_calls, effective_from)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [id, next.pricing.priceMicros, next.pricing.currency, next.pricing.tier, next.pricing.minCalls, at],
    );
  }
  return toAgent(updated as AgentRow);
}
