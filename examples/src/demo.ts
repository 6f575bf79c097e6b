// `npm run demo`: a broker, seven crypto sellers and a buyer agent on this machine, with no internet.
// It starts a dev-mode broker on a temporary SQLite file, the five seller programs (the news
// summarizer twice: a reliable "Pro" and a cheaper, flaky "Digest") and the quickstart seller (a
// brand-new, cheaper "Lite" summarizer whose answers to a topic are empty, which its own output
// schema refuses), registers them with the schemas their seller kits serve, shows one listing's
// contract as `mercato agents show` prints it, gives the market a history of calls from many buyers
// (none to the new one), lets the buyer agent pick by cost per success and call, runs the README's
// `client.call()` snippet, then shows the ranking ("new" listings included), the money (charges,
// the 10% fee, seller earnings) and the ledger audit, and stops it all.
//
//   node examples/dist/demo.js [--calls 20] [--port 0] [--keep-running]
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  BUYER_CAP,
  BUYER_WEIGHT,
  type BuyerWindow,
  cappedBuyerWeights,
  formatUsd,
  isMercatoError,
  MercatoError,
  parseUsd,
  type RankedCalls,
  roundTo,
  smoothedRate,
  splitCharge,
  TRUST_PRIOR,
} from "@mercato/protocol";
import {
  createBudget,
  createClient,
  fetchKitContract,
  type MercatoClient,
  type RegisterAgentRequest,
  type SearchResult,
  seededRandom,
} from "@mercato/sdk";
import { type BuyerAgentReport, runBuyerAgent } from "./buyer-agent.js";
import { formatTable, percent, successText, usd } from "./format-table.js";
import { gasTrackerManifest } from "./sellers/gas-tracker.js";
import { NEWS_FEED, newsSummarizerManifest } from "./sellers/news-summarizer.js";
import { portfolioRiskManifest } from "./sellers/portfolio-risk.js";
import { PRICE_TABLE, priceOracleManifest } from "./sellers/price-oracle.js";
import { cryptoManifest, failsAt, parseRatePpm, withSchemas } from "./sellers/run-seller.js";
import { sentimentScorerManifest } from "./sellers/sentiment-scorer.js";

/** How long a child process may take to print its `listening on` line. */
const START_TIMEOUT_MS = 60_000;
/** How long a child may take to exit after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 5_000;
/** How long to wait for the broker's metrics to show the market's calls. */
const METRICS_TIMEOUT_MS = 60_000;
/**
 * The market's other buyers: new accounts, each topped up. Ranking weighs each buyer's calls to a
 * seller, capped (at ten calls' weight in a market this small), and an account younger than a day
 * weighs a quarter of that (see `BUYER_WEIGHT`): one buyer's calls, however many, would barely move
 * a seller from the prior (20 calls at 95%). So the history comes from many buyers, and each makes the calls that weigh
 * the most it can: ten to each summarizer, a quarter call each, 2.5 calls' weight per buyer.
 */
const MARKET_BUYERS = 40;
/** Calls each market buyer makes to each summarizer: the cap, in calls (ten). */
const CALLS_PER_BUYER = BUYER_CAP.minUnits / BUYER_WEIGHT.establishedUnits;
/**
 * Calls the market makes to each summarizer (400, weighing 100 calls: the Digest then ranks at
 * (50 + 19) / (100 + 20) = 57.5%, $0.0209 per success, above the Pro's $0.0202), and to each other
 * seller (spread over the buyers, one call each).
 */
const SUMMARIZER_HISTORY = MARKET_BUYERS * CALLS_PER_BUYER;
const OTHER_HISTORY = 30;
/** The Digest's failures each wait two seconds: most of the history's calls are waiting, not working. */
const HISTORY_CONCURRENCY = 40;
/**
 * Seller timeout of the history's calls. The sellers answer at once, but on a machine busy with
 * other work (a CI running every test at once) a call can wait seconds for the CPU: a timeout there
 * would be the machine's failure, not the seller's.
 */
const HISTORY_TIMEOUT_MS = 30_000;

/**
 * A search result with the figures as the broker serves them since issue 17: measured ones `null`
 * without data, the ranking's smoothed figures apart (a broker before it has no `ranking`, and its
 * `success_rate` is the smoothed one). Until the generated SDK types carry them.
 */
type RankedResult = Omit<SearchResult, "success_rate"> & {
  success_rate: number | null;
  ranking?: { success_rate: number; success_lower_bound: number; category_prior: number };
};

/** The smoothed, per-buyer-capped success rate search ranks a listing by. */
const rankedSuccess = (result: RankedResult): number | null =>
  result.ranking?.success_rate ?? result.success_rate;

/** One seller process of the demo. */
interface SellerPlan {
  key: string;
  program:
    | "news-summarizer"
    | "price-oracle"
    | "sentiment-scorer"
    | "gas-tracker"
    | "portfolio-risk"
    | "quickstart-seller";
  name: string;
  priceUsd: string;
  failRate: string;
  /** How long its failing calls take before they fail, ms (default 0: at once). */
  failAfterMs?: number;
  /** The program's registration builder; the demo passes the name and price above. */
  manifest: (endpointUrl: string, overrides?: Partial<RegisterAgentRequest>) => RegisterAgentRequest;
  /** Other fields of its registration. */
  overrides?: Partial<RegisterAgentRequest>;
  /** The market's calls to it. */
  history: number;
  /** The market's input for call `n`. */
  input: (n: number) => unknown;
}

