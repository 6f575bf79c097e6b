// A closed-loop HTTP load generator with exact latencies (autocannon reports whole milliseconds,
// too coarse for a proxy that should add well under one): `connections` loops each send a
// request, wait for the whole answer, and send the next, until the time is up.
import { Pool } from "undici";

/**
 * @param {{ origin: string, connections: number, durationMs: number,
 *   request: () => { path: string, headers: Record<string, string>, body: string } }} options
 */
export async function runLoad({ origin, connections, durationMs, request }) {
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const latencies = [];
  const statuses = new Map();
  let failures = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const loop = async () => {
    while (performance.now() < deadline) {
      const { path, headers, body } = request();
      const t0 = performance.now();
      try {
        const response = await pool.request({ method: "POST", path, headers, body });
        await response.body.text();
        latencies.push(performance.now() - t0);
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
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
