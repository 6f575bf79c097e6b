import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it, vi } from "vitest";
import { createRedisKeyCache } from "../../../src/accounts/redis-key-cache.js";
import { createBroker } from "../../../src/app/create-broker.js";
import { createSqliteStore } from "../../../src/app/sqlite-store.js";
import { connectRedis, type RedisLink } from "../../../src/platform/db/redis.js";
import { createRedisRateLimiter } from "../../../src/platform/redis-rate-limiter.js";
import { apiKeyRecord } from "../../support/records.js";

const REDIS_URL = process.env.MERCATO_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
// A prefix of this run's own: runs sharing the server never see each other's keys.
const PREFIX = `mercato-test:${process.pid}-${randomBytes(3).toString("hex")}:`;
const links: RedisLink[] = [];

function log() {
  return { warn: vi.fn(), info: vi.fn() };
}

async function link(options: { url?: string; log?: ReturnType<typeof log> } = {}): Promise<RedisLink> {
  const created = connectRedis({ url: options.url ?? REDIS_URL, prefix: PREFIX, log: options.log ?? log() });
  links.push(created);
  // A broker waits for Redis before it listens; an unreachable one is given up on quickly here.
  await created.ready(options.url === undefined ? 2_000 : 50);
  return created;
}

/** Waits until `check` holds, for up to a minute: pub/sub and reconnects can be slow on a busy CI. */
async function eventually(check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

afterAll(async () => {
  const admin = new Redis(REDIS_URL);
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
  await Promise.all(links.map((l) => l.close()));
});

describe("the Redis rate limiter", () => {
  it("holds one allowance per key across brokers: N per minute in all, then a Retry-After", async () => {
    const brokers = [
      createRedisRateLimiter(await link()),
      createRedisRateLimiter(await link()),
      createRedisRateLimiter(await link()),
    ];
    const now = Date.now();
    const decisions = await Promise.all(
      Array.from({ length: 45 }, (_, i) => brokers[i % 3]?.consume("key_shared", 30, now)),
    );
    expect(decisions.filter((d) => d?.allowed)).toHaveLength(30);
    const refused = decisions.find((d) => d?.allowed === false);
    expect(refused).toMatchObject({ limit: 30, remaining: 0 });
    // One call every 2 s refills: the next is allowed within about 2 s.
    expect(refused?.retryAfterMs).toBeGreaterThan(1_000);
    expect(refused?.retryAfterMs).toBeLessThanOrEqual(2_001);
    // Another key has an allowance of its own.
    expect((await brokers[0]?.consume("key_other", 30, now))?.allowed).toBe(true);
  });

  it("counts down remaining calls and reports when the allowance is whole again", async () => {
    const limiter = createRedisRateLimiter(await link());
    const first = await limiter.consume("key_countdown", 60, Date.now());
    expect(first).toMatchObject({ allowed: true, limit: 60, remaining: 59, retryAfterMs: 0 });
    expect(first.resetMs).toBeGreaterThan(900);
    expect(first.resetMs).toBeLessThanOrEqual(1_001);
    const second = await limiter.consume("key_countdown", 60, Date.now());
    expect(second.remaining).toBe(58);
  });

  it("falls back to this broker's memory while Redis is down, logs it once, and keeps limiting", async () => {
    const logger = log();
    const limiter = createRedisRateLimiter(await link({ url: "redis://127.0.0.1:1", log: logger }));
    const now = Date.now();
    const decisions = [];
    for (let i = 0; i < 12; i++) decisions.push(await limiter.consume("key_offline", 10, now));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0]?.[1]).toMatch(/Redis unavailable/);
  });

  it("goes back to the shared limit when Redis answers again, and says so once", async () => {
    const logger = log();
    const shared = await link({ log: logger });
    const limiter = createRedisRateLimiter(shared);
    expect((await limiter.consume("key_flap", 100, Date.now())).remaining).toBe(99);
    // Drop the connection (ioredis reconnects by itself): commands fail until it is back.
    shared.redis.disconnect(true);
    // Meanwhile this broker limits from its own memory.
    expect((await limiter.consume("key_flap", 100, Date.now())).remaining).toBe(99);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    let back = await limiter.consume("key_flap", 100, Date.now());
    await eventually(async () => {
      back = await limiter.consume("key_flap", 100, Date.now());
      return logger.info.mock.calls.length > 0;
    });
    // The shared allowance again: Redis counted the call before the outage.
    expect(back.remaining).toBeLessThanOrEqual(98);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.info).toHaveBeenCalledTimes(1);
    expect(logger.info.mock.calls[0]?.[1]).toMatch(/Redis is back/);
  });
});

