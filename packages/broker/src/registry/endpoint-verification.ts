import { randomBytes } from "node:crypto";
import {
  challengeFailure,
  challengeUrl,
  type EndpointVerification,
  MAX_CHALLENGE_ANSWER_BYTES,
  MercatoError,
} from "@mercato/protocol";
import type { FastifyBaseLogger } from "fastify";
import { Agent, type Dispatcher } from "undici";
import type * as z from "zod";
import type { Clock } from "../platform/clock.js";
import { publicOnlyLookup, type ResolveHost } from "../platform/endpoint-policy.js";
import type { AgentRecord, RegistryStore } from "./port.js";

/** How long listings made before endpoint proofs keep working unproven (set by the migration). */
export const ENDPOINT_GRACE_DAYS = 14;
/** How long the broker waits for a challenge answer. */
const PROBE_TIMEOUT_MS = 5_000;
/** An owner may ask for a new attempt at most this often per listing. */
export const VERIFY_RETRY_MS = 10_000;
/** The grace sweep: a round this often, each listing at most once an hour, this many per round. */
const SWEEP_INTERVAL_MS = 10 * 60_000;
const SWEEP_RECHECK_MS = 60 * 60_000;
const SWEEP_BATCH = 100;

/** What a challenge fetch found: the answer's JSON, or why there is none. */
export type ProbeResult = { ok: true; body: unknown } | { ok: false; reason: string };

/** Fetches challenge answers (GET, no redirects, short timeout, small body cap). */
export interface EndpointProber {
  probe(url: string): Promise<ProbeResult>;
  close(): Promise<void>;
}

/** Options of {@link createEndpointProber}. */
export interface EndpointProberOptions {
  /** Dev mode: loopback and private endpoint addresses are allowed. */
  dev: boolean;
  /** Resolves seller hosts; outside dev mode every address must be public at connect time. */
  resolveHost: ResolveHost;
  /**
   * Tests only: the undici dispatcher to fetch with instead of the broker's own (which refuses
   * non-public addresses). Never set from configuration: it is how a test reaches a seller on a
   * loopback port from a broker outside dev mode.
   */
  dispatcher?: Dispatcher;
  timeoutMs?: number;
}

/**
 * The broker's client for endpoint challenges: the outbound policy of seller calls (outside dev
 * mode, connections only to public addresses, checked at connect time), no redirects (a 3xx is a
 * failure), a 5 s timeout and a 16 KiB answer cap.
 */
export function createEndpointProber(options: EndpointProberOptions): EndpointProber {
  const timeoutMs = options.timeoutMs ?? PROBE_TIMEOUT_MS;
  const own =
    options.dispatcher === undefined
      ? new Agent({
          connections: 4,
          ...(!options.dev && { connect: { lookup: publicOnlyLookup(options.resolveHost) } }),
        })
      : undefined;
  const dispatcher = options.dispatcher ?? (own as Dispatcher);
  return {
    async probe(url) {
      const target = new URL(url);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      try {
        const response = await dispatcher.request({
          origin: target.origin,
          path: `${target.pathname}${target.search}`,
          method: "GET",
          headers: { accept: "application/json", "user-agent": "mercato-broker" },
          signal: controller.signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of response.body as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > MAX_CHALLENGE_ANSWER_BYTES) {
            response.body.destroy();
            return { ok: false, reason: `answered more than ${MAX_CHALLENGE_ANSWER_BYTES} bytes` };
          }
          chunks.push(chunk);
        }
        if (response.statusCode !== 200) {
          return { ok: false, reason: `answered HTTP ${response.statusCode} at ${target.pathname}` };
        }
        try {
          return { ok: true, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) };
        } catch {
          return { ok: false, reason: "answered a body that is not JSON" };
        }
      } catch (error) {
        if (controller.signal.aborted) return { ok: false, reason: `did not answer within ${timeoutMs} ms` };
        const code = (error as { code?: unknown }).code;
        const message = error instanceof Error ? error.message : String(error);
        return {
          ok: false,
          reason: `could not be reached (${code === "ENOTPUBLIC" ? message : (code ?? message)})`,
        };
      } finally {
        clearTimeout(timer);
      }
    },
    close: async () => {
      await own?.close();
    },
  };
}

/** The endpoint verification of an agent, as the API shows it. */
export function presentVerification(agent: AgentRecord, now: string): z.output<typeof EndpointVerification> {
  const proof = agent.endpoint;
  const state =
    proof.verifiedAt !== null
      ? "verified"
      : proof.graceUntil !== null && now < proof.graceUntil
        ? "grace"
        : "pending";
  return {
    state,
    verified_at: proof.verifiedAt,
    grace_until: proof.verifiedAt === null ? proof.graceUntil : null,
    challenge_url:
      state === "verified" || proof.challenge === null
        ? null
        : challengeUrl(agent.apiEndpoint, proof.challenge),
    reason: state === "verified" ? null : (proof.error ?? (state === "pending" ? "not checked yet" : null)),
    checked_at: proof.checkedAt,
  };
}

/**
 * Refuses an agent that may not be bought, called or granted: deactivated, or (outside dev mode)
 * with an endpoint that has not proven it serves this listing and no grace period left.
 *
 * @throws MercatoError `AGENT_INACTIVE`, with `details.reason` `endpoint_unverified` for the latter.
 */
