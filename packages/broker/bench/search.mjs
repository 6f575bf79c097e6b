// Registry search benchmark: seeds a fresh SQLite store with BENCH_AGENTS agents (default 100,000),
// starts the broker on loopback and measures GET /agents/search over real HTTP, then the same
// query mix against the store directly. Requirement: p95 < 20 ms over 100,000 agents.
//
//   npm run bench -w @mercato/broker              (build first: npx tsup)
//   BENCH_AGENTS=10000 node bench/search.mjs      (a quick run)
//   BENCH_DB=/tmp/search.db node bench/search.mjs (keep the database for EXPLAIN QUERY PLAN)
//
// Other knobs: BENCH_ROUNDS (rounds of the query mix, default 130), BENCH_SEED.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBroker, createSqliteStore } from "../dist/index.js";
import { mulberry32, positiveInt } from "./common.mjs";

const AGENTS = positiveInt("BENCH_AGENTS", 100_000);
const ROUNDS = positiveInt("BENCH_ROUNDS", 130);
const SEED = positiveInt("BENCH_SEED", 20_240_601);
const TARGET_P95_MS = 20;
const PAGE_SIZE = 20;
const PAGES = 20;

// ---------------------------------------------------------------- deterministic randomness

// Reseeded once the agents are in (see main): the query mix does not depend on how they were seeded.
let rng = mulberry32(SEED);
const randInt = (min, max) => min + Math.floor(rng() * (max - min + 1));
const pick = (items) => items[Math.floor(rng() * items.length)];
const logUniform = (min, max) => Math.exp(Math.log(min) + rng() * (Math.log(max) - Math.log(min)));

/** Samples indexes 0..n-1 with P(i) ∝ 1 / (i + 1)^s. */
function zipf(n, s) {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += 1 / (i + 1) ** s;
    cumulative[i] = total;
  }
  const sample = () => {
    const target = rng() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return { sample, probability: (i) => (cumulative[i] - (i > 0 ? cumulative[i - 1] : 0)) / total };
}

// ---------------------------------------------------------------- vocabulary

const CATEGORIES = [
  "crypto-prices",
  "text-generation",
  "translation",
  "summarization",
  "code-review",
  "image-generation",
  "web-search",
  "data-extraction",
  "sentiment",
  "speech-to-text",
  "text-to-speech",
  "weather",
  "geocoding",
  "finance-news",
  "legal-research",
  "medical-coding",
  "ocr",
  "classification",
  "embeddings",
  "moderation",
  "scheduling",
  "email-triage",
  "market-data",
  "sports-scores",
  "recipes",
  "travel-booking",
  "math-solver",
  "chemistry",
  "patent-search",
  "astronomy",
];

const COMMON_WORDS = (
  "data fast api agent real time price prices market token tokens crypto bitcoin ethereum chain onchain " +
  "wallet trading exchange swap liquidity text model language summary summaries translate translation " +
  "english french german spanish japanese chinese image images photo vision detect detection classify " +
  "search web news feed feeds stream streaming alert alerts monitor monitoring report reports analysis " +
  "analytics insight insights score scoring risk fraud compliance legal contract contracts medical health " +
  "clinical code coding review lint test tests bug security audit weather forecast climate map maps route " +
  "routing address geocode location travel flight flights hotel booking calendar schedule meeting email " +
  "inbox reply support customer ticket sentiment emotion speech voice audio transcribe transcript podcast " +
  "video caption captions ocr document documents pdf invoice receipt table extract extraction parse parser " +
  "json csv sql query database index vector embedding embeddings similarity cluster recommend recommendation " +
  "sports score scores football soccer tennis recipe cooking nutrition chemistry molecule patent astronomy " +
  "planet star math solver equation proof reliable cheap accurate lightweight premium enterprise batch " +
  "multilingual secure private open simple smart quick"
).split(" ");