const TOPICS = ["bitcoin", "ethereum", "solana", "stablecoins", "regulation", "security", "markets", "defi"];
const pick = <T>(list: readonly T[], n: number): T => list[n % list.length] as T;
const summarizerInput = (n: number) =>
  n % 5 === 4 ? { text: pick(NEWS_FEED, n).body } : { topic: pick(TOPICS, n) };

const SELLERS: readonly SellerPlan[] = [
  {
    key: "pro",
    program: "news-summarizer",
    name: "Crypto News Summarizer Pro",
    priceUsd: "0.020",
    failRate: "0",
    manifest: newsSummarizerManifest,
    history: SUMMARIZER_HISTORY,
    input: summarizerInput,
  },
  {
    key: "digest",
    program: "news-summarizer",
    name: "Crypto News Digest",
    priceUsd: "0.012",
    // Half its calls fail, after two seconds of waiting: free, but a buyer's time is not (call()
    // values it at $0.01 a second), so the Pro answers more cheaply per useful answer.
    failRate: "0.5",
    failAfterMs: 2_000,
    manifest: newsSummarizerManifest,
    overrides: {
      description: "The same crypto news summaries for less: three sentences and the top headlines.",
    },
    history: SUMMARIZER_HISTORY,
    input: summarizerInput,
  },
  {
    // The README quickstart's seller, listed minutes ago and cheaper: it summarizes a `text`, and
    // answers a `topic` with {"summary": "", "words": 0}, which its own output schema forbids. No
    // history: the ranking must not put it above the Pro on the strength of a prior alone.
    key: "lite",
    program: "quickstart-seller",
    name: "Crypto News Summarizer Lite",
    priceUsd: "0.015",
    failRate: "0",
    manifest: cryptoManifest({
      name: "Crypto News Summarizer Lite",
      description: "Summarizes crypto news for less: the first twelve words. Input: {text}.",
      tags: ["news", "summary"],
      priceUsd: "0.015",
    }),
    history: 0,
    input: summarizerInput,
  },
  {
    key: "price",
    program: "price-oracle",
    name: "Crypto Price Oracle",
    priceUsd: "0.002",
    failRate: "0",
    manifest: priceOracleManifest,
    history: OTHER_HISTORY,
    input: (n) => ({ symbol: pick([...PRICE_TABLE.keys()], n) }),
  },
  {
    key: "sentiment",
    program: "sentiment-scorer",
    name: "Crypto Sentiment Scorer",
    priceUsd: "0.004",
    failRate: "0",
    manifest: sentimentScorerManifest,
    history: OTHER_HISTORY,
    input: (n) => ({ text: pick(NEWS_FEED, n).headline }),
  },
  {
    key: "gas",
    program: "gas-tracker",
    name: "Gas Fee Tracker",
    priceUsd: "0.001",
    failRate: "0",
    manifest: gasTrackerManifest,
    history: OTHER_HISTORY,
    input: (n) => ({ chain: pick(["eth", "btc", "arbitrum", "base", "polygon", "sol"], n) }),
  },
  {
    key: "risk",
    program: "portfolio-risk",
    name: "Portfolio Risk Scorer",
    priceUsd: "0.010",
    failRate: "0",
    manifest: portfolioRiskManifest,
    history: OTHER_HISTORY,
    input: (n) => ({
      holdings: [
        { symbol: "BTC", amount: `0.${(n % 9) + 1}` },
        { symbol: "ETH", amount: String((n % 4) + 1) },
        { symbol: pick(["SOL", "USDC", "LINK"], n), amount: String(10 * ((n % 3) + 1)) },
      ],
    }),
  },
];

/** A child process of the demo. */
interface Child {
  label: string;
  /** What it printed after `listening on`; empty until then. */
  url: string;
  process: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** Its last lines of output, for a failure message. */
  tail: string[];
}

/** Options of the demo. */
interface DemoOptions {
  calls: number;
  port: number;
  keepRunning: boolean;
}

function parseOptions(argv: readonly string[]): DemoOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      calls: { type: "string", default: "20" },
      port: { type: "string" },
      "keep-running": { type: "boolean", default: false },
    },
  });
  const keepRunning = values["keep-running"] === true;
  const calls = Number(values.calls);
  const port = Number(values.port ?? (keepRunning ? "4020" : "0"));
  if (!Number.isSafeInteger(calls) || calls < 1 || calls > 500) {
    throw new MercatoError(
      "VALIDATION_ERROR",
      `--calls must be a whole number from 1 to 500, got ${values.calls}`,
    );
  }
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) {
    throw new MercatoError("VALIDATION_ERROR", `--port must be a port from 0 to 65535, got ${values.port}`);
  }
  return { calls, port, keepRunning };
}

