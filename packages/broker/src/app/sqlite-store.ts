import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { ApiKeyPatch, ApiKeyRecord } from "../accounts/port.js";
import { createAlertChannels } from "../alerts/alert-channels.js";
import { createSqliteGrants } from "../grants/sqlite-grants.js";
import { carryKeySpend } from "../ledger/sqlite-key-spend.js";
import { createSqliteLedger } from "../ledger/sqlite-ledger.js";
import { createSqliteHealthClaims } from "../metrics/sqlite-health-claims.js";
import { createSqliteMetrics } from "../metrics/sqlite-metrics.js";
import { createPayoutDestinations } from "../payments/payout-destinations.js";
import { sqliteQueries } from "../platform/db/sql-queries.js";
import { decodeCursor, SORTS, searchPage } from "../registry/cursor.js";
import {
  COUNT_LISTINGS,
  countsAsListing,
  listingLimit,
  listingLimitReached,
  reactivates,
} from "../registry/listing-limits.js";
import type {
  AgentPatch,
  AgentRecord,
  AgentSearch,
  ListingLimits,
  NewAgent,
  SearchSortValue,
} from "../registry/port.js";
import {
  AGENT_CONTRACT_QUERY,
  type AgentContractRow,
  type AgentRow,
  agentColumns,
  assertSpendCap,
  endpointProofUpdate,
  graceEndpointsQuery,
  KEY_COLUMNS,
  type KeyRow,
  keyValues,
  NEW_AGENT_COLUMNS,
  newAgentValues,
  PATCHED_COLUMNS,
  type PriceHistoryRow,
  patchAgent,
  patchedValues,
  schemaAssignments,
  toAgent,
  toAgentContract,
  toKey,
  toPriceHistory,
} from "../registry/rows.js";
import { migrate } from "./sqlite-migrations.js";
import type { Store } from "./store.js";

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** Database file; its folder is created if missing. `:memory:` for a throw-away store. */
  path: string;
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
  // FULL: a commit is on disk before any caller hears of it (the ledger answers after commit).
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  // 64 MiB of page cache: the registry's indexes stay in memory at 100,000 agents.
  db.pragma("cache_size = -65536");
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
      `INSERT INTO api_keys (${KEY_COLUMNS.join(", ")}) VALUES (${KEY_COLUMNS.map(() => "?").join(", ")})`,
    ).run(...keyValues(key));
  };
  const getKeyRow = (id: string): KeyRow | undefined =>
    prepare("SELECT * FROM api_keys WHERE id = ?").get(id) as KeyRow | undefined;

  const updateKey = db.transaction((id: string, patch: ApiKeyPatch): ApiKeyRecord | undefined => {
    const row = getKeyRow(id);
    if (!row) return undefined;
    const key = toKey(row);
    if (patch.name !== undefined) key.name = patch.name;
    if (patch.rateLimit !== undefined) key.rateLimit = patch.rateLimit;
    if (patch.spendCap !== undefined) {
      assertSpendCap(key.kind, patch.spendCap);
      key.spendCap = patch.spendCap;
    }
    prepare("UPDATE api_keys SET name = ?, rate_limit = ?, spend_cap = ? WHERE id = ?").run(
      key.name,
      key.rateLimit,
      key.spendCap,
      id,
    );
    return key;
  });

  const getAgentRow = (id: string): AgentRow | undefined =>
    prepare(`SELECT ${agentColumns()} FROM agents WHERE id = ?`).get(id) as AgentRow | undefined;

  const writeTags = (seq: number, tags: string[]): void => {
    prepare("DELETE FROM agent_tags WHERE agent_seq = ?").run(seq);
    const insert = prepare("INSERT INTO agent_tags (tag, agent_seq) VALUES (?, ?)");
    for (const tag of tags) insert.run(tag, seq);
  };

  // Call outcomes, health checks, window metrics and the ranking figures derived from them.
  const metrics = createSqliteMetrics(db, prepare);

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
    ).run(...newAgentValues(agent, metrics.priorOf(agent.category)));
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
      if (rescore) metrics.rescore(row.seq, row.metrics_updated_at);
      return toAgent(getAgentRow(id) as AgentRow);
    },
  );

  const ledger = createSqliteLedger(db, prepare);

  return {
    ...ledger,
    ...createSqliteGrants(db, prepare),
    // Alert channels and payout destinations: the statements both stores share.
    ...createAlertChannels(sqliteQueries(prepare)),
    ...createPayoutDestinations(sqliteQueries(prepare)),

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
      const row = getKeyRow(id);
      return row && toKey(row);
    },

    async listApiKeys(accountId) {
      const rows = prepare(
        "SELECT * FROM api_keys WHERE account_id = ? ORDER BY created_at DESC, rowid DESC",
      ).all(accountId) as KeyRow[];
      return rows.map(toKey);
    },

    async revokeApiKey(id, at) {
      prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(at, id);
      const row = getKeyRow(id);
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
        carryKeySpend(prepare, oldId, replacement.id);
        return true;
      })();
    },

    async updateApiKey(id, patch) {
      return updateKey(id, patch);
    },

    async suspendApiKey(id, at, reason) {
      const { changes } = prepare(
        `UPDATE api_keys SET suspended_at = ?, suspend_reason = ?
         WHERE id = ? AND suspended_at IS NULL AND revoked_at IS NULL`,
      ).run(at, reason, id);
      return changes === 1;
    },

    async reinstateApiKey(id) {
      const { changes } = prepare(
        "UPDATE api_keys SET suspended_at = NULL, suspend_reason = NULL WHERE id = ? AND suspended_at IS NOT NULL",
      ).run(id);
      return changes === 1;
    },

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

    ...metrics.store,
    ...createSqliteHealthClaims(db, prepare),

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

    async close() {
      if (db.open) {
        db.pragma("optimize");
        db.close();
      }
    },
  };
}

