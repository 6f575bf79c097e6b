// A closed-loop load generator with exact latencies (autocannon reports whole milliseconds, too
// coarse for a proxy that should add well under one): `connections` loops each make a call, wait
// for the whole answer, and make the next, until the time is up.
import { Pool } from "undici";

/**
 * Runs `call(connection)` in `connections` closed loops for `durationMs`. A call resolves with the
 * HTTP status it got; a throw counts as a failure.
 *
 * @param {{ connections: number, durationMs: number, call: (connection: number) => Promise<number> }} options
 */
export async function runLoops({ connections, durationMs, call }) {
  const latencies = [];
  const statuses = new Map();
  let failures = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const loop = async (connection) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const status = await call(connection);
        latencies.push(performance.now() - t0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, connection) => loop(connection)));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return {
    requests: latencies.length,
    failures,
    statuses: Object.fromEntries(statuses),
    rps: latencies.length / elapsed,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    mean: latencies.reduce((a, b) => a + b, 0) / latencies.length,
  };
}

/**
 * HTTP POSTs to `origin` in closed loops over one keep-alive connection each.
 *
 * @param {{ origin: string, connections: number, durationMs: number,
 *   request: (connection: number) => { path: string, headers: Record<string, string>, body: string } }} options
 *   `request` is told which of the `connections` loops asks (0 … connections − 1).
 */
export async function runLoad({ origin, connections, durationMs, request }) {
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  try {
    return await runLoops({
      connections,
      durationMs,
      async call(connection) {
        const { path, headers, body } = request(connection);
        const response = await pool.request({ method: "POST", path, headers, body });
        await response.body.text();
        return response.statusCode;
      },
    });
  } finally {
    await pool.close();
  }
}

/**
 * A warm-up second, then the measured run; throws when any call failed or answered other than
 * 200, and prints throughput and latency percentiles under `label`.
 *
 * @param {string} label
 * @param {(durationMs: number) => ReturnType<typeof runLoops>} run
 * @param {number} seconds
 */
export async function measure(label, run, seconds) {
  await run(1000);
  const result = await run(seconds * 1000);
  const bad =
    result.failures +
    Object.entries(result.statuses)
      .filter(([status]) => status !== "200")
      .reduce((sum, [, count]) => sum + count, 0);
  if (bad > 0) throw new Error(`${label}: ${bad} failed calls ${JSON.stringify(result.statuses)}`);
  const ms = (value) => `${value.toFixed(2)} ms`;
  console.log(
    `${label.padEnd(40)} ${result.rps.toFixed(0).padStart(7)} calls/s   p50 ${ms(result.p50)}   p90 ${ms(result.p90)}   p99 ${ms(result.p99)}`,
  );
  return result;
}
