// Ledger throughput benchmark: captured charges per second on a durable SQLite FILE database
// (WAL, synchronous = FULL), then on PostgreSQL (a fresh database, synchronous_commit on). Each
// charge is a hold then a capture, each awaited as the invoke path awaits them; BENCH_CONCURRENCY
// charges are in flight at once across several buyers and sellers. Reports charges/s and p50/p99
// latency of hold and capture, then runs audit() (must be ok) and checks every balance against
// the charges made. Requirement: ≥ 20,000 charges/s on SQLite; PostgreSQL's figure is reported.
//
//   npm run bench -w @mercato/broker              (build first: npx tsup)
//   BENCH_CHARGES=20000 node bench/ledger.mjs     (a quick run)
//   BENCH_LEDGER_STORES=postgres node bench/ledger.mjs (one store: sqlite, postgres or both)
//   BENCH_LEDGER_DB=/tmp/ledger.db node bench/ledger.mjs (keep the SQLite database)
//   MERCATO_TEST_DATABASE_URL=postgres://… (the PostgreSQL server; default the local one)
//
// Other knobs: BENCH_CONCURRENCY (comma-separated levels, default 256,1024), BENCH_BUYERS (32),
// BENCH_SELLERS (8), BENCH_SEED.
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createPostgresStore, createSqliteStore } from "../dist/index.js";
import { mulberry32, positiveInt } from "./common.mjs";

const CHARGES = positiveInt("BENCH_CHARGES", 100_000);
const LEVELS = (process.env.BENCH_CONCURRENCY ?? "256,1024").split(",").map((level) => {
  const value = Number(level);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error("BENCH_CONCURRENCY: positive integers");
  return value;
});
const WARMUP = Math.min(5_000, CHARGES);
const BUYERS = positiveInt("BENCH_BUYERS", 32);
const SELLERS = positiveInt("BENCH_SELLERS", 8);
const SEED = positiveInt("BENCH_SEED", 20_240_601);
const STORES =
  (process.env.BENCH_LEDGER_STORES ?? "both") === "both"
    ? ["sqlite", "postgres"]
    : [process.env.BENCH_LEDGER_STORES];
const ADMIN_DB = process.env.MERCATO_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const PG_POOL = positiveInt("BENCH_PG_POOL", 10);
const TARGET_PER_SECOND = 20_000;
const PRICE = 20_000; // 0.02 USD held per call
const T0 = Date.parse("2026-03-01T00:00:00.000Z");

const rng = mulberry32(SEED);
const randInt = (min, max) => min + Math.floor(rng() * (max - min + 1));

/** Latencies in ms; percentiles by sorting once. */
class Latencies {
  constructor(capacity) {
    this.values = new Float64Array(capacity);
    this.count = 0;
  }
  add(ms) {
    this.values[this.count++] = ms;
  }
  percentile(p) {
    const sorted = this.values.subarray(0, this.count).sort();
    return sorted[Math.min(this.count - 1, Math.floor((p / 100) * this.count))] ?? 0;
  }
}

const fee = (charge) => Math.floor((charge * 1000) / 10000);

