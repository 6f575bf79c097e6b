import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import {
  createPgLeadership,
  createSoleLeadership,
  type Leadership,
  LOCK_NAMESPACE,
} from "../../../src/platform/db/leader-lock.js";
import { createTestSchema, TEST_DATABASE_URL } from "../../support/postgres.js";

const opened: Leadership[] = [];

/** A leadership on the test database trying every 100 ms; stopped after the test. */
function leadership(schema: string): Leadership {
  const created = createPgLeadership({
    url: TEST_DATABASE_URL,
    schema,
    retryMs: 100,
    heartbeatMs: 100,
  });
  opened.push(created);
  created.start();
  return created;
}

/** Waits until `check` holds, for up to 30 s (a busy machine), polling every 20 ms. */
async function eventually(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const leaders = (all: Leadership[]) => all.filter((one) => one.isLeader());

/** Runs `sql` on a connection of its own. */
async function admin<R extends object>(sql: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** The server process holding the schema's lock. */
async function lockHolder(schema: string): Promise<number[]> {
  const rows = await admin<{ pid: number }>(
    `SELECT pid FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objsubid = 2
        AND classid = $1::int::oid AND objid = (hashtext($2)::bigint & 4294967295)::oid`,
    [LOCK_NAMESPACE, `${schema}:background`],
  );
  return rows.map((row) => row.pid);
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((one) => one.stop()));
});

describe("PostgreSQL leadership", () => {
  it("lets exactly one of two brokers on one schema lead, and keeps it so", async () => {
    const { schema } = createTestSchema();
    const both = [leadership(schema), leadership(schema)];
    await eventually(() => leaders(both).length === 1);
    // Several tries of the follower later, still one.
    for (let round = 0; round < 10; round++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(leaders(both)).toHaveLength(1);
    }
    expect(await lockHolder(schema)).toHaveLength(1);
  });

  it("hands the lead over when the leader's session is terminated, and the old leader stops at once", async () => {
    const { schema } = createTestSchema();
    const both = [leadership(schema), leadership(schema)];
    await eventually(() => leaders(both).length === 1);
    const first = leaders(both)[0] as Leadership;
    const other = both.find((one) => one !== first) as Leadership;
    const heard: boolean[] = [];
    first.onChange((leading) => heard.push(leading));
    const [pid] = await lockHolder(schema);
    // What a SIGKILLed leader's session comes to: the server ends it and frees its lock.
    await admin("SELECT pg_terminate_backend($1)", [pid]);
    await eventually(() => other.isLeader());
    expect(heard[0]).toBe(false);
    // The old leader tries again, as a follower, and does not get the lock back.
    for (let round = 0; round < 10; round++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(leaders(both)).toEqual([other]);
    }
  });

  it("hands the lead over when the leader stops", async () => {
    const { schema } = createTestSchema();
    const both = [leadership(schema), leadership(schema)];
    await eventually(() => leaders(both).length === 1);
    const first = leaders(both)[0] as Leadership;
    await first.stop();
    expect(first.isLeader()).toBe(false);
    await eventually(() => leaders(both).length === 1 && !first.isLeader());
  });

  it("leads apart on another schema: separate deployments never wait for each other", async () => {
    const a = createTestSchema().schema;
    const b = createTestSchema().schema;
    const onA = [leadership(a), leadership(a)];
    const onB = [leadership(b), leadership(b)];
    await eventually(() => leaders(onA).length === 1 && leaders(onB).length === 1);
  });

  it("passes a follower's messages to the leader, and only to it", async () => {
    const { schema } = createTestSchema();
    const both = [leadership(schema), leadership(schema)];
    await eventually(() => leaders(both).length === 1);
    const leader = leaders(both)[0] as Leadership;
    const follower = both.find((one) => one !== leader) as Leadership;
    const heard: string[] = [];
    const followerHeard: string[] = [];
    leader.onMessage((message) => heard.push(message));
    follower.onMessage((message) => followerHeard.push(message));
    // The follower's connection is open once it has tried for the lock.
    await eventually(() => {
      follower.tell("health.track:agt_1");
      return heard.length > 0;
    });
    expect(new Set(heard)).toEqual(new Set(["health.track:agt_1"]));
    leader.tell("health.untrack:agt_1");
    expect(heard.at(-1)).toBe("health.untrack:agt_1");
    expect(followerHeard).toEqual([]);
  });

  it("stops trying once stopped: a stopped follower never leads", async () => {
    const { schema } = createTestSchema();
    const first = leadership(schema);
    await eventually(() => first.isLeader());
    const second = leadership(schema);
    await second.stop();
    await first.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(second.isLeader()).toBe(false);
    expect(await lockHolder(schema)).toEqual([]);
  });
});

describe("sole leadership (SQLite)", () => {
  it("leads from start to stop", async () => {
    const sole = createSoleLeadership();
    const heard: boolean[] = [];
    sole.onChange((leading) => heard.push(leading));
    expect(sole.isLeader()).toBe(false);
    sole.start();
    expect(sole.isLeader()).toBe(true);
    const told: string[] = [];
    sole.onMessage((message) => told.push(message));
    sole.tell("health.track:agt_1");
    expect(told).toEqual(["health.track:agt_1"]);
    await sole.stop();
    expect(heard).toEqual([true, false]);
  });
});
