import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { type AgentCounters, scoreAgent } from "@mercato/protocol";
import Database from "better-sqlite3";
import { decodeCursor, encodeCursor } from "../cursor.js";
import type {
  AgentPatch,
  AgentRecord,
  AgentSearchPage,
  ApiKeyRecord,
  CallOutcome,
  HealthCheckOutcome,
  NewAgent,
  PriceHistoryRecord,
  SearchSortValue,
  Store,
} from "../types.js";
import { migrate } from "./migrations.js";

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** Database file; its folder is created if missing. `:memory:` for a throw-away store. */
  path: string;
}

const SORTS: Record<SearchSortValue, { column: string; descending: boolean }> = {
  cost_per_success: { column: "cost_per_success", descending: false },
  trust_score_desc: { column: "trust_score", descending: true },
  price_asc: { column: "price_micros", descending: false },
  response_time_asc: { column: "avg_response_time_ms", descending: false },
};

interface AgentRow {
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
  success_rate: number;
  avg_response_time_ms: number;
  uptime_24h: number;
  trust_score: number;
  cost_per_success: number;
  metrics_updated_at: string;
  created_at: string;
  updated_at: string;
}

interface KeyRow {
  id: string;
  account_id: string;
  kind: ApiKeyRecord["kind"];
  name: string | null;
  prefix: string;
  hashed_key: string;
  agent_id: string | null;
  rate_limit: number | null;
  expires_at: string | null;
  created_at: string;
  revoked_at: string | null;
}