/*
 * Search planning. A search either walks its sort order's index, checking the filters on each entry
 * and stopping after `limit + 1` hits, or starts from the smallest candidate set (a tag's agents, a
 * word's full-text matches, a price or trust range) and sorts that. Walking costs in inverse
 * proportion to the filters' selectivity: cheap when they let many agents through, a scan of the
 * whole index when they let few. Sorting costs in proportion to the set. The sets' sizes are
 * estimated (below) and the cheaper plan wins, by the per-row costs in COST (microseconds, measured
 * on 100,000 agents; only their ratios matter). SQLite's own planner cannot make this choice: it has
 * no statistics for FTS5 and none per tag, and it sorted all 57,000 agents of a common tag to
 * return 21.
 */
/** Largest set a search starts from. */
const SET_LIMIT = 4000;
const COST = { setRow: 2, scanEntry: 0.1, tagProbe: 0.7, listProbe: 0.1 };
/**
 * A tag's or a word's agents come in `seq` order, which is registration order, so where the
 * SAMPLE-th falls estimates how many there are (assuming them spread evenly) at the price of
 * reading SAMPLE entries.
 */
const SAMPLE = 256;
/**
 * Words of up to this many characters are served by the full-text prefix index (migration 1's
 * `prefix = '1 2 3 4'`): checking one agent against such a word costs ~20 µs instead of merging the
 * lists of every word it prefixes.
 */
const PREFIX_INDEX_CHARS = 4;
/** A word matching over 1 agent in this many is checked per candidate, on this many times a page. */
const COMMON_WORD_RATIO = 8;

type Prepare = (sql: string) => Database.Statement;

/** Where a search starts: the sort order's index, or one candidate set. */
type Driver =
  | { kind: "sort" }
  | { kind: "tag"; tag: string }
  | { kind: "matches" }
  | { kind: "price" }
  | { kind: "trust" };

/**
 * A filter as the planner sees it: the share of the walked agents it lets through, what checking it
 * costs per index entry, and the set it can start from when that set is small (`size` ≤ SET_LIMIT).
 */
interface Candidate {
  share: number;
  probe: number;
  driver?: Driver;
  size?: number;
}

