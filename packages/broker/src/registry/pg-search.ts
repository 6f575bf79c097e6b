import type { PgDb } from "../platform/db/pg-db.js";
import { decodeCursor, SORTS, searchPage } from "./cursor.js";
import type { AgentSearch, AgentSearchPage } from "./port.js";
import { type AgentRow, agentColumns } from "./rows.js";
import { searchTokens } from "./search-terms.js";

/*
 * Search on PostgreSQL is one statement, planned by PostgreSQL with the search's own values: it
 * either walks the sort order's partial index (with the category's when there is one), checking
 * the other filters row by row and stopping after `limit + 1` rows, or starts from the rows a
 * selective filter finds (a rare tag in `agent_tags`, rare words in `agent_search`'s GIN index, a
 * narrow price or trust range) and sorts those. Unlike SQLite's, its planner has statistics for
 * tags (per value) and for full-text terms (most common lexemes), so the choice is left to it.
 *
 * The statement goes unnamed, so that it is planned for each search's values: a prepared
 * statement's generic plan, made for an average tag or word, walks the whole index for a rare one
 * or sorts 50,000 rows for a common one.
 */

/** The sort key of an order as it stands in its index: trust descending is the negated score ascending. */
function sortKey(sort: AgentSearch["sort"]): { key: string; type: "float8" | "bigint"; negate: boolean } {
  const { column, descending } = SORTS[sort];
  return {
    key: descending ? `(-a.${column})` : `a.${column}`,
    type: column === "price_micros" ? "bigint" : "float8",
    negate: descending,
  };
}

/**
 * The PostgreSQL full-text query of search words: every word's tokens (as the index makes them of
 * the agents' text) as prefixes, all required. Tokens have no quote or backslash; they are
 * escaped anyway, as the query is written in tsquery syntax.
 */
export function prefixQuery(words: readonly string[]): string | undefined {
  const tokens = [...new Set(words.flatMap(searchTokens))];
  if (tokens.length === 0) return undefined;
  return tokens.map((token) => `'${token.replace(/['\\]/g, (c) => `\\${c}`)}':*`).join(" & ");
}

/**
 * The statement of a search, with its parameters: its text varies only with which filters are
 * present and how many tags there are, never with their values.
 */
export function searchStatement(search: AgentSearch): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const param = (value: unknown, type: string) => {
    values.push(value);
    return `$${values.length}::${type}`;
  };
  const { key, type, negate } = sortKey(search.sort);
  const where = ["a.status <> 'inactive'"];
  if (search.category !== undefined) where.push(`a.category = ${param(search.category, "text")}`);
  if (search.maxPriceMicros !== undefined) {
    where.push(`a.price_micros <= ${param(search.maxPriceMicros, "bigint")}`);
  }
  if (search.minTrust !== undefined) {
    // Written as the trust index's key when sorting by trust, so that it bounds the index scan.
    where.push(
      search.sort === "trust_score_desc"
        ? `(-a.trust_score) <= ${param(-search.minTrust, "float8")}`
        : `a.trust_score >= ${param(search.minTrust, "float8")}`,
    );
  }
  for (const tag of new Set(search.tags ?? [])) {
    where.push(
      `EXISTS (SELECT 1 FROM agent_tags t WHERE t.tag = ${param(tag, "text")} AND t.agent_seq = a.seq)`,
    );
  }
  const query = prefixQuery(search.words ?? []);
  if (query !== undefined) {
    where.push(
      `EXISTS (SELECT 1 FROM agent_search s WHERE s.agent_seq = a.seq AND s.terms @@ ${param(query, "tsquery")})`,
    );
  }
  if (search.cursor !== undefined) {
    const position = decodeCursor(search.cursor, search.sort);
    const value = negate ? -position.value : position.value;
    where.push(`(${key}, a.seq) > (${param(value, type)}, ${param(position.seq, "bigint")})`);
  }
  const text = `SELECT ${agentColumns("a")} FROM agents a WHERE ${where.join(" AND ")}
    ORDER BY ${key}, a.seq LIMIT ${param(search.limit + 1, "int")}`;
  return { text, values };
}

/** One page of a registry search (see the plan above). */
export async function searchAgents(db: PgDb, search: AgentSearch): Promise<AgentSearchPage> {
  const { text, values } = searchStatement(search);
  const result = await db.pool.query<AgentRow>({ text, values });
  return searchPage(result.rows, search);
}
