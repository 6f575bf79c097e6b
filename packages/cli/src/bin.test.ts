// The built `mercato` binary as a shell runs it: exit statuses, and exactly what reaches standard
// error when there is no broker, no reader or no free port.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseConfig, type RunningBroker, startBroker } from "@mercato/broker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mercato-bin-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Runs `mercato args…` to its end. With `closedStdout`, the reading end of its standard output is
 * closed before the process has started, as `| head` does once it has read enough: every write to
 * standard output then fails with EPIPE.
 */
function mercato(args: string[], options: { closedStdout?: boolean; env?: Record<string, string> } = {}) {
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: dir,
        MERCATO_CONFIG_DIR: join(dir, "config"),
        LOG_LEVEL: "silent",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    if (options.closedStdout) child.stdout.destroy();
    else
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
      });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

describe("mercato, run bare or as a command group", () => {
  it("prints the help on standard output and exits 0, with nothing on standard error", async () => {
    const bare = await mercato([]);
    expect(bare.stderr).toBe("");
    expect(bare.status).toBe(0);
    expect(bare.stdout).toMatch(/^Usage: mercato \[options\] \[command\]\n/);
    expect(bare.stdout).toContain("$ mercato broker start --dev");
  });

  it("does the same for a group without its subcommand (`mercato keys`)", async () => {
    const keys = await mercato(["keys"]);
    expect(keys.stderr).toBe("");
    expect(keys.status).toBe(0);
    expect(keys.stdout).toMatch(/^Usage: mercato keys \[options\] \[command\]\n/);
  });
});

describe("mercato, writing to a closed pipe (`mercato … | head -2`)", () => {
  it("ends quietly: status 0 and nothing on standard error", async () => {
    for (const args of [["settlements", "--help"], [], ["--version"]]) {
      const run = await mercato(args, { closedStdout: true });
      expect(run.stderr, args.join(" ")).toBe("");
      expect(run.status, args.join(" ")).toBe(0);
    }
  });
});

describe("mercato broker start, on a port already in use", () => {
  let taken: Server;
  let port: number;

  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    port = (taken.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => taken.close(resolve));
  });

  it("prints one line naming the port and suggesting --port, and exits 1", async () => {
    const run = await mercato(["broker", "start", "--port", String(port), "--db", join(dir, "taken.db")]);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `mercato: cannot listen: port ${port} on 127.0.0.1 is already in use (EADDRINUSE); stop what uses it, or pass another --port (--port 0 picks a free one)\n`,
    );
    expect(run.status).toBe(1);
  });

  it("says the same in one JSON line with --json", async () => {
    const run = await mercato([
      "broker",
      "start",
      "--port",
      String(port),
      "--db",
      join(dir, "j.db"),
      "--json",
    ]);
    expect(run.stdout).toBe("");
    expect(run.stderr.split("\n")).toHaveLength(2);
    expect(JSON.parse(run.stderr)).toEqual({
      error: {
        code: "USAGE",
        message: `cannot listen: port ${port} on 127.0.0.1 is already in use (EADDRINUSE); stop what uses it, or pass another --port (--port 0 picks a free one)`,
      },
    });
    expect(run.status).toBe(1);
  });
});

describe("mercato's hint on SERVICE_UNAVAILABLE", () => {
  let broker: RunningBroker;
  const key: { value: string } = { value: "" };

  beforeAll(async () => {
    // Not in dev mode and without Stripe: a broker where top-ups are off.
    broker = await startBroker(
      parseConfig(["--port", "0", "--db", join(dir, "production.db"), "--log-level", "silent"], {}),
    );
    const created = await fetch(`${broker.url}/accounts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Newcomer" }),
    });
    key.value = ((await created.json()) as { api_key: string }).api_key;
  });

  afterAll(async () => {
    await broker.close();
  });

  it("a broker that answers 503 is running: the hint says top-ups are off there, and how to get test money", async () => {
    const run = await mercato(["topup", "25"], {
      env: { MERCATO_URL: broker.url, MERCATO_API_KEY: key.value },
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    const [error, hint, ...rest] = run.stderr.split("\n");
    expect(error).toMatch(/^mercato: SERVICE_UNAVAILABLE: Top-ups are off on this broker/);
    expect(hint).toBe(
      "Top-ups are off on this broker (no payment provider). For free test money, use a broker started in dev mode: `mercato broker start --dev`, or `npm start -- --dev` in the repository.",
    );
    expect(rest).toEqual([""]);
    expect(run.stderr).not.toContain("Is the broker running?");
  });

  it("no answer at all is a broker that is not running: the hint says so", async () => {
    // A port just freed: nothing listens there (a low one like 9 is a fetch "bad port" instead).
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(closed.address() as { port: number }).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const run = await mercato(["topup", "25"], { env: { MERCATO_URL: url, MERCATO_API_KEY: key.value } });
    expect(run.status).toBe(1);
    expect(run.stderr.startsWith(`mercato: SERVICE_UNAVAILABLE: Could not reach the broker at ${url}`)).toBe(
      true,
    );
    expect(run.stderr).toMatch(
      /\nIs the broker running\? Start one with `mercato broker start --dev`, or pass --url\.\n$/,
    );
  });
});