/** ~5,000 words: real ones first (the most frequent), then a long synthetic tail of rare ones. */
function buildVocabulary(size) {
  const words = [...new Set(COMMON_WORDS)];
  const seen = new Set(words);
  const onsets = [
    "b",
    "d",
    "f",
    "g",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "z",
    "br",
    "kr",
    "tr",
    "st",
  ];
  const vowels = ["a", "e", "i", "o", "u", "ai", "ou"];
  const codas = ["", "n", "r", "s", "x", "l", "m"];
  while (words.length < size) {
    let word = "";
    for (let i = 0; i < 3; i++) word += pick(onsets) + pick(vowels);
    word += pick(codas);
    // Keep the tail free of prefix collisions with the real words (queries are prefix queries).
    if (seen.has(word) || COMMON_WORDS.some((w) => word.startsWith(w))) continue;
    seen.add(word);
    words.push(word);
  }
  return words;
}

const TAG_HEADS = "price defi nft llm nlp vision audio geo finance legal health dev ops sec fast cheap".split(
  " ",
);
const TAG_TAILS = "feed api bot tool kit engine stream oracle index scanner helper hub lab pro".split(" ");
function buildTags(size) {
  const tags = [];
  for (const head of TAG_HEADS) for (const tail of TAG_TAILS) tags.push(`${head}-${tail}`);
  // Shuffle deterministically so that popularity is not alphabetical.
  for (let i = tags.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [tags[i], tags[j]] = [tags[j], tags[i]];
  }
  return tags.slice(0, size);
}

const VOCABULARY = buildVocabulary(5_000);
const TAGS = buildTags(200);
const wordDist = zipf(VOCABULARY.length, 1.0);
const tagDist = zipf(TAGS.length, 1.2);
const categoryDist = zipf(CATEGORIES.length, 1.0);

// ---------------------------------------------------------------- seeding

const iso = (ms) => new Date(ms).toISOString();
const T0 = Date.parse("2025-01-01T00:00:00Z");

function id(prefix, n) {
  let random = "";
  while (random.length < 12) random += Math.floor(rng() * 36).toString(36);
  return `${prefix}_${n.toString(36).padStart(6, "0")}${random}`;
}

function sentence(count) {
  const out = new Set();
  while (out.size < count) out.add(VOCABULARY[wordDist.sample()]);
  return [...out].join(" ");
}

