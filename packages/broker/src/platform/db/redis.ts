import { Redis } from "ioredis";

/** What the broker's Redis users need to report Redis going away and coming back, once each. */
export interface RedisHealthLog {
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

/**
 * A shared Redis connection for rate limits and the key cache. Commands fail fast while Redis is
 * down (no offline queue, a short command timeout) so that callers fall back to local state at once
 * instead of waiting; the client reconnects in the background.
 */
export interface RedisLink {
  readonly redis: Redis;
  /** A second connection in subscriber mode (pub/sub needs its own). */
  readonly subscriber: Redis;
  /** The prefix of this broker's keys and channels (`mercato:` by default). */
  readonly prefix: string;
  /**
   * Called by a user whose command failed: logs "Redis unavailable" once per outage. Returns
   * nothing; the caller falls back.
   */
  failed(error: unknown): void;
  /** Called after a command succeeded: logs "Redis is back" once after an outage. */
  succeeded(): void;
  /**
   * Resolves when both connections are ready, or after `timeoutMs` (then logging that Redis is
   * unavailable): a broker starting waits this long for Redis, and starts without it otherwise.
   */
  ready(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Options of {@link connectRedis}. */
export interface ConnectRedisOptions {
  /** `redis://host:6379/0` (`--redis` / `MERCATO_REDIS_URL`). */
  url: string;
  /** Prefix of every key this broker writes (default `mercato:`): several marketplaces may share a Redis. */
  prefix?: string;
  /** Longest a command may take before the caller falls back, ms (default 250). */
  commandTimeoutMs?: number;
  log: RedisHealthLog;
}

/**
 * Connects to Redis without waiting for it: the broker starts and serves with Redis down, using its
 * local limits, and switches to the shared ones once Redis answers.
 */
export function connectRedis(options: ConnectRedisOptions): RedisLink {
  const prefix = options.prefix ?? "mercato:";
  const common = {
    keyPrefix: prefix,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 250,
    // Reconnect forever, at most once a second: Redis coming back must be noticed.
    retryStrategy: (attempt: number) => Math.min(1_000, 50 * attempt),
    lazyConnect: false,
  };
  const redis = new Redis(options.url, common);
  const subscriber = new Redis(options.url, { ...common, keyPrefix: undefined, enableOfflineQueue: true });
  let down = false;
  const failed = (error: unknown) => {
    if (down) return;
    down = true;
    options.log.warn(
      { err: error },
      "Redis unavailable: rate limits and the key cache are per broker process until it is back",
    );
  };
  const succeeded = () => {
    if (!down) return;
    down = false;
    options.log.info({}, "Redis is back: rate limits and the key cache are shared again");
  };
  // Connection errors are reported through `failed` by the commands that meet them; an 'error'
  // event without a listener would crash the process.
  redis.on("error", failed);
  subscriber.on("error", () => undefined);
  const connected = (client: Redis) =>
    client.status === "ready"
      ? Promise.resolve()
      : new Promise<void>((resolve) => client.once("ready", () => resolve()));
  return {
    redis,
    subscriber,
    prefix,
    failed,
    succeeded,
    async ready(timeoutMs = 2_000) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const ok = await Promise.race([
        Promise.all([connected(redis), connected(subscriber)]).then(() => true),
        late,
      ]);
      clearTimeout(timer);
      if (!ok) failed(new Error(`no answer from Redis within ${timeoutMs} ms`));
      return ok;
    },
    async close() {
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}