interface ResolvedSearch {
  sort: (typeof SORTS)[SearchSortValue];
  category: string | undefined;
  tags: string[];
  maxPriceMicros: number | undefined;
  minTrust: number | undefined;
  position: { value: number; seq: number } | undefined;
  /** Agents (`seq`) matching every word whose matches were few enough to list. */
  matches: number[] | undefined;
  /** FTS5 query of the words with many matches, applied as one materialized list. */
  match: string | undefined;
}

/** The agent columns a search reads (the schemas' presence, not their text). */
const AGENT_SELECT = agentColumns("a");
const FTS_ROWIDS = "SELECT rowid FROM agents_fts WHERE agents_fts MATCH ?";
const TAG_SEQS = "SELECT agent_seq FROM agent_tags WHERE tag = ? ORDER BY agent_seq";

/** The rows of one page of a search, plus one when there is a next page, in the sort order. */
function searchRows(prepare: Prepare, search: AgentSearch): AgentRow[] {
  const want = search.limit + 1;
  const s: ResolvedSearch = {
    sort: SORTS[search.sort],
    category: search.category,
    tags: [...new Set(search.tags ?? [])],
    maxPriceMicros: search.maxPriceMicros,
    minTrust: search.minTrust,
    position: search.cursor === undefined ? undefined : decodeCursor(search.cursor, search.sort),
    matches: undefined,
    match: undefined,
  };
  const agents = Math.max(1, (prepare("SELECT max(seq) FROM agents").pluck().get() as number | null) ?? 1);
  const common = Math.max(SET_LIMIT, Math.ceil(agents / COMMON_WORD_RATIO));
  const candidates: Candidate[] = [];

  for (const tag of s.tags) {
    let size = estimateSize(prepare, TAG_SEQS, [tag], agents);
    if (size <= 2 * SET_LIMIT) size = countUpTo(prepare, TAG_SEQS, [tag], SET_LIMIT);
    if (size === 0) return [];
    candidates.push({ share: size / agents, probe: COST.tagProbe, driver: { kind: "tag", tag }, size });
  }

  // Full-text words: each must match (as a prefix) the name, description or tags, so each is a
  // filter of its own, applied by how many agents it matches. A word with few matches is listed
  // (the lists of several such words intersected) and may drive the search. A common word is
  // checked on a window of candidates: an indexed one candidate by candidate, a longer one in one
  // pass over its matches. A word in between is matched by the query as one list.
  const lists: number[][] = [];
  const matchWords: string[] = [];
  const probeWords: string[] = [];
  const passWords: string[] = [];
  for (const word of new Set(search.words ?? [])) {
    const query = `"${word}"*`;
    const indexed = word.length <= PREFIX_INDEX_CHARS;
    // An indexed prefix is estimated cheaply. A longer one is estimated by its exact word: reading
    // the prefix's matches merges the lists of all the words it starts.
    const size = estimateSize(prepare, FTS_ROWIDS, [indexed ? query : `"${word}"`], agents);
    if (size > common) (indexed ? probeWords : passWords).push(query);
    else if (size > 2 * SET_LIMIT) matchWords.push(query);
    else {
      const list = prepare(`${FTS_ROWIDS} LIMIT ?`)
        .pluck()
        .all(query, SET_LIMIT + 1) as number[];
      if (list.length <= SET_LIMIT) lists.push(list);
      else matchWords.push(query);
    }
  }
  if (lists.length > 0) {
    lists.sort((a, b) => a.length - b.length);
    let matches = lists[0] as number[];
    for (const list of lists.slice(1)) {
      const other = new Set(list);
      matches = matches.filter((seq) => other.has(seq));
    }
    if (matches.length === 0) return [];
    s.matches = matches;
    const size = matches.length;
    candidates.push({ share: size / agents, probe: COST.listProbe, driver: { kind: "matches" }, size });
  }
  if (matchWords.length > 0) {
    s.match = matchWords.join(" ");
    candidates.push({ share: common / agents, probe: COST.listProbe });
  }

  // Price and trust ranges are candidate sets unless they are the sort order's own range. Within a
  // category they are counted there, as a share of the category.
  if (
    (s.maxPriceMicros !== undefined && search.sort !== "price_asc") ||
    (s.minTrust !== undefined && search.sort !== "trust_score_desc")
  ) {
    const inCategory = s.category === undefined ? "" : " AND category = ?";
    const categoryParams = s.category === undefined ? [] : [s.category];
    const population =
      s.category === undefined
        ? agents
        : countUpTo(
            prepare,
            `SELECT 1 FROM agents INDEXED BY agents_cat_cps WHERE status <> 'inactive' AND category = ?`,
            [s.category],
            common,
          );
    const ranges = [
      {
        kind: "price" as const,
        on: search.sort !== "price_asc",
        value: s.maxPriceMicros,
        test: "price_micros <= ?",
      },
      {
        kind: "trust" as const,
        on: search.sort !== "trust_score_desc",
        value: s.minTrust,
        test: "trust_score >= ?",
      },
    ];
    for (const range of ranges) {
      if (!range.on || range.value === undefined) continue;
      const size = countUpTo(
        prepare,
        `SELECT 1 FROM agents INDEXED BY ${sortIndex(s, range.kind)} WHERE status <> 'inactive'${inCategory} AND ${range.test}`,
        [...categoryParams, range.value],
        SET_LIMIT,
      );
      if (size === 0) return [];
      candidates.push({
        share: Math.min(1, size / Math.max(1, population)),
        probe: 0,
        driver: { kind: range.kind },
        size,
      });
    }
  }

  // Common words are checked on a window of candidates, which the plan must then find.
  const commonWords = [...probeWords, ...passWords];
  const target = commonWords.length > 0 ? want * COMMON_WORD_RATIO : want;
  const driver = chooseDriver(candidates, agents, target);
  if (commonWords.length === 0) return runSearch(prepare, s, driver, AGENT_SELECT, want) as AgentRow[];

  // Each common word matches over 1 agent in COMMON_WORD_RATIO, so most of the window's candidates
  // match: keep those that do, in order, until the page is full. Enough hits, or a window short of
  // full (no more candidates), is the exact answer.
  const window = runSearch(prepare, s, driver, "a.seq", target) as number[];
  let inWindow = window;
  if (passWords.length > 0) {
    const hits = new Set(
      prepare(`${FTS_ROWIDS} AND +rowid IN (SELECT value FROM json_each(?))`)
        .pluck()
        .all(passWords.join(" "), JSON.stringify(window)) as number[],
    );
    inWindow = window.filter((seq) => hits.has(seq));
  }
  let seqs = inWindow.slice(0, want);
  if (probeWords.length > 0) {
    const probe = prepare(`${FTS_ROWIDS} AND rowid = ?`).pluck();
    const probeQuery = probeWords.join(" ");
    seqs = [];
    for (const seq of inWindow) {
      // A BigInt: FTS5 ignores a rowid constraint bound as a REAL, which a JS number is.
      if (probe.get(probeQuery, BigInt(seq)) !== undefined) seqs.push(seq);
      if (seqs.length === want) break;
    }
  }
  if (seqs.length < want && window.length === target) {
    // The common words are rarer among these candidates: match them as one list after all.
    s.match = [...matchWords, ...commonWords].join(" ");
    return runSearch(prepare, s, driver, AGENT_SELECT, want) as AgentRow[];
  }
  if (seqs.length === 0) return [];
  const rows = prepare(
    `SELECT ${agentColumns()} FROM agents WHERE seq IN (SELECT value FROM json_each(?))`,
  ).all(JSON.stringify(seqs)) as AgentRow[];
  const bySeq = new Map(rows.map((row) => [row.seq, row]));
  return seqs.map((seq) => bySeq.get(seq) as AgentRow);
}