describe("the sign-up limit on a shared Redis", () => {
  it("holds across brokers: N accounts an hour per address in all", async () => {
    const brokers = await Promise.all(
      [0, 1].map(async () => {
        const app = createBroker({
          store: createSqliteStore({ path: ":memory:" }),
          config: { logLevel: "silent" },
          rateLimiter: createRedisRateLimiter(await link()),
          fraud: { signupsPerHour: 3 },
        });
        await app.ready();
        return app;
      }),
    );
    const signUp = (n: number, remoteAddress: string) =>
      brokers[n % 2]?.inject({ method: "POST", url: "/accounts", payload: { name: `n${n}` }, remoteAddress });
    const statuses = [];
    for (let n = 0; n < 5; n++) statuses.push((await signUp(n, "203.0.113.77"))?.statusCode);
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    const refused = await signUp(1, "203.0.113.77");
    expect(refused?.json().error.code).toBe("RATE_LIMITED");
    expect(Number(refused?.headers["retry-after"])).toBeGreaterThan(1_000);
    expect(refused?.headers["ratelimit-policy"]).toBe("3;w=3600");
    // Another address is not held back by the first.
    expect((await signUp(0, "203.0.113.78"))?.statusCode).toBe(201);
    await Promise.all(brokers.map((app) => app.close()));
  });
});

describe("the Redis key cache", () => {
  it("shares looked-up keys between brokers and forgets a revoked key everywhere at once", async () => {
    const a = createRedisKeyCache(await link());
    const b = createRedisKeyCache(await link());
    const key = apiKeyRecord({
      id: "key_cached01",
      accountId: "acct_cache01",
      kind: "access",
      agentId: "agent_x",
    });
    const now = Date.now();
    expect(await b.get(key.hash, now)).toBeUndefined();
    a.set(key, now);
    await eventually(async () => (await b.get(key.hash, now)) !== undefined);
    expect(await b.get(key.hash, now)).toEqual(key);

    // B now holds the key in its own memory; A's invalidation reaches it through pub/sub.
    a.invalidate(key.hash);
    await eventually(async () => (await b.get(key.hash, now)) === undefined);
    await a.close();
    await b.close();
  });

  it("keeps each key for its time to live only", async () => {
    const cache = createRedisKeyCache(await link(), { ttlMs: 50 });
    const key = apiKeyRecord({ id: "key_cached02", accountId: "acct_cache02" });
    const now = Date.now();
    cache.set(key, now);
    expect(await cache.get(key.hash, now)).toEqual(key);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await cache.get(key.hash, now + 81)).toBeUndefined();
    await cache.close();
  });

  it("answers from memory alone while Redis is down", async () => {
    const cache = createRedisKeyCache(await link({ url: "redis://127.0.0.1:1" }));
    const key = apiKeyRecord({ id: "key_cached03", accountId: "acct_cache03" });
    const now = Date.now();
    expect(await cache.get(key.hash, now)).toBeUndefined();
    cache.set(key, now);
    expect(await cache.get(key.hash, now)).toEqual(key);
    cache.invalidate(key.hash);
    expect(await cache.get(key.hash, now)).toBeUndefined();
    await cache.close();
  });
});