export function assertServable(
  agent: AgentRecord,
  options: { dev: boolean; now: string; action?: string },
): void {
  const unverified = !options.dev && !servableEndpoint(agent, options.now);
  if (unverified && (agent.status !== "inactive" || agent.endpoint.challenge !== null)) {
    const why = agent.endpoint.error === null ? "" : ` (last check: the endpoint ${agent.endpoint.error})`;
    throw new MercatoError(
      "AGENT_INACTIVE",
      `Agent ${agent.id} is not active: its endpoint has not proven that it serves this listing${why}`,
      { details: { reason: "endpoint_unverified" } },
    );
  }
  if (agent.status === "inactive") {
    throw new MercatoError("AGENT_INACTIVE", `Agent ${agent.id} is deactivated${options.action ?? ""}`);
  }
}

/** True when the agent's endpoint is proven, or the agent is still in its grace period. */
export function servableEndpoint(agent: AgentRecord, now: string): boolean {
  const proof = agent.endpoint;
  return proof.verifiedAt !== null || (proof.graceUntil !== null && now < proof.graceUntil);
}

/** A fresh challenge token: 256 random bits, base64url. */
export function newChallengeToken(): string {
  return randomBytes(32).toString("base64url");
}

/** What {@link createEndpointVerifier} needs. */
export interface EndpointVerifierOptions {
  store: Pick<RegistryStore, "setEndpointProof" | "listGraceEndpoints">;
  clock: Clock;
  dev: boolean;
  prober: EndpointProber;
  log: FastifyBaseLogger;
  /** Told when an agent became active (so that it is health-checked) or was taken off (so it is not). */
  onActivated?: (agentId: string) => void;
  onDeactivated?: (agentId: string) => void;
}

/** Proves listings' endpoints, and retries the listings in their grace period in the background. */
export interface EndpointVerifier {
  /**
   * Asks the agent's endpoint for the challenge (dev mode: proven at once) and records the outcome.
   * A proven listing that was waiting for its proof (a pending challenge, or a grace period that
   * ended) becomes active; a failed one keeps (or gets) a pending challenge, and one whose grace
   * period ended is taken off the market. Returns the agent as it now is (undefined when it was
   * deleted or moved to another endpoint meanwhile).
   */
  verify(agent: AgentRecord): Promise<AgentRecord | undefined>;
  /** One round over the listings in their grace period; returns how many were checked. */
  sweep(): Promise<number>;
  /** Starts the rounds over the listings in their grace period (every 10 minutes, the first at once). */
  start(): void;
  /** Stops the rounds (after the one in progress); `start()` starts them again. */
  stop(): Promise<void>;
  /** Stops the rounds and frees the prober's connections: the verifier is done. */
  close(): Promise<void>;
}

/** Builds the verifier. Nothing runs until `start()`. */
export function createEndpointVerifier(options: EndpointVerifierOptions): EndpointVerifier {
  const { store, clock, prober, log } = options;
  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<number> | undefined;

  const verify = async (agent: AgentRecord): Promise<AgentRecord | undefined> => {
    const at = clock.now().toISOString();
    const waiting =
      agent.status === "inactive" &&
      (agent.endpoint.challenge !== null || agent.endpoint.graceUntil !== null);
    let failure: string | undefined;
    const token = agent.endpoint.challenge ?? newChallengeToken();
    if (!options.dev) {
      const result = await prober.probe(challengeUrl(agent.apiEndpoint, token));
      failure = result.ok
        ? challengeFailure(result.body, token, { agentId: agent.id, ownerId: agent.ownerId })
        : result.reason;
    }
    if (failure === undefined) {
      const proven = await store.setEndpointProof(
        agent.id,
        { verifiedAt: at, challenge: null, checkedAt: at, error: null },
        { ifEndpoint: agent.apiEndpoint, at, ...(waiting && { status: "active" as const }) },
      );
      if (proven && waiting) options.onActivated?.(agent.id);
      return proven;
    }
    const graceOver = agent.endpoint.graceUntil !== null && at >= agent.endpoint.graceUntil;
    const takeOff = graceOver && agent.status !== "inactive";
    const failed = await store.setEndpointProof(
      agent.id,
      { challenge: token, checkedAt: at, error: failure },
      { ifEndpoint: agent.apiEndpoint, at, ...(takeOff && { status: "inactive" as const }) },
    );
    if (failed && takeOff) {
      log.warn(
        { agentId: agent.id, reason: failure },
        "grace period over, endpoint unproven: agent taken off",
      );
      options.onDeactivated?.(agent.id);
    }
    return failed;
  };

  const sweep = async (): Promise<number> => {
    const now = clock.now();
    const due = await store.listGraceEndpoints(
      new Date(now.getTime() - SWEEP_RECHECK_MS).toISOString(),
      SWEEP_BATCH,
    );
    for (const agent of due) {
      try {
        await verify(agent);
      } catch (error) {
        log.error({ err: error, agentId: agent.id }, "endpoint verification failed");
      }
    }
    return due.length;
  };

  return {
    verify,
    sweep,
    start() {
      if (timer !== undefined) return;
      const round = () => {
        running ??= sweep().finally(() => {
          running = undefined;
        });
      };
      timer = setInterval(round, SWEEP_INTERVAL_MS);
      timer.unref();
      round();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
    async close() {
      await this.stop();
      await prober.close();
    },
  };
}