async function seed(store) {
  const accounts = Math.max(10, Math.round(AGENTS / 50));
  const ownerIds = [];
  const started = process.hrtime.bigint();
  const accountPromises = [];
  for (let i = 0; i < accounts; i++) {
    const accountId = id("acct", i);
    ownerIds.push(accountId);
    const createdAt = iso(T0 + i * 1000);
    const secret = `mk_bench_${accountId}`;
    accountPromises.push(
      store.createAccount(
        { id: accountId, name: `Seller ${i}`, email: `seller${i}@example.com`, createdAt },
        {
          id: id("key", i),
          accountId,
          kind: "account",
          name: "bench",
          prefix: secret.slice(0, 9),
          hash: createHash("sha256").update(secret).digest("hex"),
          agentId: null,
          rateLimit: null,
          expiresAt: null,
          createdAt,
          revokedAt: null,
        },
      ),
    );
  }
  await Promise.all(accountPromises);

  // Agents, in batches (each store call is synchronous underneath; awaiting a batch at a time keeps
  // the promise overhead down without holding 100,000 pending promises).
  const agentIds = [];
  let inactive = 0;
  const BATCH = 2_000;
  for (let start = 0; start < AGENTS; start += BATCH) {
    const batch = [];
    for (let i = start; i < Math.min(AGENTS, start + BATCH); i++) {
      const tags = new Set();
      const tagCount = randInt(1, 5);
      while (tags.size < tagCount) tags.add(TAGS[tagDist.sample()]);
      const category = CATEGORIES[categoryDist.sample()];
      const roll = rng();
      const status = roll < 0.04 ? "inactive" : roll < 0.07 ? "down" : "active";
      if (status === "inactive") inactive++;
      const agentId = id("agent", i);
      agentIds.push(agentId);
      batch.push(
        store.insertAgent({
          id: agentId,
          ownerId: ownerIds[Math.floor(rng() * rng() * ownerIds.length)],
          name: `${sentence(randInt(2, 3))} ${category.split("-")[0]}`,
          description: sentence(randInt(8, 20)),
          category,
          tags: [...tags],
          version: `1.${randInt(0, 9)}.${randInt(0, 20)}`,
          apiEndpoint: `https://seller${i % 997}.example.com/agents/${i}`,
          status,
          pricing: {
            model: "per_call",
            priceMicros: Math.round(logUniform(100, 5_000_000)),
            currency: "USD",
            tier: pick(["basic", "basic", "pro", "enterprise"]),
            minCalls: pick([1, 1, 1, 10, 100]),
          },
          createdAt: iso(T0 + 86_400_000 + i * 60_000),
        }),
      );
    }
    await Promise.all(batch);
  }
  const agentsDone = process.hrtime.bigint();

  // Call outcomes for ~90% of agents: 1..200 calls each (log-uniform), per-agent success rate and
  // response time, so that the four sort orders rank agents differently.
  let outcomesRecorded = 0;
  let checksRecorded = 0;
  const at = iso(T0 + 200 * 86_400_000);
  const OUTCOME_CHUNK = 2_500;
  // Calls come from many buyers: the ranking caps each buyer's weight (see BUYER_WEIGHT).
  const BENCH_BUYERS = 200;
  for (let start = 0; start < agentIds.length; start += OUTCOME_CHUNK) {
    const outcomes = [];
    const checks = [];
    for (const agentId of agentIds.slice(start, start + OUTCOME_CHUNK)) {
      if (rng() < 0.9) {
        const calls = Math.floor(logUniform(1, 200));
        const quality = rng();
        const successRate = quality < 0.1 ? 0.3 + rng() * 0.5 : 0.85 + rng() * 0.15;
        const baseMs = logUniform(20, 3_000);
        for (let c = 0; c < calls; c++) {
          outcomes.push({
            agentId,
            buyerId: `acc_benchbuyer${randInt(1, BENCH_BUYERS)}`,
            outcome: rng() < successRate ? "success" : "failure",
            responseTimeMs: baseMs * (0.5 + rng()),
          });
        }
      }
      if (rng() < 0.8) {
        const count = randInt(1, 48);
        const uptime = rng() < 0.1 ? 0.5 + rng() * 0.4 : 0.97 + rng() * 0.03;
        for (let c = 0; c < count; c++) checks.push({ agentId, healthy: rng() < uptime });
      }
    }
    await store.recordCallOutcomes(outcomes, at);
    await store.recordHealthChecks(checks, at);
    outcomesRecorded += outcomes.length;
    checksRecorded += checks.length;
  }
  const finished = process.hrtime.bigint();
  return {
    accounts,
    inactive,
    outcomesRecorded,
    checksRecorded,
    agentsMs: Number(agentsDone - started) / 1e6,
    metricsMs: Number(finished - agentsDone) / 1e6,
    totalMs: Number(finished - started) / 1e6,
  };
}

// ---------------------------------------------------------------- query mix

const SORTS = ["cost_per_success", "trust_score_desc", "price_asc", "response_time_asc"];
const SORT_FIELD = {
  cost_per_success: { field: "cost_per_success", descending: false },
  trust_score_desc: { field: "trust_score", descending: true },
  price_asc: { field: "price_per_call", descending: false },
  response_time_asc: { field: "avg_response_time_ms", descending: false },
};

/** Ranks of the mix's word, tag and category pools, chosen by how often they occur. */
const commonWord = () => VOCABULARY[randInt(0, 5)];
const midWord = () => VOCABULARY[randInt(40, 150)];
const rareWord = () => VOCABULARY[randInt(3_000, VOCABULARY.length - 1)];
const commonTag = () => TAGS[randInt(0, 4)];
const rareTag = () => TAGS[randInt(120, TAGS.length - 1)];
const anyCategory = () =>
  rng() < 0.5 ? CATEGORIES[randInt(0, 4)] : CATEGORIES[randInt(5, CATEGORIES.length - 1)];
const usd = (micros) => (Math.round(micros) / 1_000_000).toFixed(6);

