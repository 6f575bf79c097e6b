import type Database from "better-sqlite3";
import { decodeCursor, SORTS } from "./cursor.js";
import type { AgentSearch, SearchSortValue } from "./port.js";
import { type AgentRow, agentColumns } from "./rows.js";

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
export function searchRows(prepare: Prepare, search: AgentSearch): AgentRow[] {
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