/** The cheaper of walking the sort index and starting from one of the small sets, to find `target` rows. */
function chooseDriver(candidates: Candidate[], agents: number, target: number): Driver {
  let share = 1;
  let entryCost = COST.scanEntry;
  for (const candidate of candidates) {
    share *= Math.min(1, Math.max(candidate.share, 1 / agents));
    entryCost += candidate.probe;
  }
  let driver: Driver = { kind: "sort" };
  let best = Math.min(agents, target / share) * entryCost;
  for (const candidate of candidates) {
    if (candidate.driver === undefined || candidate.size === undefined || candidate.size > SET_LIMIT)
      continue;
    if (candidate.size * COST.setRow < best) {
      best = candidate.size * COST.setRow;
      driver = candidate.driver;
    }
  }
  return driver;
}

/**
 * How many rows `sql` (which yields `seq`s in ascending order) yields: exact below SAMPLE, else
 * extrapolated from the SAMPLE-th `seq`.
 */
function estimateSize(prepare: Prepare, sql: string, params: unknown[], agents: number): number {
  const nth = prepare(`${sql} LIMIT 1 OFFSET ${SAMPLE - 1}`)
    .pluck()
    .get(...params) as number | undefined;
  if (nth === undefined) return countUpTo(prepare, sql, params, SAMPLE);
  return Math.round((SAMPLE * agents) / nth);
}