/** One round: a query of every single-page class, sort orders rotating with the round. */
function round(r) {
  const sort = SORTS[r % SORTS.length];
  const queries = [];
  for (const s of SORTS) queries.push({ cls: `all ${s}`, sort: s });
  for (const s of SORTS) queries.push({ cls: `category ${s}`, sort: s, category: anyCategory() });
  queries.push({ cls: "tag common", sort, tags: [commonTag()] });
  queries.push({ cls: "tag rare", sort, tags: [rareTag()] });
  const [t1, t2] = [commonTag(), TAGS[randInt(5, 10)]];
  queries.push({ cls: "2 tags common", sort, tags: t1 === t2 ? [t1] : [t1, t2] });
  queries.push({ cls: "2 tags common+rare", sort, tags: [commonTag(), rareTag()] });
  queries.push({ cls: "q very common", sort, q: commonWord() });
  queries.push({ cls: "q mid", sort, q: midWord() });
  queries.push({ cls: "q rare", sort, q: rareWord() });
  queries.push({ cls: "q common+rare", sort, q: `${commonWord()} ${rareWord()}` });
  // Search as you type: the first letter or two of a word match nearly every agent.
  queries.push({ cls: "q short prefix", sort, q: commonWord().slice(0, randInt(1, 2)) });
  queries.push({ cls: "max_price", sort, maxPrice: usd(logUniform(500, 2_000_000)) });
  queries.push({ cls: "min_trust", sort, minTrust: Math.round((0.5 + rng() * 0.45) * 100) / 100 });
  queries.push({
    cls: "combo cat+tag+q+price",
    sort,
    category: anyCategory(),
    tags: [commonTag()],
    q: rng() < 0.5 ? commonWord() : midWord(),
    maxPrice: usd(logUniform(5_000, 2_000_000)),
  });
  return queries;
}

/** Deep pagination: one search followed through `next_cursor` for pages 1..20. */
function paging(r) {
  const sort = SORTS[r % SORTS.length];
  const base = { sort };
  if (r % 3 === 1) base.category = anyCategory();
  if (r % 3 === 2) base.tags = [commonTag()];
  return { paging: true, ...base };
}

function buildMix(rounds) {
  const tasks = [];
  for (let r = 0; r < rounds; r++) {
    tasks.push(...round(r));
    if (r % 5 === 0) tasks.push(paging(r / 5));
  }
  // Interleave the classes.
  for (let i = tasks.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [tasks[i], tasks[j]] = [tasks[j], tasks[i]];
  }
  return tasks;
}

function toUrlParams(query, cursor) {
  const params = new URLSearchParams();
  if (query.category !== undefined) params.set("category", query.category);
  if (query.tags !== undefined) params.set("tags", query.tags.join(","));
  if (query.q !== undefined) params.set("q", query.q);
  if (query.maxPrice !== undefined) params.set("max_price", query.maxPrice);
  if (query.minTrust !== undefined) params.set("min_trust", String(query.minTrust));
  params.set("sort", query.sort);
  params.set("limit", String(PAGE_SIZE));
  if (cursor !== undefined) params.set("cursor", cursor);
  return params.toString();
}

/** The store search the route makes of the same query (see registry/routes.ts). */
function toStoreSearch(query, cursor) {
  const words =
    query.q === undefined ? [] : [...new Set(query.q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])];
  return {
    ...(query.category !== undefined && { category: query.category }),
    ...(query.tags !== undefined && { tags: query.tags }),
    ...(words.length > 0 && { words: words.slice(0, 8) }),
    ...(query.maxPrice !== undefined && { maxPriceMicros: Math.round(Number(query.maxPrice) * 1_000_000) }),
    ...(query.minTrust !== undefined && { minTrust: query.minTrust }),
    ...(cursor !== undefined && { cursor }),
    sort: query.sort,
    limit: PAGE_SIZE,
  };
}

