// What the benchmarks share: child processes that print their URL, the broker's HTTP API, and
// stopping everything at the end.
import { spawn } from "node:child_process";

/** Every child started, stopped by {@link stopAll}. */
const children = [];

/** Starts a node process and resolves with the first match of `pattern` it prints. */
export function start(args, extraEnv, pattern) {
  return startChild(args, extraEnv, pattern).then(({ match }) => match);
}

/** As {@link start}, also giving the child's pid (to read its memory from /proc). */
export function startChild(args, extraEnv, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...extraEnv },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = pattern.exec(out);
      if (match) resolve({ match: match[1], pid: child.pid });
    });
    child.on("exit", (code) => reject(new Error(`${args.at(-1)} exited with ${code}: ${out}`)));
  });
}

/** One JSON request to a broker; throws on an error answer. */
export async function api(base, method, path, { key, body } = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(key && { authorization: `Bearer ${key}` }),
      ...(body && { "content-type": "application/json" }),
    },
    ...(body && { body: JSON.stringify(body) }),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** Stops every child started so far (SIGTERM) and waits for them. */
export async function stopAll() {
  await Promise.all(
    children.splice(0).map((child) => {
      if (child.exitCode !== null) return undefined;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      return exited;
    }),
  );
}

export const fmt = (ms) => `${ms.toFixed(2)} ms`;

/** A positive integer from the environment (a bench setting), or `fallback`. */
export function positiveEnv(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** The admin token of the benchmarks' brokers. */
export const BENCH_ADMIN = "bench-admin-token-0001";

/**
 * A benchmark broker's flags: any free port, dev mode (local sellers), warnings only, the admin
 * routes for the audit, and limits raised so that nothing a benchmark sends is refused. One key
 * makes thousands of calls a minute here: fraud detection keeps counting, never suspends.
 */
export const BENCH_BROKER_FLAGS = [
  "--port",
  "0",
  "--dev",
  "--log-level",
  "warn",
  "--admin-token",
  BENCH_ADMIN,
  "--rate-limit",
  "10000000",
  "--burst-floor",
  "100000000",
];
