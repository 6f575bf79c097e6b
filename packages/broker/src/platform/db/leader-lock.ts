import { createHash } from "node:crypto";
import pg from "pg";

/**
 * Whether this process leads the work that must run once across every broker on one database (the
 * payment scheduler, the sellers' health checks, the endpoint-proof retries). Created idle:
 * `start()` begins trying; listeners hear every change, `stop()` gives the lead up.
 */
export interface Leadership {
  /** Starts trying to lead (at once, then on its own schedule). */
  start(): void;
  isLeader(): boolean;
  /** Calls `listener` on every change of {@link isLeader}; returns the unsubscription. */
  onChange(listener: (leading: boolean) => void): () => void;
  /** Stops trying and gives the lead up; a listener hears `false` if it was leading. */
  stop(): Promise<void>;
  /**
   * Passes a short message to the leading broker, best effort: to this one's listeners when it
   * leads, else through the database (dropped while this broker has no connection to it).
   */
  tell(message: string): void;
  /** Hears the messages told to the leader, while this broker leads; returns the unsubscription. */
  onMessage(listener: (message: string) => void): () => void;
}

/** What {@link createPgLeadership} logs. */
export interface LeadershipLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

/** Options of {@link createPgLeadership}. */
export interface PgLeadershipOptions {
  /** `postgres://user@host:5432/database`: a direct connection (a pooler in transaction mode loses session locks). */
  url: string;
  /**
   * The schema the broker's tables are in (default `public`): brokers lead apart per database and
   * schema, so separate deployments (and test runs) on one server never wait for each other.
   */
  schema?: string;
  /** What is led, part of the lock's key (default `background`). */
  name?: string;
  /**
   * How often a follower tries for the lock (default 2 s). A crashed leader's lock is free as soon
   * as its socket closes, so this is the takeover time (plus a round trip): 2 s keeps it well
   * under 10 s even when a try is slowed by a busy machine or a reconnect (3 s at most), for one
   * trivial query every 2 s per follower.
   */
  retryMs?: number;
  /** How often the leader checks its lock connection still answers (default 2 s). */
  heartbeatMs?: number;
  /** How long a try or a heartbeat may take before the connection is taken as lost (default 3 s). */
  queryTimeoutMs?: number;
  log?: LeadershipLog;
}

/** The first half of every Mercato advisory lock key ("MRCT"), so other users of the database keep theirs. */
export const LOCK_NAMESPACE = 0x4d524354;

/**
 * Seconds of silence, then probes and their count, after which the PostgreSQL server takes the
 * leader's connection as dead and frees its lock when the network hangs without closing it
 * (`tcp_keepalives_*`, per connection): 5 + 2 × 3 = 11 s.
 */
const SERVER_KEEPALIVE = { idle: 5, interval: 2, count: 3 } as const;

/**
 * Leadership held as a PostgreSQL session-level advisory lock (`pg_try_advisory_lock`) on one
 * connection of its own, kept for as long as this broker leads. PostgreSQL frees the lock when the
 * session ends, so a leader killed outright (SIGKILL, a crash) frees it at once: its socket closes
 * and the server ends the session. A follower tries every `retryMs`, which bounds the takeover.
 *
 * A leader whose connection fails (an error, a heartbeat or try unanswered within
 * `queryTimeoutMs`) stops leading at once and goes back to trying. When the leader's network hangs
 * without closing the socket, the leader stops within `heartbeatMs + queryTimeoutMs` (5 s by
 * default), and the server frees the lock only once its TCP keepalives give up on the connection
 * (about 11 s of silence), so two leaders never overlap; a follower then takes over within a
 * further `retryMs` (about 13 s in all).
 *
 * @example
 * const leadership = createPgLeadership({ url: process.env.MERCATO_DATABASE_URL });
 * leadership.onChange((leading) => (leading ? jobs.start() : void jobs.stop()));
 * leadership.start();
 */