/** Checks a page of HTTP results against its query; returns a problem or undefined. */
function checkPage(query, results) {
  const { field, descending } = SORT_FIELD[query.sort];
  for (let i = 0; i < results.length; i++) {
    const agent = results[i];
    if (agent.status === "inactive") return `inactive agent ${agent.agent_id} listed`;
    if (query.category !== undefined && agent.category !== query.category) return "category filter broken";
    for (const tag of query.tags ?? []) if (!agent.tags.includes(tag)) return `tag ${tag} missing`;
    if (query.maxPrice !== undefined && agent.price_per_call > Number(query.maxPrice))
      return "max_price broken";
    if (i > 0) {
      const [prev, next] = [results[i - 1][field], agent[field]];
      if (descending ? next > prev : next < prev) return `not sorted by ${field}`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- measuring

class Timings {
  constructor() {
    this.byClass = new Map();
    this.all = [];
  }
  add(cls, ms) {
    const list = this.byClass.get(cls);
    if (list) list.push(ms);
    else this.byClass.set(cls, [ms]);
    this.all.push(ms);
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function stats(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
  };
}

/** Runs the mix: `search(query, cursor)` returns `{ ids, nextCursor }`. */
async function runMix(tasks, search, timings) {
  let requests = 0;
  for (const task of tasks) {
    if (!task.paging) {
      const t = process.hrtime.bigint();
      const page = await search(task);
      timings?.add(task.cls, Number(process.hrtime.bigint() - t) / 1e6);
      task.results ??= [];
      task.results.push(page.ids.join());
      requests++;
      continue;
    }
    let cursor;
    for (let p = 1; p <= PAGES; p++) {
      const t = process.hrtime.bigint();
      const page = await search(task, cursor);
      timings?.add(p <= 10 ? "paging p1-10" : "paging p11-20", Number(process.hrtime.bigint() - t) / 1e6);
      task.results ??= [];
      task.results.push(page.ids.join());
      requests++;
      cursor = page.nextCursor ?? undefined;
      if (cursor === undefined) break;
    }
  }
  return requests;
}

function formatTable(title, timings, wallMs, requests) {
  const fmt = (n) => n.toFixed(2).padStart(8);
  const lines = [
    `${title}`,
    `${"class".padEnd(28)}${"count".padStart(7)}${"p50".padStart(8)}${"p95".padStart(8)}${"p99".padStart(8)}${"max".padStart(8)}   (ms)`,
  ];
  const row = (name, s, flag = "") =>
    `${name.padEnd(28)}${String(s.count).padStart(7)}${fmt(s.p50)}${fmt(s.p95)}${fmt(s.p99)}${fmt(s.max)}${flag}`;
  for (const [cls, values] of [...timings.byClass].sort(([a], [b]) => a.localeCompare(b))) {
    const s = stats(values);
    lines.push(row(cls, s, s.p95 >= TARGET_P95_MS ? "   <-- p95 over target" : ""));
  }
  const overall = stats(timings.all);
  lines.push("-".repeat(68));
  lines.push(row("overall", overall));
  lines.push(
    `${requests} requests in ${(wallMs / 1000).toFixed(2)} s: ${((requests / wallMs) * 1000).toFixed(0)} requests/s`,
  );
  return { text: lines.join("\n"), overall };
}

// ---------------------------------------------------------------- main

async function main() {
  const keepPath = process.env.BENCH_DB;
  const dir = keepPath ? undefined : mkdtempSync(join(tmpdir(), "mercato-bench-"));
  const path = keepPath ?? join(dir, "bench.db");
  // BENCH_DB_REUSE=1 searches a database an earlier run seeded into BENCH_DB (to compare two builds on
  // the same data without seeding twice).
  const reuse = keepPath !== undefined && process.env.BENCH_DB_REUSE === "1" && existsSync(keepPath);
  if (keepPath && existsSync(keepPath) && !reuse)
    throw new Error(`BENCH_DB ${keepPath} exists: give a new file`);

  console.log(reuse ? `Searching ${path}, seeded earlier …` : `Seeding ${AGENTS} agents into ${path} …`);
  const store = createSqliteStore({ path });
  let app;
  try {
    if (!reuse) {
      const seeded = await seed(store);
      console.log(
        `Seeded ${AGENTS} agents (${seeded.inactive} inactive) of ${seeded.accounts} accounts in ${(seeded.agentsMs / 1000).toFixed(1)} s, ` +
          `then ${seeded.outcomesRecorded} call outcomes and ${seeded.checksRecorded} health checks in ${(seeded.metricsMs / 1000).toFixed(1)} s ` +
          `(seeding total ${(seeded.totalMs / 1000).toFixed(1)} s)`,
      );
    }
    rng = mulberry32(SEED + 1);

    app = createBroker({ store, config: { logLevel: "silent" } });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address();
    const base = `http://127.0.0.1:${port}/agents/search?`;

    const problems = [];
    const httpSearch = async (query, cursor) => {
      // Node's global fetch (undici) keeps the connection alive between requests.
      const response = await fetch(base + toUrlParams(query, cursor));
      const body = await response.json();
      if (response.status !== 200)
        throw new Error(`${response.status} for ${toUrlParams(query, cursor)}: ${JSON.stringify(body)}`);
      const problem = checkPage(query, body.results);
      if (problem) problems.push(`${query.cls ?? "paging"} ${toUrlParams(query, cursor)}: ${problem}`);
      return { ids: body.results.map((agent) => agent.agent_id), nextCursor: body.next_cursor };
    };
    const storeSearch = async (query, cursor) => {
      const page = await store.searchAgents(toStoreSearch(query, cursor));
      return { ids: page.agents.map((agent) => agent.id), nextCursor: page.nextCursor };
    };

    // Warm-up: a separate mix (other words, tags, categories), not measured.
    const warmup = buildMix(Math.max(10, Math.round(ROUNDS / 8)));
    await runMix(warmup, httpSearch);
    await runMix(warmup, storeSearch);

    const tasks = buildMix(ROUNDS);
    const httpTimings = new Timings();
    let t = process.hrtime.bigint();
    const httpRequests = await runMix(tasks, httpSearch, httpTimings);
    const httpWallMs = Number(process.hrtime.bigint() - t) / 1e6;
    const httpResults = tasks.map((task) => task.results);

    for (const task of tasks) task.results = undefined;
    const storeTimings = new Timings();
    t = process.hrtime.bigint();
    const storeRequests = await runMix(tasks, storeSearch, storeTimings);
    const storeWallMs = Number(process.hrtime.bigint() - t) / 1e6;

    // Same data, same queries: HTTP and the store must return the same pages.
    let mismatches = 0;
    tasks.forEach((task, i) => {
      if (JSON.stringify(task.results) !== JSON.stringify(httpResults[i])) mismatches++;
    });
    const emptyPages = tasks.filter((task) => !task.paging && task.results[0] === "").length;

    const http = formatTable(
      `HTTP GET /agents/search over ${AGENTS} agents (one keep-alive client, sequential)`,
      httpTimings,
      httpWallMs,
      httpRequests,
    );
    const direct = formatTable(
      `store.searchAgents directly, same mix`,
      storeTimings,
      storeWallMs,
      storeRequests,
    );
    console.log(`\n${http.text}\n\n${direct.text}\n`);
    console.log(
      `single-page queries with no result: ${emptyPages} of ${tasks.filter((task) => !task.paging).length}`,
    );
    if (problems.length > 0)
      console.log(`correctness problems (${problems.length}):\n  ${problems.slice(0, 10).join("\n  ")}`);
    if (mismatches > 0) console.log(`HTTP and store pages differ for ${mismatches} queries`);
    if (problems.length === 0 && mismatches === 0) {
      console.log(
        "checks: every page filtered and sorted as asked, no inactive agent, HTTP pages = store pages",
      );
    }
    const p95 = http.overall.p95;
    console.log(`search p95 over ${AGENTS} agents: ${p95.toFixed(2)} ms (target < ${TARGET_P95_MS} ms)`);
    process.exitCode = p95 >= TARGET_P95_MS || problems.length > 0 || mismatches > 0 ? 1 : 0;
  } finally {
    if (app) await app.close();
    await store.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
