// The demo's child processes: each started with `node` and awaited until it prints its
// `listening on` line, stopped with SIGTERM (SIGKILL when late) together with the demo's temporary
// directory; and the CLI the demo runs: its bin, and `mercato agents show`.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";

/** How long a child process may take to print its `listening on` line. */
const START_TIMEOUT_MS = 60_000;
/** How long a child may take to exit after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 5_000;

/** A child process of the demo. */
export interface Child {
  label: string;
  /** What it printed after `listening on`; empty until then. */
  url: string;
  process: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** Its last lines of output, for a failure message. */
  tail: string[];
}

/** Everything the demo started: its child processes and its temporary directory. */
export class Resources {
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
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
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
export function startChild(
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
export function cliBin(): string {
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
export function showAgent(brokerUrl: string, agentId: string, dir: string): Promise<string> {
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
