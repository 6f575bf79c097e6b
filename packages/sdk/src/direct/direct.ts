import { formatUsd } from "@mercato/protocol/money";
import { decideNext } from "../call/retry-policy.js";
import type { FetchFunction, Requester } from "../client/request.js";
import { createOutputChecks } from "./output-check.js";
import { createUsageReporter } from "./reports.js";
import { createDirectSession } from "./session.js";
import type { DirectResponse, DirectSession, OpenSessionOptions, PooledSession } from "./session-types.js";

/** What direct mode needs from its client. */
export interface DirectDeps {
  request: Requester;
  fetch: FetchFunction;
  timeoutMs: number;
  /** Runs `use` with the agent's access key (the store's, or one bought), forgetting a refused one. */
  withAccessKey<T>(agentId: string, use: (accessKey: string) => Promise<T>): Promise<T>;
}

/** Direct mode of one client: its sessions, the pool `call()` draws on, usage reports, closing. */
export interface Direct {
  openSession(agentId: string, options: OpenSessionOptions): DirectSession;
  /** One call through an idle pooled session on the agent whose grants hold `budgetMicros` (made when none is idle). */
  call(
    agentId: string,
    input: unknown,
    options: { budgetMicros: bigint; timeoutMs?: number; signal?: AbortSignal },
  ): Promise<DirectResponse>;
  /** Closes every open session and sends the usage reports; rejects with the first failure to close. */
  close(): Promise<void>;
}

/** Makes a client's direct mode. */
export function createDirect(deps: DirectDeps): Direct {
  const { request } = deps;
  /** Every session not closed yet, the pool's included. */
  const sessions = new Set<PooledSession>();
  /** Sessions with grants not all closed: while there is one, the client is closed at exit. */
  const live = new Set<PooledSession>();
  /** `call()`'s sessions, by agent and grant budget. */
  const pools = new Map<string, PooledSession[]>();
  const reporter = createUsageReporter((accessKey, reports) =>
    request("post", "/usage/reports", { body: { reports } }, { apiKey: accessKey }),
  );
  const outputChecks = createOutputChecks(request);

  const openSession = (agentId: string, options: OpenSessionOptions): PooledSession => {
    const session = createDirectSession(
      {
        fetch: deps.fetch,
        timeoutMs: deps.timeoutMs,
        openGrant: (body, signal) =>
          deps.withAccessKey(agentId, async (accessKey) => {
            // One Idempotency-Key per grant: when the broker's answer is lost, the retry is answered
            // the grant the first request opened, and the budget is held once.
            const headers = { "idempotency-key": `grant-${globalThis.crypto.randomUUID()}` };
            const post = () => request("post", "/grants", { body }, { apiKey: accessKey, signal, headers });
            for (let attempt = 1; ; attempt++) {
              try {
                return { accessKey, grant: await post() };
              } catch (error) {
                if (signal?.aborted || decideNext({ kind: "request", error, attempt }).action !== "retry")
                  throw error;
              }
            }
          }),
        closeGrant: (grantId, body, accessKey) =>
          request("post", "/grants/{id}/close", { params: { id: grantId }, body }, { apiKey: accessKey }),
        outputCheck: (signal) => outputChecks(agentId, signal),
        report: reporter.add,
        flushReports: reporter.flush,
        onGrant(which) {
          live.add(which);
          closeAtExit(close, true);
        },
        onClosed(which) {
          sessions.delete(which);
          live.delete(which);
          closeAtExit(close, live.size > 0);
        },
      },
      agentId,
      options,
    );
    sessions.add(session);
    return session;
  };

  const close = async (): Promise<void> => {
    const closing = await Promise.allSettled([...sessions].map((session) => session.close()));
    pools.clear();
    await reporter.flush();
    const failed = closing.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  };

  return {
    openSession,
    call(agentId, input, { budgetMicros, ...callOptions }) {
      const key = `${agentId} ${budgetMicros}`;
      const pool = (pools.get(key) ?? []).filter((session) => !session.closed);
      pools.set(key, pool);
      let session = pool.find((candidate) => candidate.pending === 0);
      if (session === undefined) {
        session = openSession(agentId, { budgetUsd: formatUsd(budgetMicros) });
        pool.push(session);
      }
      return session.call(input, callOptions);
    },
    close,
  };
}

/** Clients with open grants, closed when the process is about to exit. */
const closers = new Set<() => Promise<void>>();
let hooked = false;

/**
 * Closes `close`'s client at exit (`process` `beforeExit`, Node only) while `on`. One hook for every
 * client, installed when the first one has a grant open. No signal handlers: a process killed by a
 * signal leaves its grants to expire, and the broker settles them then.
 */
function closeAtExit(close: () => Promise<void>, on: boolean): void {
  if (!on) {
    closers.delete(close);
    return;
  }
  closers.add(close);
  const proc = (globalThis as { process?: { once?: (event: string, listener: () => void) => unknown } })
    .process;
  if (hooked || typeof proc?.once !== "function") return;
  hooked = true;
  proc.once("beforeExit", () => {
    hooked = false;
    for (const closeClient of closers) closeClient().catch(() => undefined);
  });
}