/** Everything the demo started: its child processes and its temporary directory. */
class Resources {
  readonly children: Child[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), "mercato-demo-"));
  #closing: Promise<void> | undefined;

  /** Stops every child (sellers first, then the broker) and removes the directory; once. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all(this.children.filter((c) => c.label !== "broker").map(stopChild));
      await Promise.all(this.children.filter((c) => c.label === "broker").map(stopChild));
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.#closing;
  }
}

/** Environment for a child: this one's, minus the settings the demo decides itself. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(MERCATO_|STRIPE_|SELLER_)/.test(name)) continue;
    if (["PORT", "HOST", "LOG_LEVEL", "FAIL_RATE", "FAIL_AFTER_MS", "DATABASE_URL"].includes(name)) continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * Spawns `node <script> …args` and waits for its `listening on <url>` line. The child is added to
 * `resources` at once, so that it is stopped at the end even when it fails to start.
 */
function startChild(
  label: string,
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  resources: Resources,
): Promise<Child> {
  const spawned = spawn(process.execPath, [script, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  const child: Child = {
    label,
    url: "",
    process: spawned,
    exited: new Promise<void>((done) => {
      spawned.once("exit", () => done());
      spawned.once("error", () => done());
    }),
    tail: [],
  };
  resources.children.push(child);
  const keep = (line: string) => {
    child.tail.push(line);
    if (child.tail.length > 30) child.tail.shift();
  };
  return new Promise<Child>((resolvePromise, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      const output = child.tail.map((line) => `\n    ${line}`).join("");
      reject(new Error(`${label} ${why}${output}`));
    };
    const timer = setTimeout(
      () => fail(`did not print "listening on" within ${START_TIMEOUT_MS / 1000} s`),
      START_TIMEOUT_MS,
    );
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited (${signal ?? `status ${code}`}) before listening`);
    spawned.once("error", (error) => fail(`could not start: ${error.message}`));
    spawned.once("exit", onExit);
    // Both streams are read to the end, so that a chatty child never blocks on a full pipe.
    createInterface({ input: spawned.stderr }).on("line", keep);
    createInterface({ input: spawned.stdout }).on("line", (line) => {
      keep(line);
      const match = /listening on (https?:\/\/\S+)/.exec(line);
      if (child.url === "" && match?.[1] !== undefined) {
        child.url = match[1];
        clearTimeout(timer);
        spawned.off("exit", onExit);
        resolvePromise(child);
      }
    });
  });
}

/** SIGTERM, then SIGKILL if it has not exited within {@link STOP_TIMEOUT_MS}. */
async function stopChild(child: Child): Promise<void> {
  const running = () => child.process.exitCode === null && child.process.signalCode === null;
  if (!running()) return;
  child.process.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((done) => {
    timer = setTimeout(() => done(true), STOP_TIMEOUT_MS);
  });
  const killed = await Promise.race([child.exited.then(() => false), late]);
  clearTimeout(timer);
  if (killed && running()) {
    child.process.kill("SIGKILL");
    await child.exited;
  }
}

/** The `mercato` bin of `@mercato/cli`, found through this package's dependencies. */
function cliBin(): string {
  const manifestPath = createRequire(import.meta.url).resolve("@mercato/cli/package.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { bin?: Record<string, string> };
  const bin = manifest.bin?.mercato;
  if (bin === undefined) throw new Error(`${manifestPath} has no "mercato" bin`);
  const path = resolve(dirname(manifestPath), bin);
  if (!existsSync(path)) throw new Error(`${path} is missing: build the CLI first (npm run demo does)`);
  return path;
}

/**
 * `mercato agents show <agentId>` as a person sees it (no colour), run with the built CLI against
 * the demo's broker, with a config directory of its own.
 */
function showAgent(brokerUrl: string, agentId: string, dir: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      [cliBin(), "agents", "show", agentId, "--url", brokerUrl, "--no-color"],
      { env: childEnv({ MERCATO_CONFIG_DIR: join(dir, "cli-config"), NO_COLOR: "1" }) },
      (error, stdout, stderr) =>
        error ? reject(new Error(`mercato agents show failed: ${stderr}`)) : resolvePromise(stdout),
    );
  });
}

/** A buyer's calls in the market's history, with what they weigh as a new account's calls. */
function addCall(buyer: BuyerWindow, ok: boolean): void {
  // The accounts were created moments ago: younger than a day, each call weighs a quarter.
  const units = BUYER_WEIGHT.provisionalUnits;
  buyer.calls++;
  buyer.units += units;
  if (ok) buyer.successUnits += units;
}

/** What `buyers`' calls weigh in a ranked success rate, and the rate, as search shows it. */
function rankedRate(buyers: readonly BuyerWindow[]): RankedCalls & { successRate: number } {
  const units = buyers.reduce((total, buyer) => total + buyer.units, 0);
  const successUnits = buyers.reduce((total, buyer) => total + buyer.successUnits, 0);
  const ranked = cappedBuyerWeights(units, successUnits, buyers);
  const successRate = roundTo(smoothedRate(ranked.successes, ranked.calls, TRUST_PRIOR.successRate), 4);
  return { ...ranked, successRate };
}

/** A weight in calls: whole, or to one decimal (2.5). */
const weight = (calls: number) => (Number.isInteger(calls) ? String(calls) : calls.toFixed(1));

/** Runs `task` over `items` with at most `limit` at a time. */
async function inPool<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Polls `check` every 250 ms until it returns a value, or fails after `timeoutMs`. */
async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

/** A completed charge as the demo adds it up. */
interface Charge {
  agentId: string;
  amount: bigint;
  fee: bigint;
  share: bigint;
}

async function completedCharges(client: MercatoClient, role: "buyer" | "seller"): Promise<Charge[]> {
  const charges: Charge[] = [];
  for await (const txn of client.transactions.list({ role, limit: 100 })) {
    if (txn.status !== "completed") continue;
    charges.push({
      agentId: txn.seller_id,
      amount: parseUsd(txn.amount_usd),
      fee: parseUsd(txn.fee_usd),
      share: parseUsd(txn.seller_share_usd),
    });
  }
  return charges;
}

const sum = (values: readonly bigint[]) => values.reduce((total, value) => total + value, 0n);

/** Output helpers: section headings and indented lines. */
function createOutput(write: (text: string) => void) {
  let section = 0;
  const line = (text = "") => write(`${text}\n`);
  return {
    line,
    heading(title: string) {
      section++;
      line();
      line(`${section}. ${title}`);
    },
    block(text: string, pad = "   ") {
      for (const part of text.split("\n")) line(part === "" ? "" : `${pad}${part}`);
    },
  };
}

/** The demo, start to end; returns the exit status. */
async function runDemo(
  options: DemoOptions,
  resources: Resources,
  untilStopped: () => Promise<void>,
): Promise<number> {
  const out = createOutput((text) => process.stdout.write(text));
  const started = Date.now();
  const adminToken = randomBytes(16).toString("hex");
  const problems: string[] = [];

  out.line("Mercato demo: a broker, seven crypto sellers and a buyer agent on this machine (no internet).");

  out.heading("Broker");
  const broker = await startChild(
    "broker",
    cliBin(),
    [
      "broker",
      "start",
      "--dev",
      "--port",
      String(options.port),
      "--db",
      join(resources.dir, "mercato.db"),
      "--admin-token",
      adminToken,
      "--log-level",
      "warn",
    ],
    // The market's buyer accounts all sign up from this machine's address: no sign-up limit.
    childEnv({ MERCATO_SIGNUP_RATE_LIMIT: "0" }),
    resources,
  );
  const brokerUrl = broker.url;
  out.line(`   broker listening on ${brokerUrl} (dev mode, SQLite in ${resources.dir})`);
  const anonymous = createClient({ baseUrl: brokerUrl });

  out.heading("Sellers");
  // The sellers' account first: each seller kit serves only this account's listings.
  const sellerAccount = await anonymous.accounts.create({ name: "Example Sellers" });
  const here = dirname(fileURLToPath(import.meta.url));
  const processes = await Promise.all(
    SELLERS.map((plan) =>
      startChild(
        plan.name,
        plan.program === "quickstart-seller"
          ? join(here, "..", "quickstart-seller.mjs")
          : join(here, "sellers", `${plan.program}.js`),
        [],
        childEnv({
          PORT: "0",
          MERCATO_URL: brokerUrl,
          MERCATO_OWNER: sellerAccount.account_id,
          SELLER_NAME: plan.name,
          SELLER_PRICE: plan.priceUsd,
          FAIL_RATE: plan.failRate,
          FAIL_AFTER_MS: String(plan.failAfterMs ?? 0),
        }),
        resources,
      ),
    ),
  );
  const seller = createClient({ baseUrl: brokerUrl, apiKey: sellerAccount.api_key });
  const agents: { plan: SellerPlan; url: string; agentId: string }[] = [];
  for (const [index, plan] of SELLERS.entries()) {
    const url = processes[index]?.url ?? "";
    // What `mercato agents register --from-kit <url>` does: the schemas from the seller's kit.
    const contract = await fetchKitContract(url);
    const { agent_id } = await seller.agents.register(
      plan.manifest(url, {
        name: plan.name,
        pricing: { model: "per_call", price_per_call: plan.priceUsd },
        ...plan.overrides,
        ...withSchemas(contract),
      }),
    );
    if (contract.input_schema === null || contract.output_schema === null) {
      problems.push(`${plan.name}'s seller kit serves no input or output schema`);
    }
    agents.push({ plan, url, agentId: agent_id });
  }
  const agentName = new Map(agents.map((agent) => [agent.agentId, agent.plan.name]));
  out.line(
    `   seven seller processes from six programs, registered by the account "Example Sellers" with the input and\n` +
      "   output schemas each seller kit serves (GET <endpoint>/.well-known/mercato-contract, from its zod schemas):",
  );
  out.block(
    formatTable(
      [
        { title: "SELLER", cell: (a: (typeof agents)[number]) => a.plan.name },
        { title: "PROGRAM", cell: (a) => a.plan.program },
        { title: "PRICE", cell: (a) => usd(a.plan.priceUsd), right: true },
        { title: "FAILS", cell: (a) => percent(Number(a.plan.failRate)), right: true },
        { title: "AGENT", cell: (a) => a.agentId },
        { title: "LISTENING ON", cell: (a) => a.url },
      ],
      agents,
    ),
  );
  const proListing = agents.find((agent) => agent.plan.key === "pro");
  if (proListing !== undefined) {
    out.line(
      `   the Pro's listing, contract included, as \`mercato agents show ${proListing.agentId}\` prints it:`,
    );
    const shown = await showAgent(brokerUrl, proListing.agentId, resources.dir);
    out.block(shown.trimEnd(), "     ");
    if (!/\nOutput\n\s+FIELD\s+TYPE\s+REQUIRED\s+DESCRIPTION\n\s+source\s/.test(shown)) {
      problems.push("mercato agents show did not print the Pro's output schema");
    }
  }

  out.heading("Market history");
  // Accounts of their own: the broker does not count calls an agent's owner makes in its metrics.
  const marketBuyers = await Promise.all(
    Array.from({ length: MARKET_BUYERS }, async (_, index) => {
      const name = `Market buyer ${String(index + 1).padStart(2, "0")}`;
      const account = await anonymous.accounts.create({ name });
      const client = createClient({ baseUrl: brokerUrl, apiKey: account.api_key });
      await client.topups.create({ amountUsd: "10.00" });
      return client;
    }),
  );
  // Call n of a seller comes from buyer n mod MARKET_BUYERS: ten calls from each to each summarizer.
  const jobs = agents.flatMap((agent) =>
    Array.from({ length: agent.plan.history }, (_, n) => ({ agent, n, buyer: n % MARKET_BUYERS })),
  );
  const outcomes = new Map(
    agents.map((agent) => [
      agent.agentId,
      {
        ok: 0,
        failed: 0,
        paid: 0n,
        buyers: Array.from(
          { length: MARKET_BUYERS },
          (): BuyerWindow => ({ calls: 0, units: 0, successUnits: 0 }),
        ),
      },
    ]),
  );
  // Interleaved, so that every seller's history grows at once rather than one after the other.
  jobs.sort((a, b) => a.n - b.n);
  const historyStarted = Date.now();
  await inPool(jobs, HISTORY_CONCURRENCY, async ({ agent, n, buyer }) => {
    const outcome = outcomes.get(agent.agentId);
    const client = marketBuyers[buyer];
    const window = outcome?.buyers[buyer];
    if (outcome === undefined || client === undefined || window === undefined) return;
    try {
      const answer = await client.invoke(agent.agentId, agent.plan.input(n), {
        timeoutMs: HISTORY_TIMEOUT_MS,
      });
      outcome.ok++;
      outcome.paid += parseUsd(answer.cost_usd);
      addCall(window, true);
    } catch (error) {
      if (!isMercatoError(error) || error.code !== "SELLER_ERROR") throw error;
      outcome.failed++;
      addCall(window, false);
    }
  });
  const ranked = new Map(
    agents.map((agent) => [agent.agentId, rankedRate(outcomes.get(agent.agentId)?.buyers ?? [])]),
  );
  const seconds = ((Date.now() - historyStarted) / 1000).toFixed(1);
  out.block(
    [
      `${MARKET_BUYERS} other buyers, new accounts topped up $10.00 each, made ${jobs.length} calls in ${seconds} s` +
        ` (${HISTORY_CONCURRENCY} at a time);`,
      "failed calls are not charged. Ranking caps what one buyer's calls to a seller weigh: ten calls",
      "here, a quarter of that (2.5) for an account younger than a day, so each buyer made",
      `${CALLS_PER_BUYER} calls to each summarizer. SUCCESS = (weighted successes + 19) / (weighted calls + 20):`,
    ].join("\n"),
  );
  out.block(
    formatTable(
      [
        { title: "SELLER", cell: (a: (typeof agents)[number]) => a.plan.name },
        { title: "CALLS", cell: (a) => String(a.plan.history), right: true },
        { title: "OK", cell: (a) => String(outcomes.get(a.agentId)?.ok ?? 0), right: true },
        { title: "FAILED", cell: (a) => String(outcomes.get(a.agentId)?.failed ?? 0), right: true },
        { title: "PAID", cell: (a) => usd(outcomes.get(a.agentId)?.paid ?? 0n, 2), right: true },
        {
          title: "WEIGHTED",
          cell: (a) => {
            const figures = ranked.get(a.agentId);
            return figures ? `${weight(figures.successes)} of ${weight(figures.calls)}` : "";
          },
          right: true,
        },
        {
          title: "SUCCESS",
          cell: (a) => (a.plan.history === 0 ? "new" : percent(ranked.get(a.agentId)?.successRate ?? 0)),
          right: true,
        },
      ],
      agents,
    ),
  );
  for (const agent of agents) {
    const outcome = outcomes.get(agent.agentId);
    const ratePpm = parseRatePpm(agent.plan.failRate);
    const expectedFailures = Array.from({ length: agent.plan.history }, (_, n) => failsAt(n, ratePpm)).filter(
      Boolean,
    ).length;
    if (outcome && outcome.failed !== expectedFailures) {
      problems.push(`${agent.plan.name} failed ${outcome.failed} market calls, expected ${expectedFailures}`);
    }
  }

  // The broker records call outcomes in batches about every second: wait until search shows all
  // of them, and the ranked success rates they give, the Digest's failures included.
  const waitStarted = Date.now();
  let seen: SearchResult[] = [];
  try {
    await waitFor("the broker's metrics", METRICS_TIMEOUT_MS, async () => {
      seen = (await anonymous.agents.search({ category: "crypto", limit: 20 })).results;
      const settled = agents.every((agent) => {
        const result = seen.find((r) => r.agent_id === agent.agentId) as RankedResult | undefined;
        const expected = ranked.get(agent.agentId)?.successRate;
        const rate = result === undefined ? null : rankedSuccess(result);
        if (agent.plan.history === 0) return result !== undefined;
        return (
          result !== undefined &&
          expected !== undefined &&
          rate !== null &&
          result.total_calls >= agent.plan.history &&
          Math.abs(rate - expected) < 0.00011
        );
      });
      return settled ? true : undefined;
    });
  } catch (error) {
    const shown = agents.map((agent) => {
      const result = seen.find((r) => r.agent_id === agent.agentId) as RankedResult | undefined;
      const expected = percent(ranked.get(agent.agentId)?.successRate ?? 0);
      return `${agent.plan.name}: ${result?.total_calls ?? 0} calls at ${percent((result && rankedSuccess(result)) ?? 0)}, expected ${agent.plan.history} at ${expected}`;
    });
    throw new Error(`${(error as Error).message} (${shown.join("; ")})`);
  }
  out.line(
    `   the broker's metrics caught up in ${((Date.now() - waitStarted) / 1000).toFixed(1)} s:` +
      " search shows these success rates.",
  );

  out.heading("Buyer agent");
  const buyerAccount = await anonymous.accounts.create({ name: "Buyer Agent" });
  // A seeded generator for call()'s exploration (5% of calls try a listing with little evidence):
  // the same run every time.
  const buyer = createClient({
    baseUrl: brokerUrl,
    apiKey: buyerAccount.api_key,
    random: seededRandom(2026),
  });
  const topup = await buyer.topups.create({ amountUsd: "10.00" });
  out.line(
    `   new account, topped up ${usd(topup.amount_usd, 2)} (${topup.status}, dev mode: no real money)`,
  );
  const report: BuyerAgentReport = await runBuyerAgent({
    client: buyer,
    calls: options.calls,
    log: (text) => out.block(text),
  });
  const pro = agents.find((agent) => agent.plan.key === "pro");
  if (report.chosen.agent_id !== pro?.agentId) {
    problems.push(`the buyer chose ${report.chosen.name}, expected ${pro?.plan.name}`);
  }
  if (report.failedCalls > 0) problems.push(`${report.failedCalls} of the buyer's calls failed`);

  out.heading("The README's client.call()");
  // The snippet exactly: the broadest query, a topic the Lite cannot summarize. Whatever call() tries
  // first, it must end at a summarizer with a record (not the new Lite, whose empty answer its own
  // schema refuses) with a real summary, paying only for that answer.
  const readmeAccount = await anonymous.accounts.create({ name: "README reader" });
  const client = createClient({
    baseUrl: brokerUrl,
    apiKey: readmeAccount.api_key,
    budget: createBudget("1.00"),
  });
  await client.topups.create({ amountUsd: "10.00" });
  const tried: string[] = [];
  const result = await client.call({
    category: "crypto",
    tags: ["news"],
    maxPricePerCall: "0.05",
    input: { topic: "bitcoin" },
    onAttempt: (attempt) => {
      if (!attempt.ok)
        tried.push(`${agentName.get(attempt.agentId) ?? attempt.agentId} (${attempt.code}, not charged)`);
    },
  });
  const summary = (result.output as { summary?: unknown } | null)?.summary;
  out.block(
    [
      'client.call({ category: "crypto", tags: ["news"], maxPricePerCall: "0.05", input: { topic: "bitcoin" } })',
      ...(tried.length > 0 ? [`  failed first: ${tried.join(", ")}`] : []),
      `  answered by ${agentName.get(result.agentId) ?? result.agentId} for ${usd(result.costUsd)}:`,
      `  "${typeof summary === "string" ? summary : JSON.stringify(result.output)}"`,
    ].join("\n"),
  );
  const answeredBy = agents.find((agent) => agent.agentId === result.agentId);
  if (answeredBy?.plan.program !== "news-summarizer" || answeredBy.plan.history === 0) {
    problems.push(
      `the README's call was answered by ${answeredBy?.plan.name ?? result.agentId}, not a summarizer with a record`,
    );
  }
  if (typeof summary !== "string" || summary.trim() === "") problems.push("the README's call got no summary");

  out.heading("Ranking (crypto, by cost per success)");
  // Wait until the buyer's own calls are in the metrics too, so that the table adds up.
  const proCalls =
    SUMMARIZER_HISTORY +
    (report.answeredBy[pro?.agentId ?? ""] ?? 0) +
    (result.agentId === pro?.agentId ? 1 : 0);
  let ranking: SearchResult[] = [];
  try {
    await waitFor("the buyer's calls in the metrics", METRICS_TIMEOUT_MS, async () => {
      ranking = (await anonymous.agents.search({ category: "crypto", sort: "cost_per_success", limit: 20 }))
        .results;
      return ranking.find((agent) => agent.agent_id === pro?.agentId)?.total_calls === proCalls
        ? true
        : undefined;
    });
  } catch (error) {
    out.line(`   (${(error as Error).message}; showing the figures as they are)`);
  }
  out.block(
    formatTable(
      [
        { title: "#", cell: (a: SearchResult) => String(ranking.indexOf(a) + 1), right: true },
        { title: "SELLER", cell: (a) => a.name },
        { title: "PRICE", cell: (a) => usd(String(a.price_per_call)), right: true },
        { title: "CALLS", cell: (a) => String(a.total_calls), right: true },
        { title: "SUCCESS", cell: (a) => successText(a as RankedResult), right: true },
        {
          title: "RANKED",
          cell: (a) => {
            // A listing without calls has only the prior here: "new", not a made-up rate.
            if (a.total_calls === 0) return "new";
            const rate = rankedSuccess(a as RankedResult);
            return rate === null ? "—" : percent(rate);
          },
          right: true,
        },
        { title: "COST/SUCCESS", cell: (a) => `$${a.cost_per_success.toFixed(4)}`, right: true },
        { title: "TRUST", cell: (a) => a.trust_score.toFixed(3), right: true },
      ],
      ranking,
    ),
  );
  out.line('   SUCCESS is measured: successes / calls over 30 days, "new" for a listing with no calls yet.');
  out.line(
    "   RANKED = (weighted successes + 19) / (weighted calls + 20), each buyer's calls capped as above;",
  );
  out.line(
    "   COST/SUCCESS divides the price by a conservative estimate of the success rate: a new listing is not",
  );
  out.line("   ranked on a prior alone. CALLS counts every call.");
  const lite = ranking.findIndex(
    (agent) => agent.agent_id === agents.find((a) => a.plan.key === "lite")?.agentId,
  );
  const proRank = ranking.findIndex((agent) => agent.agent_id === pro?.agentId);
  if (lite !== -1 && proRank !== -1 && lite < proRank) {
    problems.push("the new Lite summarizer, with no calls, ranks above the proven Pro");
  }

  out.heading("Money");
  const buyerCharges = await completedCharges(buyer, "buyer");
  const buyerTotal = sum(buyerCharges.map((charge) => charge.amount));
  const buyerFees = sum(buyerCharges.map((charge) => splitCharge(charge.amount).fee));
  out.line(
    `   buyer charges: ${buyerCharges.length} charges, total ${formatUsd(buyerTotal)} USD` +
      ` (fees ${formatUsd(buyerFees)}, to the seller ${formatUsd(buyerTotal - buyerFees)})`,
  );
  if (buyerTotal !== parseUsd(report.paidUsd) || buyerCharges.length !== report.succeeded) {
    problems.push(
      `the buyer's charges (${buyerCharges.length}, ${formatUsd(buyerTotal)}) differ from what it paid (${report.succeeded}, ${report.paidUsd})`,
    );
  }
  const sellerCharges = await completedCharges(seller, "seller");
  const byPrice = new Map<bigint, Charge[]>();
  for (const charge of sellerCharges) {
    byPrice.set(charge.amount, [...(byPrice.get(charge.amount) ?? []), charge]);
    const { fee, sellerShare } = splitCharge(charge.amount);
    if (fee !== charge.fee || sellerShare !== charge.share) {
      problems.push(
        `a charge of ${formatUsd(charge.amount)} has fee ${formatUsd(charge.fee)}, expected ${formatUsd(fee)}`,
      );
    }
  }
  const rows = [...byPrice]
    .sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0))
    .map(([price, charges]) => ({
      price,
      count: charges.length,
      fee: splitCharge(price).fee,
      charged: sum(charges.map((charge) => charge.amount)),
      fees: sum(charges.map((charge) => splitCharge(charge.amount).fee)),
      sellers: [...new Set(charges.map((charge) => agentName.get(charge.agentId) ?? charge.agentId))],
    }));
  const charged = sum(rows.map((row) => row.charged));
  const fees = sum(rows.map((row) => row.fees));
  out.line(
    `   seller side, every charge of every buyer; fee = floor(charge × 10%), the seller keeps the rest:`,
  );
  out.block(
    formatTable(
      [
        { title: "PRICE", cell: (r: (typeof rows)[number]) => usd(r.price), right: true },
        { title: "FEE EACH", cell: (r) => usd(r.fee, 4), right: true },
        { title: "CHARGES", cell: (r) => String(r.count), right: true },
        { title: "CHARGED", cell: (r) => usd(r.charged), right: true },
        { title: "FEES", cell: (r) => usd(r.fees), right: true },
        { title: "SELLER GETS", cell: (r) => usd(r.charged - r.fees), right: true },
        { title: "AGENT", cell: (r) => r.sellers.join(", ") },
      ],
      rows,
    ),
  );
  const balance = await seller.balance();
  const earnings = parseUsd(balance.earnings_usd);
  const matches = earnings === charged - fees;
  out.line(
    `   seller earnings: ${formatUsd(earnings)} USD = charges ${formatUsd(charged)} − fees ${formatUsd(fees)}` +
      ` (${sellerCharges.length} charges; the seller account's balance) ${matches ? "✓" : "✗"}`,
  );
  if (!matches)
    problems.push(`seller earnings ${formatUsd(earnings)} ≠ charges − fees ${formatUsd(charged - fees)}`);

  out.heading("Ledger audit");
  const response = await fetch(`${brokerUrl}/admin/audit`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  const audit = (await response.json()) as {
    ok?: boolean;
    accounts?: number;
    transfers?: number;
    totals?: Record<string, string>;
    violations?: { rule: string; detail: string }[];
  };
  const totals = audit.totals ?? {};
  if (response.ok && audit.ok === true) {
    out.line(`   audit: clean (${audit.accounts} accounts, ${audit.transfers} transfers, no violations)`);
    out.line(
      `   money in ${totals.topped_up_usd} − paid out ${totals.paid_out_usd}` +
        ` = wallets ${totals.wallets_usd} + earnings ${totals.earnings_usd} + revenue ${totals.revenue_usd}`,
    );
  } else {
    out.line(`   audit: NOT clean (HTTP ${response.status})`);
    for (const violation of audit.violations ?? []) out.line(`     ${violation.rule}: ${violation.detail}`);
    problems.push("the ledger audit is not clean");
  }

  out.line();
  if (problems.length > 0) {
    out.line("Problems:");
    for (const problem of problems) out.line(`  - ${problem}`);
  }
  out.line(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);

  if (options.keepRunning) {
    const tx = await buyer.transactions.list({ role: "buyer", limit: 1 });
    const txnId = tx.data[0]?.id ?? "txn_…";
    out.line();
    out.line("Still running. Explore it from another terminal with the CLI:");
    out.block(
      [
        `alias mercato="node ${cliBin()}"`,
        `mercato login --url ${brokerUrl} --key ${buyerAccount.api_key}   # the buyer's account key`,
        "mercato balance",
        "mercato transactions",
        "mercato agents search --category crypto --tag news",
        `mercato invoke ${pro?.agentId ?? "agent_…"} --input '{"topic": "bitcoin"}'`,
        `mercato receipts verify ${txnId}`,
        `curl -s ${brokerUrl}/admin/audit -H "authorization: Bearer ${adminToken}"`,
      ].join("\n"),
      "   $ ",
    );
    out.line(`   the seller account's key: ${sellerAccount.api_key}; API docs at ${brokerUrl}/docs`);
    out.line("Press Ctrl-C to stop everything.");
    await untilStopped();
  }
  return problems.length === 0 ? 0 : 1;
}

