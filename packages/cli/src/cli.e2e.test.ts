// The built `mercato` binary, run as a subprocess for every command, in human and `--json` modes,
// against a real broker it started itself (`mercato broker start`) and a real seller on loopback.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatUsd, parseUsd } from "@mercato/protocol";
import { type SellerKit, sellerKit } from "@mercato/seller-kit";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const ADMIN_TOKEN = "cli-test-admin-token-0123456789";
/** Where every ANSI colour code starts. */
const ESC = "\u001b[";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
let broker: ChildProcess;
let brokerUrl: string;
let seller: Server;
let sellerUrl: string;
/** A seller behind the real seller kit, started once the seller's account exists. */
let kitServer: Server | undefined;
/** Calls (POSTs) the seller answered; the broker's health checks (GETs) are not calls. */
let sellerCalls = 0;

/** Config directories: one per persona, as two people on two machines would have. */
const SELLER = "seller";
const BUYER = "buyer";

/** Runs `mercato args…` to its end, as `persona`, with optional standard input. */
function mercato(
  args: string[],
  options: { persona?: string; input?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: dir,
        MERCATO_CONFIG_DIR: join(dir, options.persona ?? "nobody"),
        MERCATO_URL: brokerUrl,
        ...options.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

/** `mercato … --json`, expecting success: the parsed standard output, and nothing on standard error. */
async function mercatoJson<T = Record<string, unknown>>(
  args: string[],
  options: Parameters<typeof mercato>[1] = {},
): Promise<T> {
  const run = await mercato([...args, "--json"], options);
  expect(run.stderr, `stderr of mercato ${args.join(" ")}`).toBe("");
  expect(run.status, `status of mercato ${args.join(" ")}`).toBe(0);
  return JSON.parse(run.stdout) as T;
}

/** `mercato …` in human mode, expecting success: its standard output. */
async function mercatoHuman(args: string[], options: Parameters<typeof mercato>[1] = {}): Promise<string> {
  const run = await mercato(args, options);
  expect(run.status, `status of mercato ${args.join(" ")}: ${run.stderr}`).toBe(0);
  // Nothing to stdout looks like a terminal here: no colour codes, no spinner.
  expect(run.stdout).not.toContain(ESC);
  return run.stdout;
}

/** Expects `mercato …` to fail with `status` and the error `code`, in both modes. */
async function expectFailure(
  args: string[],
  status: number,
  code: string,
  options: Parameters<typeof mercato>[1] = {},
): Promise<{ human: Run; json: Run }> {
  const [human, json] = await Promise.all([mercato(args, options), mercato([...args, "--json"], options)]);
  expect(human.status).toBe(status);
  expect(human.stdout).toBe("");
  expect(human.stderr).toMatch(code === "USAGE" ? /^mercato: / : new RegExp(`^mercato: ${code}: `));
  expect(human.stderr).not.toMatch(/\n\s+at /);
  expect(json.status).toBe(status);
  expect(json.stdout).toBe("");
  const envelope = JSON.parse(json.stderr) as { error: { code: string; message: string } };
  expect(envelope.error.code).toBe(code);
  expect(envelope.error.message.length).toBeGreaterThan(0);
  return { human, json };
}

/**
 * A loopback port nothing listens on: one just freed. (A low port like 9 would not do: fetch()
 * refuses the Fetch standard's "bad ports" without trying to connect.)
 */
async function freedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function admin(path: string, method = "GET"): Promise<Record<string, unknown>> {
  const response = await fetch(`${brokerUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mercato-cli-e2e-"));
  // A seller without the seller kit (the CLI is what is under test): /ok echoes, /fail fails.
  seller = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      response.setHeader("content-type", "application/json");
      // The broker's health checks: every seller here is up, even the one whose calls fail.
      if (request.method === "GET") {
        response.end(JSON.stringify({ status: "ok" }));
        return;
      }
      sellerCalls++;
      if (request.url?.startsWith("/fail")) {
        response.statusCode = 500;
        response.end(JSON.stringify({ error: { code: "BOOM", message: "the seller broke" } }));
        return;
      }
      const { input } = JSON.parse(body) as { input: unknown };
      response.end(JSON.stringify({ output: { echo: input } }));
    });
  });
  await new Promise<void>((resolve) => seller.listen(0, "127.0.0.1", resolve));
  sellerUrl = `http://127.0.0.1:${(seller.address() as AddressInfo).port}`;

  broker = spawn(
    process.execPath,
    [
      BIN,
      "broker",
      "start",
      "--dev",
      "--port",
      "0",
      "--db",
      join(dir, "broker.db"),
      "--log-level",
      "warn",
      "--json",
    ],
    {
      // Health checks every 200 ms rather than every 30 s: the seller sees them during every test,
      // as it would during a long run, so nothing here may count them as calls.
      env: {
        PATH: process.env.PATH ?? "",
        MERCATO_ADMIN_TOKEN: ADMIN_TOKEN,
        MERCATO_HEALTH_INTERVAL_MS: "200",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  brokerUrl = await new Promise<string>((resolve, reject) => {
    let out = "";
    broker.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      // --json: one JSON line per event, the first of them "listening".
      const line = out.split("\n").find((text) => text.includes('"listening"'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    broker.on("exit", (status) => reject(new Error(`broker exited with ${status}: ${out}`)));
  });
});

afterAll(async () => {
  if (broker.exitCode === null) {
    let out = "";
    broker.stdout?.on("data", (chunk: string) => {
      out += chunk;
    });
    const exited = new Promise((resolve) => broker.once("exit", resolve));
    broker.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out).toContain('{"event":"stopped","reason":"SIGTERM"}');
  }
  await new Promise((resolve) => seller.close(resolve));
  if (kitServer) await new Promise((resolve) => kitServer?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

// A test here runs up to twenty `mercato` processes one after the other; each one starts Node and
// loads the SDK, which takes seconds rather than milliseconds on a loaded 2-core machine.
describe("mercato, as a subprocess against a real broker", { timeout: 120_000 }, () => {
  // Filled in as the story goes: each step builds on the one before.
  const state = {
    sellerKey: "",
    buyerKey: "",
    buyerAccount: "",
    sellerAccount: "",
    agentOk: "",
    agentFail: "",
    transaction: "",
  };

  it("has complete help: every command answers --help with its usage and an example", async () => {
    const top = await mercatoHuman(["--help"]);
    for (const command of [
      "login",
      "logout",
      "account",
      "balance",
      "topup",
      "transactions",
      "receipts",
      "settlements",
      "keys",
      "purchase",
      "agents",
      "invoke",
      "mcp",
      "broker",
    ]) {
      expect(top).toMatch(new RegExp(`\\n  ${command}\\b`));
    }
    const commands = [
      ["login"],
      ["logout"],
      ["account", "create"],
      ["account", "show"],
      ["balance"],
      ["topup"],
      ["transactions"],
      ["receipts", "verify"],
      ["settlements"],
      ["keys", "list"],
      ["keys", "create"],
      ["keys", "revoke"],
      ["keys", "rotate"],
      ["keys", "reinstate"],
      ["purchase"],
      ["agents", "register"],
      ["agents", "update"],
      ["agents", "deactivate"],
      ["agents", "show"],
      ["agents", "search"],
      ["invoke"],
      ["mcp"],
      ["broker", "start"],
    ];
    const helps = await Promise.all(commands.map((command) => mercatoHuman([...command, "--help"])));
    helps.forEach((help, index) => {
      expect(help, commands[index]?.join(" ")).toContain(`Usage: mercato ${commands[index]?.join(" ")}`);
      expect(help, commands[index]?.join(" ")).toMatch(/Examples?:\n {2}\$ mercato /);
      expect(help, commands[index]?.join(" ")).toContain("--json");
    });
    expect((await mercato(["--version"])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it("refuses usage mistakes with exit status 2 and no stack", async () => {
    const unknown = await mercato(["no-such-command"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown command");
    await expectFailure(["transactions", "--limit", "0"], 2, "USAGE", { persona: BUYER });
    await expectFailure(["balance", "--url", "ftp://nowhere"], 2, "USAGE");
    await expectFailure(["agents", "register", "--file", "missing.json"], 2, "USAGE");
  });

  it("says it is not logged in (1, UNAUTHENTICATED) and that an unreachable broker is unavailable", async () => {
    const { human } = await expectFailure(["balance"], 1, "UNAUTHENTICATED", { persona: BUYER });
    expect(human.stderr).toContain("mercato login");
    await expectFailure(["agents", "search"], 1, "SERVICE_UNAVAILABLE", {
      env: { MERCATO_URL: `http://127.0.0.1:${await freedPort()}` },
    });
  });

  it("account create: signs up and logs in (config 0600), or prints the key only with --no-login --json", async () => {
    const human = await mercatoHuman(
      ["account", "create", "--name", "Sol Sellers", "--email", "sol@example.com"],
      {
        persona: SELLER,
      },
    );
    expect(human).toContain("Created account Sol Sellers");
    state.sellerKey = human.match(/\b(mk_[A-Za-z0-9_-]+)/)?.[1] ?? "";
    expect(state.sellerKey).not.toBe("");
    expect(human).toContain("Logged in");
    const configFile = join(dir, SELLER, "config.json");
    expect((await stat(configFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, SELLER))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(configFile, "utf8"))).toMatchObject({
      url: brokerUrl,
      api_key: state.sellerKey,
    });

    const buyer = await mercatoJson<{ api_key: string; account_id: string; logged_in: boolean }>(
      ["account", "create", "--name", "Bo Buyer", "--no-login"],
      { persona: BUYER },
    );
    expect(buyer.api_key).toMatch(/^mk_/);
    expect(buyer.logged_in).toBe(false);
    state.buyerKey = buyer.api_key;
    state.buyerAccount = buyer.account_id;
    await expect(stat(join(dir, BUYER, "config.json"))).rejects.toThrow();
  });

  it("login: checks the key with the broker and keeps it; refuses an unknown key and an access key", async () => {
    await expectFailure(["login", "--key", `mk_${"A".repeat(43)}`], 1, "INVALID_API_KEY", { persona: BUYER });
    await expectFailure(["login", "--key", "sk_live_abc"], 2, "USAGE", { persona: BUYER });
    const human = await mercatoHuman(["login", "--url", brokerUrl, "--key", state.buyerKey], {
      persona: BUYER,
    });
    expect(human).toContain("Logged in to");
    expect(human).toContain("Bo Buyer");
    const json = await mercatoJson(["login"], {
      persona: `${BUYER}-json`,
      env: { MERCATO_API_KEY: state.buyerKey },
    });
    expect(json).toMatchObject({ url: brokerUrl, account_id: state.buyerAccount, name: "Bo Buyer" });
  });

  it("account show", async () => {
    expect(await mercatoHuman(["account", "show"], { persona: BUYER })).toMatch(/name\s+Bo Buyer/);
    const me = await mercatoJson(["account", "show"], { persona: SELLER });
    expect(me).toMatchObject({ name: "Sol Sellers", email: "sol@example.com" });
    state.sellerAccount = String(me.account_id);
  });

  it("agents register: from a file, and from standard input with --json", async () => {
    await writeFile(
      join(dir, "agent.json"),
      JSON.stringify({
        name: "Echo Oracle",
        description: "Echoes its input, reliably",
        category: "crypto",
        tags: ["echo", "oracle"],
        api_endpoint: `${sellerUrl}/ok`,
        pricing: { model: "per_call", price_per_call: 0.02 },
      }),
    );
    const human = await mercatoHuman(["agents", "register", "--file", "agent.json"], { persona: SELLER });
    state.agentOk = human.match(/Registered (agent_\w+)/)?.[1] ?? "";
    expect(state.agentOk).not.toBe("");

    const registered = await mercatoJson(["agents", "register", "--file", "-"], {
      persona: SELLER,
      input: JSON.stringify({
        name: "Broken Oracle",
        description: "Always fails",
        category: "crypto",
        tags: ["oracle"],
        api_endpoint: `${sellerUrl}/fail`,
        pricing: { model: "per_call", price_per_call: "0.010000" },
      }),
    });
    expect(registered).toMatchObject({ status: "registered", verification: { state: "verified" } });
    state.agentFail = String(registered.agent_id);
    // A dev broker verifies a listing's endpoint at once; verify says so.
    expect(await mercatoHuman(["agents", "verify", state.agentFail], { persona: SELLER })).toMatch(
      /✓ agent_\w+'s endpoint is verified; the agent is active\./,
    );

    const bad = await expectFailure(["agents", "register", "--file", "-"], 1, "VALIDATION_ERROR", {
      persona: SELLER,
      input: JSON.stringify({ name: "No price" }),
    });
    // Every invalid field is listed under the message, not only the first.
    expect(bad.human.stderr).toMatch(/\n {2}- pricing: /);
    expect(bad.human.stderr).toMatch(/\n {2}- api_endpoint: /);
    expect(JSON.parse(bad.json.stderr).error.details.issues.length).toBeGreaterThanOrEqual(4);
  });

  it("agents search and show: a table best value first, and JSON", async () => {
    const table = await mercatoHuman(["agents", "search", "--category", "crypto"]);
    const lines = table.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^AGENT\s+NAME\s+CATEGORY\s+PRICE\s+SUCCESS\s+AVG MS\s+TRUST\s+COST\/SUCCESS\s+STATUS$/,
    );
    expect(lines).toHaveLength(3);
    // Cost per success is the default order: the 0.01 agent first while neither has a record.
    expect(lines[1]).toContain("Broken Oracle");
    expect(lines[1]).toContain("$0.01");
    expect(lines[2]).toContain("$0.02");
    // Neither has a call yet: no success rate or latency is made up for them.
    const successStart = lines[0]?.indexOf("SUCCESS") ?? 0;
    for (const line of lines.slice(1)) {
      expect(line.slice(successStart).trim().split(/\s+/).slice(0, 3)).toEqual([
        "new",
        "new",
        expect.any(String),
      ]);
      expect(line).not.toContain("%");
    }
    // Columns line up: every row's price ends where the header's PRICE ends.
    const priceEnd = (lines[0]?.indexOf("PRICE") ?? 0) + "PRICE".length;
    for (const line of lines.slice(1)) expect(line.slice(priceEnd - 1, priceEnd)).toMatch(/\d/);

    const found = await mercatoJson<{ results: { agent_id: string }[] }>([
      "agents",
      "search",
      "echo",
      "--tag",
      "oracle",
      "--max-price",
      "0.05",
      "--sort",
      "price_asc",
    ]);
    expect(found.results.map((agent) => agent.agent_id)).toEqual([state.agentOk]);
    expect(
      (await mercatoJson<{ results: unknown[] }>(["agents", "search", "--max-price", "0.001"])).results,
    ).toEqual([]);
    expect(await mercatoHuman(["agents", "search", "--max-price", "0.001"])).toBe("No agents match.\n");
    await expectFailure(["agents", "search", "--sort", "sideways"], 2, "USAGE");

    const shown = await mercatoHuman(["agents", "show", state.agentOk]);
    expect(shown).toContain("Echo Oracle");
    expect(shown).toMatch(/price\s+\$0\.02 per call/);
    expect(shown).toMatch(/endpoint\s+http:\/\/127\.0\.0\.1:\d+\/ok/);
    expect(shown).toMatch(/success rate\s+new\n/);
    expect(shown).toMatch(/avg response\s+new\n/);
    expect(shown).toMatch(/calls\s+0 \(new: no evidence yet\)/);
    // A listing registered without schemas says so.
    expect(shown).toMatch(/\nInput\n {2}none declared\n\nOutput\n {2}none declared\n$/);
    expect(await mercatoJson(["agents", "show", state.agentOk])).toMatchObject({
      id: state.agentOk,
      pricing: { price_per_call: 0.02 },
    });
    await expectFailure(["agents", "show", "agent_doesnotexist"], 1, "AGENT_NOT_FOUND");
  });

  it("agents register --from-kit: the schemas of a running seller kit; show prints them as fields", async () => {
    const kit: SellerKit = sellerKit({
      broker: brokerUrl,
      owner: state.sellerAccount,
      input: z.object({
        text: z.string().min(1).describe("The article to summarize"),
        max_words: z.number().int().positive().default(60).describe("The summary's length, at most"),
      }),
      output: z.object({
        summary: z.string().min(1).describe("The summary, in one paragraph"),
        words: z.number().int().positive(),
      }),
      handler: ({ text }) => ({ summary: text.split(".")[0] ?? text, words: 1 }),
    });
    kitServer = createServer(kit.node);
    await new Promise<void>((resolve) => kitServer?.listen(0, "127.0.0.1", resolve));
    const kitUrl = `http://127.0.0.1:${(kitServer.address() as AddressInfo).port}/summarize`;
    // No api_endpoint in the file: the kit's endpoint is the listing's.
    await writeFile(
      join(dir, "summarizer.json"),
      JSON.stringify({
        name: "Kit Summarizer",
        description: "Summarizes an article in one paragraph",
        category: "news",
        tags: ["news", "summary"],
        pricing: { model: "per_call", price_per_call: 0.015 },
      }),
    );
    const human = await mercatoHuman(
      ["agents", "register", "--file", "summarizer.json", "--from-kit", kitUrl],
      {
        persona: SELLER,
      },
    );
    expect(human).toContain("Input and output schemas taken from the seller kit.");
    const agentId = human.match(/Registered (agent_\w+)/)?.[1] ?? "";
    expect(agentId).not.toBe("");

    // --json stays the broker's answer, raw: the schemas exactly as the kit derived them.
    const detail = await mercatoJson(["agents", "show", agentId]);
    expect(detail).toMatchObject({ api_endpoint: kitUrl, ...kit.contract });
    expect(kit.contract.input_schema).toMatchObject({ required: ["text"] });

    const shown = await mercatoHuman(["agents", "show", agentId]);
    expect(shown).not.toContain("{");
    const section = (title: string, next?: string) =>
      shown
        .slice(
          shown.indexOf(`\n${title}\n`) + title.length + 2,
          next ? shown.indexOf(`\n${next}\n`) : undefined,
        )
        .trimEnd()
        .split("\n")
        .map((line) => line.trim().split(/\s{2,}/));
    expect(section("Input", "Output")).toEqual([
      ["FIELD", "TYPE", "REQUIRED", "DESCRIPTION"],
      ["text", "string (≥ 1 chars)", "yes", "The article to summarize"],
      ["max_words", "integer (> 0)", "no", "The summary's length, at most; default 60"],
    ]);
    expect(section("Output")).toEqual([
      ["FIELD", "TYPE", "REQUIRED", "DESCRIPTION"],
      ["summary", "string (≥ 1 chars)", "yes", "The summary, in one paragraph"],
      ["words", "integer (> 0)", "yes"],
    ]);
    expect(shown).toMatch(/success rate\s+new\n/);
    const table = await mercatoHuman(["agents", "search", "--category", "news"]);
    expect(table).toMatch(/Kit Summarizer\s+news\s+\$0\.015\s+new\s+new\s/);
    // Off the market again: the later tests search a market of the two listings they made.
    expect(await mercatoJson(["agents", "deactivate", agentId], { persona: SELLER })).toMatchObject({
      status: "inactive",
    });

    // Schemas come from one place; a plain endpoint serves no contract; a URL must be http(s).
    await writeFile(
      join(dir, "with-schema.json"),
      JSON.stringify({
        ...JSON.parse(await readFile(join(dir, "summarizer.json"), "utf8")),
        input_schema: {},
      }),
    );
    await expectFailure(
      ["agents", "register", "--file", "with-schema.json", "--from-kit", kitUrl],
      2,
      "USAGE",
      {
        persona: SELLER,
      },
    );
    const plain = await expectFailure(
      ["agents", "register", "--file", "summarizer.json", "--from-kit", `${sellerUrl}/ok`],
      1,
      "SELLER_ERROR",
      { persona: SELLER },
    );
    expect(plain.human.stderr).toContain(
      "/ok/.well-known/mercato-contract answered HTTP 200 without a contract",
    );
    await expectFailure(
      ["agents", "register", "--file", "summarizer.json", "--from-kit", "ftp://kit"],
      2,
      "USAGE",
      {
        persona: SELLER,
      },
    );
    await expectFailure(
      [
        "agents",
        "register",
        "--file",
        "summarizer.json",
        "--from-kit",
        `http://127.0.0.1:${await freedPort()}`,
      ],
      1,
      "SELLER_UNAVAILABLE",
      { persona: SELLER },
    );
  });

  it("agents update: a new price from a flag, a status from a patch file; only the owner", async () => {
    expect(
      await mercatoHuman(["agents", "update", state.agentOk, "--price", "0.025"], { persona: SELLER }),
    ).toContain("$0.025 per call");
    await writeFile(
      join(dir, "patch.json"),
      JSON.stringify({ description: "Echoes its input, very reliably" }),
    );
    const updated = await mercatoJson(
      ["agents", "update", state.agentOk, "--file", "patch.json", "--price", "0.02"],
      {
        persona: SELLER,
      },
    );
    expect(updated).toMatchObject({
      description: "Echoes its input, very reliably",
      pricing: { price_per_call: 0.02 },
    });
    await expectFailure(["agents", "update", state.agentOk], 2, "USAGE", { persona: SELLER });
    await expectFailure(["agents", "update", state.agentOk, "--price", "0.5"], 1, "FORBIDDEN", {
      persona: BUYER,
    });
  });

  it("topup: credits at once on a dev broker; too small is refused and changes nothing", async () => {
    const human = await mercatoHuman(["topup", "25"], { persona: BUYER });
    expect(human).toContain("Credited $25.00");
    expect(human).toContain("Available: $25.00");
    const json = await mercatoJson(["topup", "10.50"], { persona: BUYER });
    expect(json).toMatchObject({ amount_usd: "10.500000", status: "succeeded", available_usd: "35.500000" });
    await expectFailure(["topup", "5"], 1, "TOPUP_TOO_SMALL", { persona: BUYER });
    await expectFailure(["topup", "lots"], 2, "USAGE", { persona: BUYER });
    expect(await mercatoJson(["balance"], { persona: BUYER })).toMatchObject({ available_usd: "35.500000" });
  });

  it("balance: the wallet in USD", async () => {
    const human = await mercatoHuman(["balance"], { persona: BUYER });
    expect(human).toMatch(/available\s+\$35\.50\n/);
    expect(human).toMatch(/held\s+\$0\.00\n/);
    expect(human).toMatch(/monthly cap\s+none/);
  });

  it("purchase: prints the access key once and keeps it for invoke", async () => {
    const human = await mercatoHuman(["purchase", state.agentOk, "--name", "echo"], { persona: BUYER });
    expect(human).toContain("Bought access");
    const accessKey = human.match(/\b(sk_test_[A-Za-z0-9_-]+)/)?.[1];
    const config = JSON.parse(await readFile(join(dir, BUYER, "config.json"), "utf8"));
    expect(config.access_keys[state.agentOk]).toBe(accessKey);

    const json = await mercatoJson(["purchase", state.agentFail, "--spend-cap", "1", "--rate-limit", "60"], {
      persona: BUYER,
    });
    expect(json).toMatchObject({ agent_id: state.agentFail, saved_to_config: true, key: { rate_limit: 60 } });
    await expectFailure(["purchase", "agent_doesnotexist"], 1, "AGENT_NOT_FOUND", { persona: BUYER });
    await expectFailure(["purchase", state.agentOk, "--spend-cap", "-1"], 2, "USAGE", { persona: BUYER });
  });

  it("invoke: the output on stdout and the charge on stderr; --json, @file and stdin; failures are free", async () => {
    const before = sellerCalls;
    const human = await mercato(["invoke", state.agentOk, "--input", '{"symbol":"BTC"}'], { persona: BUYER });
    expect(human.status).toBe(0);
    expect(JSON.parse(human.stdout)).toEqual({ echo: { symbol: "BTC" } });
    expect(human.stderr).toMatch(
      /^Paid \$0\.02 · txn_\w+ · \d+ ms · receipt: mercato receipts verify txn_\w+\n$/,
    );

    const json = await mercatoJson<{ output: unknown; cost_usd: string; transaction_id: string }>(
      ["invoke", state.agentOk, "--input", "-", "--idempotency-key", "cli-once"],
      { persona: BUYER, input: '{"symbol":"ETH"}' },
    );
    expect(json).toMatchObject({ output: { echo: { symbol: "ETH" } }, cost_usd: "0.020000" });
    state.transaction = json.transaction_id;
    // The same idempotency key again: the first answer, not a second charge.
    const again = await mercatoJson<{ transaction_id: string }>(
      ["invoke", state.agentOk, "--input", '{"symbol":"ETH"}', "--idempotency-key", "cli-once"],
      { persona: BUYER },
    );
    expect(again.transaction_id).toBe(state.transaction);

    await writeFile(join(dir, "input.json"), '{"symbol":"SOL"}');
    expect(
      JSON.parse(await mercatoHuman(["invoke", state.agentOk, "--input", "@input.json"], { persona: BUYER })),
    ).toEqual({
      echo: { symbol: "SOL" },
    });
    expect(sellerCalls - before).toBe(3);

    const failed = await expectFailure(["invoke", state.agentFail, "--input", "{}"], 1, "SELLER_ERROR", {
      persona: BUYER,
    });
    expect(failed.human.stderr).toContain("not charged");
    await expectFailure(["invoke", state.agentOk, "--input", "{not json"], 2, "USAGE", { persona: BUYER });
    await expectFailure(["invoke", state.agentOk, "--input", "@nope.json"], 2, "USAGE", { persona: BUYER });

    // Three successful calls at 0.02 each; the failures cost nothing.
    expect(await mercatoJson(["balance"], { persona: BUYER })).toMatchObject({
      available_usd: formatUsd(parseUsd("35.5") - 3n * parseUsd("0.02")),
      held_usd: "0.000000",
    });
  });

  it("mcp: serves the marketplace to an MCP client over stdio, spending from the logged-in account within the policy", async () => {
    const client = new Client({ name: "cli-e2e", version: "1.0.0" });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, "mcp", "--max-price", "0.001"],
        env: {
          PATH: process.env.PATH ?? "",
          HOME: dir,
          MERCATO_CONFIG_DIR: join(dir, BUYER),
          MERCATO_URL: brokerUrl,
        },
        stderr: "pipe",
      }),
    );
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain("call_agent");
      const balance = (await client.callTool({ name: "get_balance", arguments: {} })) as CallToolResult;
      const cli = await mercatoJson<{ available_usd: string }>(["balance"], { persona: BUYER });
      expect(balance.structuredContent).toMatchObject({ available_usd: cli.available_usd });
      // The agent costs more than the policy's --max-price: refused, and the wallet is untouched.
      const refused = (await client.callTool({
        name: "call_agent",
        arguments: { agent_id: state.agentOk, input: { text: "hi" } },
      })) as CallToolResult;
      expect(refused.isError).toBe(true);
      expect(JSON.stringify(refused.content)).toContain("max_price");
      expect(JSON.stringify(refused.content)).not.toMatch(/mk_|sk_test_/);
      expect(await mercatoJson<{ available_usd: string }>(["balance"], { persona: BUYER })).toMatchObject({
        available_usd: cli.available_usd,
      });
    } finally {
      await client.close();
    }
  });

  it("transactions: charges newest first, as buyer and as seller", async () => {
    const human = await mercatoHuman(["transactions"], { persona: BUYER });
    const rows = human.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^TRANSACTION\s+TIME\s+AGENT\s+ROLE\s+STATUS\s+AMOUNT\s+FEE\s+SELLER GETS$/);
    expect(rows.filter((row) => row.includes(" charged "))).toHaveLength(3);
    expect(rows.filter((row) => row.includes(" voided "))).toHaveLength(2);
    expect(rows.find((row) => row.includes(" charged "))).toMatch(
      /paid\s+charged\s+\$0\.02\s+\$0\.002\s+\$0\.018$/,
    );

    const limited = await mercatoJson<{ data: { id: string }[] }>(["transactions", "--limit", "2"], {
      persona: BUYER,
    });
    expect(limited.data).toHaveLength(2);
    const earned = await mercatoJson<{ data: { status: string; seller_share_usd: string }[] }>(
      ["transactions", "--role", "seller"],
      { persona: SELLER },
    );
    const captured = earned.data.filter((charge) => charge.status === "completed");
    expect(captured).toHaveLength(3);
    expect(captured.every((charge) => charge.seller_share_usd === "0.018000")).toBe(true);
    expect(await mercatoHuman(["transactions", "--role", "buyer"], { persona: SELLER })).toBe(
      "No transactions yet.\n",
    );
    await expectFailure(["transactions", "--role", "thief"], 2, "USAGE", { persona: BUYER });
  });

  it("receipts verify: checks the broker's signature offline", async () => {
    const human = await mercatoHuman(["receipts", "verify", state.transaction], { persona: BUYER });
    expect(human).toMatch(/^✓ Valid receipt: signed by .+ \(key [\w-]+\)\./);
    expect(human).toMatch(/amount\s+\$0\.02 \(fee \$0\.002, seller \$0\.018\)/);
    const json = await mercatoJson(["receipts", "verify", state.transaction], { persona: BUYER });
    expect(json).toMatchObject({
      valid: true,
      payload: { transaction_id: state.transaction, amount_usd: "0.020000", buyer_id: state.buyerAccount },
    });
    await expectFailure(["receipts", "verify", "txn_doesnotexist"], 1, "NOT_FOUND", { persona: BUYER });
  });

  it("settlements: none before the nightly run, the seller's earnings after it", async () => {
    expect(await mercatoHuman(["settlements"], { persona: SELLER })).toContain("No settlements yet");
    expect(await mercatoJson(["settlements"], { persona: SELLER })).toEqual({ data: [] });
    await admin("/admin/settlements/run", "POST");
    const table = await mercatoHuman(["settlements"], { persona: SELLER });
    expect(table).toMatch(/^SETTLEMENT\s+DATE\s+AMOUNT\s+STATUS\s+PAID\s+REFERENCE\n/);
    expect(table).toMatch(/\$0\.054/);
    const json = await mercatoJson<{ data: { amount_usd: string; account_id: string }[] }>(["settlements"], {
      persona: SELLER,
    });
    expect(json.data).toHaveLength(1);
    expect(json.data[0]).toMatchObject({ amount_usd: "0.054000", account_id: state.sellerAccount });
  });

  it("keys: list, create, rotate the logged-in key (the config follows), revoke, reinstate", async () => {
    const listed = await mercatoHuman(["keys", "list"], { persona: BUYER });
    expect(listed).toMatch(
      /^KEY\s+KIND\s+NAME\s+PREFIX\s+AGENT\s+STATUS\s+SPENT\s+CAP\s+CREATED\s+EXPIRES\n/,
    );
    expect(listed.match(/ access /g)).toHaveLength(2);
    expect(listed).toMatch(/access\s+echo\s+sk_test_\S+…\s+agent_\w+\s+active\s+\$0\.06/);

    const created = await mercatoHuman(["keys", "create", "--name", "ci"], { persona: BUYER });
    const ciKey = created.match(/\b(mk_[A-Za-z0-9_-]+)/)?.[1] ?? "";
    expect(ciKey).not.toBe("");
    const second = await mercatoJson<{ key_id: string; api_key: string }>(
      ["keys", "create", "--name", "temp", "--expires", "2099-01-01"],
      { persona: BUYER },
    );
    expect(second).toMatchObject({ kind: "account", expires_at: "2099-01-01T00:00:00.000Z" });

    const keys = await mercatoJson<{ data: { key_id: string; kind: string; prefix: string }[] }>(
      ["keys", "list"],
      {
        persona: BUYER,
      },
    );
    const loggedIn = keys.data.find((key) => key.kind === "account" && state.buyerKey.startsWith(key.prefix));
    const rotated = await mercatoJson<{ api_key: string; saved_to_config: boolean }>(
      ["keys", "rotate", loggedIn?.key_id ?? ""],
      { persona: BUYER },
    );
    expect(rotated.saved_to_config).toBe(true);
    const config = JSON.parse(await readFile(join(dir, BUYER, "config.json"), "utf8"));
    expect(config.api_key).toBe(rotated.api_key);
    // The old key is dead; the CLI goes on working with the new one.
    await expectFailure(["balance"], 1, "INVALID_API_KEY", {
      persona: BUYER,
      env: { MERCATO_API_KEY: state.buyerKey },
    });
    expect(await mercatoHuman(["balance"], { persona: BUYER })).toContain("available");
    state.buyerKey = rotated.api_key;

    const humanRotate = await mercatoHuman(["keys", "rotate", second.key_id], { persona: BUYER });
    expect(humanRotate).toContain(`Rotated ${second.key_id}`);
    expect(humanRotate).toMatch(/\bmk_[A-Za-z0-9_-]+/);

    const ciId = (
      await mercatoJson<{ data: { key_id: string; name: string | null; revoked_at: string | null }[] }>(
        ["keys", "list"],
        { persona: BUYER },
      )
    ).data.find((key) => key.name === "ci" && key.revoked_at === null)?.key_id;
    expect(await mercatoHuman(["keys", "revoke", ciId ?? ""], { persona: BUYER })).toContain(
      `Revoked ${ciId}`,
    );
    await expectFailure(["account", "show"], 1, "INVALID_API_KEY", {
      persona: BUYER,
      env: { MERCATO_API_KEY: ciKey },
    });
    await expectFailure(["keys", "revoke", "key_doesnotexist"], 1, "NOT_FOUND", { persona: BUYER });

    // Revoking a bought access key drops it from the config, so invoke buys a new one.
    const accessId = (
      await mercatoJson<{ data: { key_id: string; agent_id: string | null; revoked_at: string | null }[] }>(
        ["keys", "list"],
        { persona: BUYER },
      )
    ).data.find((key) => key.agent_id === state.agentOk && key.revoked_at === null)?.key_id;
    expect(await mercatoJson(["keys", "revoke", accessId ?? ""], { persona: BUYER })).toMatchObject({
      key_id: accessId,
    });
    const afterRevoke = JSON.parse(await readFile(join(dir, BUYER, "config.json"), "utf8"));
    expect(afterRevoke.access_keys[state.agentOk]).toBeUndefined();
    expect(await mercatoJson(["invoke", state.agentOk, "--input", "1"], { persona: BUYER })).toMatchObject({
      output: { echo: 1 },
    });

    await expectFailure(["keys", "reinstate", accessId ?? ""], 1, "CONFLICT", { persona: BUYER });
  });

  it("agents deactivate: off the marketplace, and invoke says so", async () => {
    expect(await mercatoHuman(["agents", "deactivate", state.agentFail], { persona: SELLER })).toContain(
      "no longer listed",
    );
    expect(await mercatoJson(["agents", "deactivate", state.agentOk], { persona: SELLER })).toEqual({
      agent_id: state.agentOk,
      status: "inactive",
    });
    expect((await mercatoJson<{ results: unknown[] }>(["agents", "search"])).results).toEqual([]);
    await expectFailure(["invoke", state.agentOk, "--input", "{}"], 1, "AGENT_INACTIVE", { persona: BUYER });
  });

  it("colours only when asked on a non-terminal (FORCE_COLOR), never with NO_COLOR or --no-color", async () => {
    const forced = await mercato(["balance"], { persona: BUYER, env: { FORCE_COLOR: "1" } });
    expect(forced.stdout).toContain(`${ESC}1m$`);
    const noColor = await mercato(["balance"], { persona: BUYER, env: { FORCE_COLOR: "1", NO_COLOR: "1" } });
    expect(noColor.stdout).not.toContain(ESC);
    const flag = await mercato(["balance", "--no-color"], { persona: BUYER, env: { FORCE_COLOR: "1" } });
    expect(flag.stdout).not.toContain(ESC);
  });

  it("logout: forgets the key; the next command is not logged in", async () => {
    expect(await mercatoHuman(["logout"], { persona: BUYER })).toContain("Logged out");
    await expectFailure(["balance"], 1, "UNAUTHENTICATED", { persona: BUYER });
    expect(await mercatoJson(["logout"], { persona: BUYER })).toMatchObject({ logged_out: false });
  });

  it("leaves the ledger balanced: the audit holds after everything above", async () => {
    const audit = await admin("/admin/audit");
    expect(audit.ok).toBe(true);
    expect(audit.violations).toEqual([]);
  });
});