async function adminQuery(sql) {
  const client = new pg.Client({ connectionString: ADMIN_DB });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh store of `kind`, its description, its size on disk, and how to drop it. */
async function openStore(kind) {
  if (kind === "postgres") {
    const database = `mercato_ledger_bench_${process.pid}`;
    await adminQuery(`CREATE DATABASE ${database}`);
    const url = new URL(ADMIN_DB);
    url.pathname = `/${database}`;
    return {
      store: await createPostgresStore({ url: url.toString(), poolSize: PG_POOL }),
      title: `PostgreSQL ledger (synchronous_commit on, a pool of ${PG_POOL} connections)`,
      size: () => undefined,
      drop: () => adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
    };
  }
  let dir;
  let path = process.env.BENCH_LEDGER_DB;
  if (path === undefined) {
    dir = mkdtempSync(join(tmpdir(), "mercato-ledger-bench-"));
    path = join(dir, "ledger.db");
  } else if (existsSync(path)) {
    throw new Error(`BENCH_LEDGER_DB ${path} exists: the benchmark needs a fresh database`);
  }
  return {
    store: createSqliteStore({ path }),
    title: "SQLite ledger on a durable file (WAL, synchronous = FULL)",
    size: () => statSync(path).size + (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0),
    drop: async () => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(kind) {
  const { store, title, size: sizeOf, drop } = await openStore(kind);
  try {
    const at = () => new Date(T0 + Math.floor(performance.now())).toISOString();
    const expiresAt = new Date(T0 + 24 * 3_600_000).toISOString();
    const key = (accountId, n) => ({
      id: `key_bench${String(n).padStart(8, "0")}`,
      accountId,
      kind: "account",
      name: null,
      prefix: "mk_bench",
      hash: String(n).padStart(64, "0"),
      agentId: null,
      rateLimit: null,
      expiresAt: null,
      createdAt: at(),
      revokedAt: null,
    });
    const buyers = [];
    const sellers = [];
    let n = 0;
    for (let i = 0; i < BUYERS + SELLERS; i++) {
      const id = `acct_bench${String(i).padStart(8, "0")}`;
      await store.createAccount({ id, name: id, email: null, createdAt: at() }, key(id, ++n));
      (i < BUYERS ? buyers : sellers).push(id);
    }
    const totalCharges = CHARGES * LEVELS.length + WARMUP;
    // Enough for every charge of every level on the buyer that gets the most of them.
    const perBuyer = Math.ceil((totalCharges / BUYERS) * 2 + 1000) * PRICE;
    await Promise.all(
      buyers.map((accountId) =>
        store.credit({
          id: `bench-topup-${accountId}`,
          accountId,
          amount: perBuyer,
          reference: "bench",
          at: at(),
        }),
      ),
    );

    const expected = new Map(); // account → { spent, earned }
    const book = (id) => {
      let entry = expected.get(id);
      if (!entry) {
        entry = { spent: 0, earned: 0 };
        expected.set(id, entry);
      }
      return entry;
    };
    let revenue = 0;
    let serial = 0;

    /** Runs `count` charges, `concurrency` at a time; returns its throughput and latencies. */
    const runLevel = async (concurrency, count) => {
      const holdLatency = new Latencies(count);
      const captureLatency = new Latencies(count);
      let next = 0;
      const worker = async () => {
        while (next < count) {
          next++;
          const id = `txn_bench${String(++serial).padStart(10, "0")}`;
          const buyerId = buyers[randInt(0, BUYERS - 1)];
          const sellerAccountId = sellers[randInt(0, SELLERS - 1)];
          // Most calls cost their full price; some capture less (a metered call).
          const amount = rng() < 0.8 ? PRICE : randInt(1, PRICE);
          let t = performance.now();
          await store.hold({
            id,
            buyerId,
            sellerAccountId,
            agentId: `agent_of_${sellerAccountId}`,
            keyId: null,
            amount: PRICE,
            expiresAt,
            at: at(),
          });
          let now = performance.now();
          holdLatency.add(now - t);
          t = now;
          const charge = await store.capture({ id: `${id}:capture`, holdId: id, amount, at: at() });
          now = performance.now();
          captureLatency.add(now - t);
          if (charge.status !== "completed" || charge.captured !== amount || charge.fee !== fee(amount)) {
            throw new Error(`capture of ${id} answered ${JSON.stringify(charge)}`);
          }
          book(buyerId).spent += amount;
          book(sellerAccountId).earned += amount - fee(amount);
          revenue += fee(amount);
        }
      };
      const started = performance.now();
      await Promise.all(Array.from({ length: concurrency }, worker));
      const seconds = (performance.now() - started) / 1000;
      return {
        concurrency,
        perSecond: count / seconds,
        seconds,
        hold: [holdLatency.percentile(50), holdLatency.percentile(99)],
        capture: [captureLatency.percentile(50), captureLatency.percentile(99)],
      };
    };

    // Warm-up (not reported): compiles the hot path and grows the file past its first pages.
    await runLevel(LEVELS[0], WARMUP);
    const results = [];
    for (const concurrency of LEVELS) results.push(await runLevel(concurrency, CHARGES));

    const auditStarted = performance.now();
    const audit = await store.audit();
    const auditMs = performance.now() - auditStarted;

    // Every balance as the charges made say it must be.
    const mismatches = [];
    for (const accountId of [...buyers, ...sellers]) {
      const balance = await store.getBalance(accountId, at());
      const { spent, earned } = book(accountId);
      const wantAvailable = buyers.includes(accountId) ? perBuyer - spent : 0;
      if (balance.available !== wantAvailable || balance.held !== 0 || balance.earnings !== earned) {
        mismatches.push(`${accountId}: ${JSON.stringify(balance)}, expected spent ${spent} earned ${earned}`);
      }
    }
    if (audit.totals.revenue !== revenue) mismatches.push(`revenue ${audit.totals.revenue} ≠ ${revenue}`);

    const widths = [11, 11, 9, 11, 11, 13, 13];
    const row = (cells) => cells.map((cell, i) => String(cell).padStart(widths[i] ?? 0)).join("");
    const lines = [
      `${title}: ${CHARGES} charges per level after`,
      `${WARMUP} to warm up, each a hold then a capture, awaited; ${BUYERS} buyers, ${SELLERS} sellers`,
      "",
      `${row(["concurrency", "charges/s", "seconds", "hold p50", "hold p99", "capture p50", "capture p99"])}  (ms)`,
    ];
    for (const r of results) {
      const latencies = [...r.hold, ...r.capture].map((value) => value.toFixed(2));
      lines.push(row([r.concurrency, Math.round(r.perSecond), r.seconds.toFixed(2), ...latencies]));
    }
    console.log(`\n${lines.join("\n")}\n`);
    const size = sizeOf();
    console.log(
      `audit: ${audit.ok ? "ok" : "FAILED"}, ${audit.accounts} accounts, ${audit.transfers} transfers, ` +
        `${auditMs.toFixed(0)} ms${size === undefined ? "" : `; database ${(size / 1e6).toFixed(1)} MB`}`,
    );
    for (const violation of audit.violations.slice(0, 10))
      console.log(`  ${violation.rule}: ${violation.detail}`);
    if (mismatches.length > 0)
      console.log(`balance mismatches (${mismatches.length}):\n  ${mismatches.slice(0, 10).join("\n  ")}`);
    else
      console.log("checks: every wallet, earnings account and the platform revenue match the charges made");
    const slowest = Math.min(...results.map((r) => r.perSecond));
    const best = Math.max(...results.map((r) => r.perSecond));
    const target = kind === "sqlite" ? ` (target ≥ ${TARGET_PER_SECOND})` : "";
    console.log(
      `${kind} ledger throughput: ${Math.round(slowest)} charges/s at the slowest level, ${Math.round(best)} at the best${target}`,
    );
    // The target is a throughput the SQLite ledger can reach; fail only when no level reaches it,
    // or on any error of the books.
    if ((kind === "sqlite" && best < TARGET_PER_SECOND) || !audit.ok || mismatches.length > 0)
      process.exitCode = 1;
  } finally {
    await store.close();
    await drop();
  }
}

for (const kind of STORES) await main(kind);