/** How many rows `sql` yields, counting up to `bound + 1`. */
function countUpTo(prepare: Prepare, sql: string, params: unknown[], bound: number): number {
  return prepare(`SELECT count(*) FROM (${sql} LIMIT ?)`)
    .pluck()
    .get(...params, bound + 1) as number;
}

/** The partial index kept in order `suffix`, within a category when the search has one. */
function sortIndex(s: ResolvedSearch, suffix: string): string {
  return `agents_${s.category === undefined ? "" : "cat_"}${suffix}`;
}

/**
 * Runs a search from `driver` with every filter but the common words, in the sort order, at most
 * `limit` rows of `columns`. The FROM clause pins the plan (INDEXED BY, CROSS JOIN): left to
 * itself, the planner would start from a tag's or a word's list, however long, and sort it.
 */
function runSearch(
  prepare: Prepare,
  s: ResolvedSearch,
  driver: Driver,
  columns: typeof AGENT_SELECT | "a.seq",
  limit: number,
): unknown[] {
  const { column, descending } = s.sort;
  const where = ["a.status <> 'inactive'"];
  const params: unknown[] = [];
  let from: string;
  switch (driver.kind) {
    case "sort":
      from = `agents a INDEXED BY ${sortIndex(s, s.sort.index)}`;
      break;
    case "price":
    case "trust":
      from = `agents a INDEXED BY ${sortIndex(s, driver.kind)}`;
      break;
    case "tag":
      from = "agent_tags d CROSS JOIN agents a ON a.seq = d.agent_seq";
      where.push("d.tag = ?");
      params.push(driver.tag);
      break;
    case "matches":
      from = "json_each(?) d CROSS JOIN agents a ON a.seq = d.value";
      params.push(JSON.stringify(s.matches));
      break;
  }
  if (s.category !== undefined) {
    where.push("a.category = ?");
    params.push(s.category);
  }
  if (s.maxPriceMicros !== undefined) {
    where.push("a.price_micros <= ?");
    params.push(s.maxPriceMicros);
  }
  if (s.minTrust !== undefined) {
    where.push("a.trust_score >= ?");
    params.push(s.minTrust);
  }
  if (s.position !== undefined) {
    where.push(
      descending
        ? `a.${column} <= ? AND (a.${column} < ? OR a.seq > ?)`
        : `a.${column} >= ? AND (a.${column} > ? OR a.seq > ?)`,
    );
    params.push(s.position.value, s.position.value, s.position.seq);
  }
  for (const tag of s.tags) {
    if (driver.kind === "tag" && driver.tag === tag) continue;
    where.push("EXISTS (SELECT 1 FROM agent_tags t WHERE t.tag = ? AND t.agent_seq = a.seq)");
    params.push(tag);
  }
  if (s.matches !== undefined && driver.kind !== "matches") {
    where.push("a.seq IN (SELECT value FROM json_each(?))");
    params.push(JSON.stringify(s.matches));
  }
  if (s.match !== undefined) {
    where.push(`a.seq IN (${FTS_ROWIDS})`);
    params.push(s.match);
  }
  const sql = `SELECT ${columns} FROM ${from} WHERE ${where.join(" AND ")}
    ORDER BY a.${column} ${descending ? "DESC" : "ASC"}, a.seq ASC LIMIT ?`;
  return prepare(sql)
    .pluck(columns === "a.seq")
    .all(...params, limit);
}
