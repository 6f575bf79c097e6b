import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommanderError } from "commander";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UsageError } from "./errors.js";
import { createProgram } from "./program.js";
import { EXIT_USAGE, runCli } from "./run.js";
import { CLI_VERSION } from "./version.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mercato-cli-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Captured output and a stop switch for long-running commands. */
function harness() {
  const out: string[] = [];
  const err: string[] = [];
  let stop: (reason: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => {
    stop = resolve;
  });
  return {
    out,
    err,
    stop: (reason = "test") => stop(reason),
    options: {
      stdout: (text: string) => void out.push(text),
      stderr: (text: string) => void err.push(text),
      env: { LOG_LEVEL: "silent" },
      stdoutIsTTY: false,
      stderrIsTTY: false,
      cwd: dir,
      untilStopped: () => stopped,
    },
  };
}

/** Resolves when `read()` returns something, polling briefly. */
async function eventually<T>(read: () => T | undefined): Promise<T> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const value = read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("timed out waiting");
}

describe("mercato broker start", () => {
  it("starts a real broker that answers /healthz, and stops it", async () => {
    const io = harness();
    const program = createProgram(io.options);
    program.exitOverride();
    const dbPath = join(dir, "x.db");
    const running = program.parseAsync(["broker", "start", "--port", "0", "--dev", "--db", dbPath], {
      from: "user",
    });

    const url = await eventually(() => io.out.join("").match(/listening on (http:\/\/\S+)/)?.[1]);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(io.out.join("")).toContain("(dev mode)");
    expect(io.out.join("")).not.toContain("Production mode");
    expect(io.out.join("")).toContain(`database  ${dbPath}`);
    const response = await fetch(`${url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok" });
    expect((await stat(dbPath)).isFile()).toBe(true);

    io.stop();
    await running;
    expect(io.out.join("")).toContain("Mercato broker stopped.");
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    expect(io.err).toEqual([]);
  });

  it("prints one JSON line per event with --json", async () => {
    const io = harness();
    const running = createProgram(io.options).parseAsync(
      ["broker", "start", "--port", "0", "--dev", "--db", join(dir, "j.db"), "--json"],
      { from: "user" },
    );
    const line = await eventually(() => io.out.find((text) => text.includes('"listening"')));
    const event = JSON.parse(line);
    expect(event).toMatchObject({ event: "listening", dev: true, database: join(dir, "j.db") });
    expect((await fetch(`${event.url}/healthz`)).status).toBe(200);
    io.stop("SIGTERM");
    await running;
    expect(JSON.parse(io.out.at(-1) ?? "")).toEqual({ event: "stopped", reason: "SIGTERM" });
  });

  it("runs on PostgreSQL and Redis with --postgres and --redis, printing the URLs without the password", async () => {
    const admin = process.env.MERCATO_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
    const database = `mercato_cli_${process.pid}`;
    const url = new URL(admin);
    url.pathname = `/${database}`;
    url.password = "not-shown";
    const { Client } = (await import("pg")).default;
    const sql = async (text: string) => {
      const client = new Client({ connectionString: admin });
      await client.connect();
      await client.query(text).finally(() => client.end());
    };
    await sql(`CREATE DATABASE ${database}`);
    try {
      const io = harness();
      const running = createProgram(io.options).parseAsync(
        ["broker", "start", "--port", "0", "--postgres", url.toString(), "--redis", "redis://127.0.0.1:6379"],
        { from: "user" },
      );
      const listening = await eventually(() => io.out.join("").match(/listening on (http:\/\/\S+)/)?.[1]);
      const printed = io.out.join("");
      expect(printed).toContain(`database  postgres://postgres:***@${url.host}/${database}`);
      expect(printed).not.toContain("not-shown");
      expect(printed).toContain("redis     redis://127.0.0.1:6379");
      const signedUp = await fetch(`${listening}/accounts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "On PostgreSQL" }),
      });
      expect(signedUp.status).toBe(201);
      io.stop();
      await running;
    } finally {
      await sql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
  });

  it("takes its settings from the environment when no flag is given", async () => {
    const io = harness();
    const options = { ...io.options, env: { PORT: "0", MERCATO_DB: "env.db", LOG_LEVEL: "silent" } };
    const running = createProgram(options).parseAsync(["broker", "start"], { from: "user" });
    await eventually(() => (io.out.join("").includes("listening on") ? true : undefined));
    expect(io.out.join("")).toContain(`database  ${join(dir, "env.db")}`);
    expect(io.out.join("")).not.toContain("dev mode");
    io.stop();
    await running;
  });

  it("tells a newcomer outside dev mode that top-ups are off and sellers must be https, and how to start in dev mode", async () => {
    const io = harness();
    const running = createProgram(io.options).parseAsync(
      ["broker", "start", "--port", "0", "--db", join(dir, "production.db")],
      { from: "user" },
    );
    await eventually(() => (io.out.join("").includes("Press Ctrl-C") ? true : undefined));
    expect(io.out.join("")).toContain(
      "Production mode: top-ups answer 503 (no Stripe keys) and seller endpoints must be public https.\n" +
        "  To try Mercato on this machine, start it with --dev: mercato broker start --dev\n",
    );
    io.stop();
    await running;
  });

  it("rejects a bad --port with a UsageError carrying the broker's message", async () => {
    const program = createProgram(harness().options);
    program.exitOverride();
    const parsing = program.parseAsync(["broker", "start", "--port", "abc"], { from: "user" });
    await expect(parsing).rejects.toThrow(UsageError);
    await expect(parsing).rejects.toThrow('--port must be a port number from 0 to 65535, got "abc"');
  });

  it("prints a bad flag as `mercato: <message>` with exit status 2 and no stack", async () => {
    const io = harness();
    const status = await runCli(["broker", "start", "--port", "abc"], io.options);
    expect(status).toBe(EXIT_USAGE);
    expect(io.err.join("")).toBe('mercato: --port must be a port number from 0 to 65535, got "abc"\n');
    expect(io.out).toEqual([]);
  });

  it("reports a port in use as `mercato: cannot listen`", async () => {
    const first = harness();
    const running = runCli(["broker", "start", "--port", "0", "--db", join(dir, "a.db")], first.options);
    const url = await eventually(() => first.out.join("").match(/listening on (http:\/\/\S+)/)?.[1]);
    const port = new URL(url).port;
    const second = harness();
    const status = await runCli(
      ["broker", "start", "--port", port, "--db", join(dir, "b.db")],
      second.options,
    );
    expect(status).toBe(1);
    expect(second.err.join("")).toMatch(/^mercato: cannot listen: .*EADDRINUSE/);
    first.stop();
    expect(await running).toBe(0);
  });

  it("has a help text with every option and an example", async () => {
    const io = harness();
    expect(await runCli(["broker", "start", "--help"], io.options)).toBe(0);
    const help = io.out.join("");
    for (const flag of [
      "--port <n>",
      "--host <addr>",
      "--db <path>",
      "--postgres <url>",
      "--redis <url>",
      "--dev",
      "--admin-token <token>",
      "--log-level <level>",
    ]) {
      expect(help).toContain(flag);
    }
    expect(help).toContain("$ mercato broker start --dev");
  });
});

describe("mercato", () => {
  it("prints the package version with --version", async () => {
    const io = harness();
    const program = createProgram(io.options);
    program.exitOverride();
    await expect(program.parseAsync(["--version"], { from: "user" })).rejects.toBeInstanceOf(CommanderError);
    expect(io.out.join("")).toBe(`${CLI_VERSION}\n`);
    const manifest = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
    expect(CLI_VERSION).toBe(manifest.version);
  });

  it("has a help text with its commands and an example", async () => {
    const io = harness();
    expect(await runCli(["--help"], io.options)).toBe(0);
    const help = io.out.join("");
    expect(help).toContain("Usage: mercato");
    expect(help).toContain("broker");
    expect(help).toContain("$ mercato broker start --dev");
  });

  it("fails on an unknown option with exit status 2, without exiting the process", async () => {
    const io = harness();
    expect(await runCli(["broker", "start", "--nope"], io.options)).toBe(EXIT_USAGE);
    expect(io.err.join("")).toContain("unknown option '--nope'");
  });
});