export function createPgLeadership(options: PgLeadershipOptions): Leadership {
  const retryMs = options.retryMs ?? 2_000;
  const heartbeatMs = options.heartbeatMs ?? 2_000;
  const queryTimeoutMs = options.queryTimeoutMs ?? 3_000;
  const key = `${options.schema ?? "public"}:${options.name ?? "background"}`;
  // A channel name is an identifier of at most 63 bytes: a digest of the key, not the key.
  const channel = `mercato_leader_${createHash("sha256").update(key).digest("hex").slice(0, 32)}`;
  const listeners = new Set<(leading: boolean) => void>();
  const hearers = new Set<(message: string) => void>();
  let client: pg.Client | undefined;
  let leading = false;
  let started = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let attempt: Promise<void> | undefined;

  const setLeading = (next: boolean): void => {
    if (next === leading) return;
    leading = next;
    options.log?.[next ? "info" : "warn"](
      { lock: key },
      next ? "leading background work" : "no longer leading background work",
    );
    for (const listener of [...listeners]) listener(next);
  };

  /** Drops the connection (a lost one, or on stop): whatever it held is no longer ours. */
  const drop = (lost: pg.Client | undefined): void => {
    if (lost === undefined || lost !== client) return;
    client = undefined;
    setLeading(false);
    lost.end().catch(() => undefined);
  };

  const connect = async (): Promise<pg.Client> => {
    const { idle, interval, count } = SERVER_KEEPALIVE;
    const fresh = new pg.Client({
      connectionString: options.url,
      application_name: "mercato-leader",
      connectionTimeoutMillis: queryTimeoutMs,
      query_timeout: queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: idle * 1_000,
      options: `-c tcp_keepalives_idle=${idle} -c tcp_keepalives_interval=${interval} -c tcp_keepalives_count=${count}`,
    });
    // A connection that dies between queries says so here: the lead ends at once, not at the next heartbeat.
    fresh.on("error", () => drop(fresh));
    fresh.on("end", () => drop(fresh));
    fresh.on("notification", (notice) => {
      if (fresh !== client || !leading || notice.channel !== channel || notice.payload === undefined) return;
      for (const hearer of [...hearers]) hearer(notice.payload);
    });
    await fresh.connect();
    return fresh;
  };

  const tryOnce = async (): Promise<void> => {
    let current = client;
    try {
      if (current === undefined) {
        current = await connect();
        if (stopped) {
          await current.end();
          return;
        }
        client = current;
      }
      if (leading) {
        await current.query("SELECT 1");
        return;
      }
      const result = await current.query<{ locked: boolean }>(
        "SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS locked",
        [LOCK_NAMESPACE, key],
      );
      if (result.rows[0]?.locked !== true) return;
      // Messages to the leader come on this connection, from the moment it leads.
      await current.query(`LISTEN ${channel}`);
      if (client === current && !stopped) setLeading(true);
    } catch (error) {
      if (!stopped) options.log?.warn({ err: error, lock: key }, "leader lock connection failed");
      if (current !== undefined) {
        // A connection that never became `client` (it failed while connecting) is ended here.
        if (current === client) drop(current);
        else current.end().catch(() => undefined);
      }
    }
  };

  const loop = (): void => {
    timer = undefined;
    if (stopped) return;
    attempt = tryOnce().finally(() => {
      attempt = undefined;
      if (!stopped) {
        timer = setTimeout(loop, leading ? heartbeatMs : retryMs);
        timer.unref();
      }
    });
  };

  return {
    start() {
      if (started || stopped) return;
      started = true;
      loop();
    },
    isLeader: () => leading,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await attempt;
      const last = client;
      client = undefined;
      setLeading(false);
      // Ending the session frees the lock; an explicit unlock first would only add a round trip. A
      // hung network is not waited for: the server's keepalives end that session.
      if (last !== undefined) {
        await Promise.race([
          last.end().catch(() => undefined),
          new Promise((resolve) => setTimeout(resolve, queryTimeoutMs).unref()),
        ]);
      }
    },
    tell(message) {
      if (leading) {
        for (const hearer of [...hearers]) hearer(message);
        return;
      }
      client?.query("SELECT pg_notify($1, $2)", [channel, message]).catch((error: unknown) => {
        options.log?.warn({ err: error, lock: key }, "could not pass a message to the leader");
      });
    },
    onMessage(listener) {
      hearers.add(listener);
      return () => hearers.delete(listener);
    },
  };
}

/**
 * The leadership of a broker that is alone by design (SQLite: one process per database file): it
 * leads from `start()` until `stop()`.
 */
export function createSoleLeadership(): Leadership {
  const listeners = new Set<(leading: boolean) => void>();
  const hearers = new Set<(message: string) => void>();
  let leading = false;
  let stopped = false;
  const set = (next: boolean): void => {
    if (next === leading) return;
    leading = next;
    for (const listener of [...listeners]) listener(next);
  };
  return {
    start() {
      if (!stopped) set(true);
    },
    isLeader: () => leading,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      stopped = true;
      set(false);
    },
    tell(message) {
      if (leading) for (const hearer of [...hearers]) hearer(message);
    },
    onMessage(listener) {
      hearers.add(listener);
      return () => hearers.delete(listener);
    },
  };
}
