import type { FetchFunction } from "../client/request.js";
import type { CloseGrantRequest, CreateGrantRequest, Grant } from "../client/types.js";
import type { OutputCheck } from "./output-check.js";
import type { UsageReportEntry } from "./reports.js";

/** Options of `client.openSession()`. */
export interface OpenSessionOptions {
  /**
   * The budget of each grant the session opens, in USD (`"1.00"` or `1`): held on your wallet
   * until the grant settles, and the most that grant's calls may cost. It must pay for at least one
   * call. When a grant cannot pay for another call the session closes it and opens a new one with
   * the same budget, so this bounds what is held at a time, not what the session spends in all.
   */
  budgetUsd: string | number;
  /** Life of each grant in seconds, 60–86,400 (default 3,600). The session renews a grant before it expires. */
  ttlS?: number;
  /** How long the seller may take per call, ms (default: the client's `timeoutMs`). */
  timeoutMs?: number;
}

/** Options of {@link DirectSession.call}. */
export interface DirectCallOptions {
  /** How long the seller may take, ms (default: the session's). The request waits 1 s longer. */
  timeoutMs?: number;
  /** Aborts the call (waiting in the queue or in flight); it then throws the signal's reason. */
  signal?: AbortSignal;
}

/** A direct call's answer: the seller's output, what it cost, and the grant and voucher that paid. */
export interface DirectResponse {
  output: unknown;
  /** Display cost in USD. */
  cost: number;
  /**
   * The exact cost: the grant's price. Each call's voucher prepays it, but only successful calls are
   * paid for: a failed call's prepayment carries over to the next call, and the final voucher owes
   * the successes alone.
   */
  costUsd: string;
  agentId: string;
  grantId: string;
  /** The call's voucher sequence in its grant. */
  sequence: number;
  /** How long the seller took, ms. */
  durationMs: number;
}

/** What a closed session did. */
export interface DirectSessionSummary {
  /** Calls the seller ran or was sent (refused calls are not counted). */
  calls: number;
  successes: number;
  /** What the successful calls cost in all: the sum of their grants' prices. */
  spentUsd: string;
  /** Every grant the session opened, oldest first. */
  grants: string[];
}

/**
 * Calls to one agent in direct mode: the SDK calls the seller itself, paying with vouchers, and the
 * broker only opens and settles the grant that pays (docs/direct-mode.md). The session opens its
 * grant on the first call (with a key pair made for it alone), reuses it, and replaces it before it
 * expires or when its budget cannot pay another call. Calls of a session run one at a time, in
 * order (a grant takes one call at a time): open several sessions to call in parallel.
 *
 * Vouchers are prepaid: each call's voucher pays for the successes before it and for the call
 * itself, so that a seller never serves a call it is not paid for. Only successful calls are paid
 * for: a failed call's prepayment carries over to the next call of the grant, and the grant is
 * closed with a final voucher owing `price × successes`. A call whose outcome the SDK cannot know
 * (no answer in time, a lost or unreadable answer) ends the grant: the session closes it with its
 * own count and uses a fresh one. An honest seller kit counts a call a success only when it answered
 * it within its `timeout_ms` to a caller still waiting, and redeems only its successes, so the
 * buyer pays for no call it did not receive an answer to — but for an answer lost on its way.
 *
 * @example
 * const session = client.openSession("agent_…", { budgetUsd: "1.00" });
 * try {
 *   for (const symbol of ["BTC", "ETH"]) console.log((await session.call({ symbol })).output);
 * } finally {
 *   console.log(await session.close()); // { calls: 2, successes: 2, spentUsd: "0.040000", grants: ["grt_…"] }
 * }
 */
export interface DirectSession {
  readonly agentId: string;
  /** The grant in use: undefined before the first call and once it is retired or closed. */
  readonly grant: Grant | undefined;
  /** True once {@link DirectSession.close} was called. */
  readonly closed: boolean;
  /**
   * Calls the agent directly, after the calls already queued. A failure costs nothing.
   * @throws MercatoError `SELLER_ERROR` (`details.seller_status`), `SELLER_TIMEOUT`,
   *   `SELLER_UNAVAILABLE`; a seller's refusal with its code and `details.reason`
   *   (`payment_behind`, `grant_spent`, …: the session has retired the grant); the broker's
   *   refusal to open a grant (`INSUFFICIENT_FUNDS`, `SPEND_CAP_EXCEEDED`, `AGENT_NOT_PURCHASED`,
   *   `VALIDATION_ERROR` for a budget below the price…); `CONFLICT` once the session is closed. An
   *   abort rejects with the signal's reason.
   */
  call(input: unknown, options?: DirectCallOptions): Promise<DirectResponse>;
  /**
   * Waits for the queued calls, closes the grant with its final voucher (paying for every success),
   * sends the usage reports, and returns what the session did. Later calls reject. Calling it again
   * retries a grant that could not be closed, and otherwise answers the same summary.
   * @throws MercatoError when the broker could not be told to close a grant.
   */
  close(): Promise<DirectSessionSummary>;
}

/** A session as the client's pool sees it. */
export interface PooledSession extends DirectSession {
  /** Calls queued or in flight. */
  readonly pending: number;
}

/** What a session needs from its client. */
export interface SessionDeps {
  fetch: FetchFunction;
  /** The seller's time per call when neither the session nor the call says, ms. */
  timeoutMs: number;
  /** `POST /grants` with the agent's access key (bought when missing); answers the grant and the key. */
  openGrant(body: CreateGrantRequest, signal?: AbortSignal): Promise<{ grant: Grant; accessKey: string }>;
  /** `POST /grants/{id}/close` with the key that opened the grant. */
  closeGrant(grantId: string, body: CloseGrantRequest, accessKey: string): Promise<unknown>;
  /** The agent's output check (undefined: it has no output schema), asked before each call. */
  outputCheck?(signal?: AbortSignal): Promise<OutputCheck | undefined>;
  /** Buffers a call's outcome for `POST /usage/reports`, with the grant's key. */
  report(accessKey: string, entry: UsageReportEntry): void;
  /** Sends the buffered outcomes. */
  flushReports(): Promise<void>;
  /** Told when the session opens its first grant. */
  onGrant(session: PooledSession): void;
  /** Told when the session has closed, every grant it opened closed too. */
  onClosed(session: PooledSession): void;
}