async function main(): Promise<void> {
  let options: DemoOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const resources = new Resources();
  // Whatever ends this process (a crash, a reader that closed the pipe: `npm run demo | head`), the
  // children must not outlive it: the last chance is synchronous.
  process.on("exit", () => {
    for (const child of resources.children) {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGTERM");
    }
    rmSync(resources.dir, { recursive: true, force: true });
  });
  // A closed standard output is not a reason to leave the demo half-stopped: writes are dropped.
  process.stdout.on("error", () => undefined);
  // Ctrl-C or SIGTERM: once the demo is only waiting (--keep-running), it stops normally; before
  // that, everything is stopped at once and the process exits 130 or 143.
  let waiting = false;
  let interrupted = false;
  let stopWaiting = () => {};
  const stopped = new Promise<void>((done) => {
    stopWaiting = done;
  });
  const untilStopped = () => {
    waiting = true;
    return stopped;
  };
  const interrupt = (signal: NodeJS.Signals) => {
    if (waiting) {
      stopWaiting();
      return;
    }
    interrupted = true;
    process.stderr.write(`\ndemo: ${signal}, stopping the broker and the sellers…\n`);
    void resources.close().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);

  let status = 1;
  try {
    status = await runDemo(options, resources, untilStopped);
  } catch (error) {
    // Interrupted: the failure is the clean-up stopping the children under the demo's feet.
    if (interrupted) return;
    const detail = isMercatoError(error) ? `${error.code}: ${error.message}` : (error as Error).message;
    process.stderr.write(`\ndemo failed: ${detail}\n`);
    if (!isMercatoError(error) && error instanceof Error && error.stack) {
      process.stderr.write(`${error.stack.split("\n").slice(1).join("\n")}\n`);
    }
  } finally {
    await resources.close();
  }
  const sellers = resources.children.filter((child) => child.label !== "broker").length;
  process.stdout.write(`Stopped the broker and ${sellers} sellers; removed ${resources.dir}.\n`);
  process.exitCode = status;
}

await main();