/**
 * The embedded store: one SQLite file through better-sqlite3, in WAL mode, migrated on open.
 *
 * @example
 * const store = createSqliteStore({ path: ".mercato/mercato.db" });
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);

  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string): Database.Statement => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };

  const insertKey = (key: ApiKeyRecord): void => {
    prepare(
      `INSERT INTO api_keys (id, account_id, kind, name, prefix, hashed_key, agent_id, rate_limit,
         expires_at, created_at, revoked_at)
       VALUES (@id, @accountId, @kind, @name, @prefix, @hash, @agentId, @rateLimit, @expiresAt,
         @createdAt, @revokedAt)`,
    ).run(key);
  };

  const getAgentRow = (id: string): AgentRow | undefined =>
    prepare("SELECT * FROM agents WHERE id = ?").get(id) as AgentRow | undefined;

  const writeTags = (seq: number, tags: string[]): void => {
    prepare("DELETE FROM agent_tags WHERE agent_seq = ?").run(seq);
    const insert = prepare("INSERT INTO agent_tags (tag, agent_seq) VALUES (?, ?)");
    for (const tag of tags) insert.run(tag, seq);
  };

  const writeScores = (row: AgentRow, counters: AgentCounters, at: string): void => {
    const scores = scoreAgent(row.price_micros, counters);
    prepare(
      `UPDATE agents SET calls = ?, successes = ?, total_response_time_ms = ?, health_checks = ?,
         healthy_checks = ?, success_rate = ?, avg_response_time_ms = ?, uptime_24h = ?, trust_score = ?,
         cost_per_success = ?, metrics_updated_at = ?
       WHERE seq = ?`,
    ).run(
      counters.calls,
      counters.successes,
      counters.totalResponseTimeMs,
      counters.healthChecks,
      counters.healthyChecks,
      scores.successRate,
      scores.avgResponseTimeMs,
      scores.uptime,
      scores.trustScore,
      scores.costPerSuccessMicros,
      at,
      row.seq,
    );
  };

  const insertAgent = db.transaction((agent: NewAgent): AgentRecord => {
    const counters = countersOf(undefined);
    const scores = scoreAgent(agent.pricing.priceMicros, counters);
    const result = prepare(
      `INSERT INTO agents (id, owner_id, name, description, category, tags, version, api_endpoint, status,
         pricing_model, price_micros, currency, tier, min_calls, success_rate, avg_response_time_ms,
         uptime_24h, trust_score, cost_per_success, metrics_updated_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
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
      scores.successRate,
      scores.avgResponseTimeMs,
      scores.uptime,
      scores.trustScore,
      scores.costPerSuccessMicros,
      agent.createdAt,
      agent.createdAt,
      agent.createdAt,
    );
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

  const updateAgent = db.transaction((id: string, patch: AgentPatch, at: string): AgentRecord | undefined => {
    const row = getAgentRow(id);
    if (!row) return undefined;
    const current = toAgent(row);
    const next = { ...current, ...withoutUndefined(patch), updatedAt: at };
    prepare(
      `UPDATE agents SET name = ?, description = ?, category = ?, tags = ?, version = ?, api_endpoint = ?,
         status = ?, pricing_model = ?, price_micros = ?, currency = ?, tier = ?, min_calls = ?, updated_at = ?
       WHERE seq = ?`,
    ).run(
      next.name,
      next.description,
      next.category,
      JSON.stringify(next.tags),
      next.version,
      next.apiEndpoint,
      next.status,
      next.pricing.model,
      next.pricing.priceMicros,
      next.pricing.currency,
      next.pricing.tier,
      next.pricing.minCalls,
      at,
      row.seq,
    );
    if (patch.tags) writeTags(row.seq, patch.tags);
    const p = patch.pricing;
    if (
      p &&
      (p.priceMicros !== current.pricing.priceMicros ||
        p.tier !== current.pricing.tier ||
        p.minCalls !== current.pricing.minCalls)
    ) {
      insertPrice(id, p, at);
      if (p.priceMicros !== current.pricing.priceMicros) {
        writeScores({ ...row, price_micros: p.priceMicros }, current.counters, row.metrics_updated_at);
      }
    }
    return toAgent(getAgentRow(id) as AgentRow);
  });

  const recordCounters = db.transaction(
    (at: string, byAgent: Map<string, (counters: AgentCounters) => AgentCounters>): void => {
      for (const [agentId, apply] of byAgent) {
        const row = getAgentRow(agentId);
        if (row) writeScores(row, apply(countersOf(row)), at);
      }
    },
  );

  return {
    async createAccount(account, firstKey) {
      db.transaction(() => {
        prepare("INSERT INTO accounts (id, name, email, created_at) VALUES (?, ?, ?, ?)").run(
          account.id,
          account.name,
          account.email,
          account.createdAt,
        );
        insertKey(firstKey);
      })();
    },

    async getAccount(id) {
      const row = prepare("SELECT id, name, email, created_at FROM accounts WHERE id = ?").get(id) as
        | { id: string; name: string; email: string | null; created_at: string }
        | undefined;
      return row && { id: row.id, name: row.name, email: row.email, createdAt: row.created_at };
    },

    async insertApiKey(key) {
      insertKey(key);
    },

    async findApiKeyByHash(hash) {
      const row = prepare("SELECT * FROM api_keys WHERE hashed_key = ?").get(hash) as KeyRow | undefined;
      return row && toKey(row);
    },

    async getApiKey(id) {
      const row = prepare("SELECT * FROM api_keys WHERE id = ?").get(id) as KeyRow | undefined;
      return row && toKey(row);
    },

    async listApiKeys(accountId) {
      const rows = prepare(
        "SELECT * FROM api_keys WHERE account_id = ? ORDER BY created_at DESC, id DESC",
      ).all(accountId) as KeyRow[];
      return rows.map(toKey);
    },

    async revokeApiKey(id, at) {
      prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(at, id);
      const row = prepare("SELECT * FROM api_keys WHERE id = ?").get(id) as KeyRow | undefined;
      return row && toKey(row);
    },

    async rotateApiKey(oldId, replacement, at) {
      return db.transaction(() => {
        const revoked = prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(
          at,
          oldId,
        );
        if (revoked.changes !== 1) return false;
        insertKey(replacement);
        return true;
      })();
    },

    async insertAgent(agent) {
      return insertAgent(agent);
    },

    async getAgent(id) {
      const row = getAgentRow(id);
      return row && toAgent(row);
    },

    async updateAgent(id, patch, at) {
      return updateAgent(id, patch, at);
    },

    async listPriceHistory(agentId) {
      const rows = prepare(
        `SELECT price_micros, currency, tier, min_calls, effective_from, effective_to FROM price_history
         WHERE agent_id = ? ORDER BY effective_from DESC, rowid DESC`,
      ).all(agentId) as Array<{
        price_micros: number;
        currency: "USD";
        tier: string;
        min_calls: number;
        effective_from: string;
        effective_to: string | null;
      }>;
      return rows.map(
        (row): PriceHistoryRecord => ({
          priceMicros: row.price_micros,
          currency: row.currency,
          tier: row.tier,
          minCalls: row.min_calls,
          effectiveFrom: row.effective_from,
          effectiveTo: row.effective_to,
        }),
      );
    },

    async searchAgents(search) {
      const { column, descending } = SORTS[search.sort];
      const where: string[] = ["a.status <> 'inactive'"];
      const params: unknown[] = [];
      if (search.category !== undefined) {
        where.push("a.category = ?");
        params.push(search.category);
      }
      for (const tag of search.tags ?? []) {
        where.push("a.seq IN (SELECT agent_seq FROM agent_tags WHERE tag = ?)");
        params.push(tag);
      }
      if (search.words && search.words.length > 0) {
        where.push("a.seq IN (SELECT rowid FROM agents_fts WHERE agents_fts MATCH ?)");
        params.push(search.words.map((word) => `"${word}"*`).join(" "));
      }
      if (search.maxPriceMicros !== undefined) {
        where.push("a.price_micros <= ?");
        params.push(search.maxPriceMicros);
      }
      if (search.minTrust !== undefined) {
        where.push("a.trust_score >= ?");
        params.push(search.minTrust);
      }
      if (search.cursor !== undefined) {
        const position = decodeCursor(search.cursor, search.sort);
        where.push(
          descending
            ? `a.${column} <= ? AND (a.${column} < ? OR a.seq > ?)`
            : `a.${column} >= ? AND (a.${column} > ? OR a.seq > ?)`,
        );
        params.push(position.value, position.value, position.seq);
      }
      const sql = `SELECT a.* FROM agents a WHERE ${where.join(" AND ")}
        ORDER BY a.${column} ${descending ? "DESC" : "ASC"}, a.seq ASC LIMIT ?`;
      params.push(search.limit + 1);
      const rows = prepare(sql).all(...params) as AgentRow[];
      const page = rows.slice(0, search.limit);
      const last = page.at(-1);
      const nextCursor =
        rows.length > search.limit && last
          ? encodeCursor({
              sort: search.sort,
              value: last[column as keyof AgentRow] as number,
              seq: last.seq,
            })
          : null;
      return { agents: page.map(toAgent), nextCursor } satisfies AgentSearchPage;
    },

    async listCategories() {
      return prepare(
        `SELECT category, COUNT(*) AS count FROM agents WHERE status <> 'inactive'
         GROUP BY category ORDER BY count DESC, category ASC`,
      ).all() as Array<{ category: string; count: number }>;
    },

    async recordCallOutcomes(outcomes: CallOutcome[], at: string) {
      const byAgent = new Map<string, (counters: AgentCounters) => AgentCounters>();
      for (const [agentId, list] of groupBy(outcomes, (outcome) => outcome.agentId)) {
        byAgent.set(agentId, (counters) => ({
          ...counters,
          calls: counters.calls + list.length,
          successes: counters.successes + list.filter((outcome) => outcome.success).length,
          totalResponseTimeMs:
            counters.totalResponseTimeMs + sum(list.map((outcome) => outcome.responseTimeMs)),
        }));
      }
      recordCounters(at, byAgent);
    },

    async recordHealthChecks(outcomes: HealthCheckOutcome[], at: string) {
      const byAgent = new Map<string, (counters: AgentCounters) => AgentCounters>();
      for (const [agentId, list] of groupBy(outcomes, (outcome) => outcome.agentId)) {
        byAgent.set(agentId, (counters) => ({
          ...counters,
          healthChecks: counters.healthChecks + list.length,
          healthyChecks: counters.healthyChecks + list.filter((outcome) => outcome.healthy).length,
        }));
      }
      recordCounters(at, byAgent);
    },

    async close() {
      if (db.open) {
        db.pragma("optimize");
        db.close();
      }
    },
  };
}

function countersOf(row: AgentRow | undefined): AgentCounters {
  return {
    calls: row?.calls ?? 0,
    successes: row?.successes ?? 0,
    totalResponseTimeMs: row?.total_response_time_ms ?? 0,
    healthChecks: row?.health_checks ?? 0,
    healthyChecks: row?.healthy_checks ?? 0,
  };
}

function toAgent(row: AgentRow): AgentRecord {
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
    scores: {
      successRate: row.success_rate,
      avgResponseTimeMs: row.avg_response_time_ms,
      uptime: row.uptime_24h,
      trustScore: row.trust_score,
      costPerSuccessMicros: row.cost_per_success,
    },
    metricsUpdatedAt: row.metrics_updated_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toKey(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    kind: row.kind,
    name: row.name,
    prefix: row.prefix,
    hash: row.hashed_key,
    agentId: row.agent_id,
    rateLimit: row.rate_limit,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
