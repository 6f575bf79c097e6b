// Three broker processes on one PostgreSQL database: the background work (the health checks of
// sellers, the scheduler, the endpoint-proof retries) runs on one of them, the one holding the
// database's advisory lock, and another takes it over within 10 s of the leader's `kill -9`.
// Which broker checks is read from each broker's own metrics (`mercato_health_checks_total`,
// `mercato_background_leader`); the seller counts the checks it receives.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerRequest } from "./broker-api.js";

const ADMIN_DATABASE_URL = process.env.MERCATO_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const BROKER_BIN = fileURLToPath(new URL("../../broker/dist/bin.js", import.meta.url));
const RUN = `${process.pid}_${randomBytes(3).toString("hex")}`;
const DATABASE = `mercato_leader_${RUN}`;
/** Each seller is checked every second: a takeover shows within a second of the new leader's start. */
const HEALTH_INTERVAL_MS = 1_000;
/** What the task promises: another broker checks within 10 s of the leader's death. */
const TAKEOVER_BOUND_MS = 10_000;

interface Broker {
  name: string;
  process: ChildProcess;
  url: string;
  /** What it has logged so far. */
  output(): string;
}

/** The line a broker logs when its health checker starts: on the leader only. */
const CHECKER_STARTED = '"msg":"health checks started"';

const brokers: Broker[] = [];
let seller: Server;
let sellerUrl = "";
/** When the seller received each health check of its first listing (ms since the epoch). */
const checks: number[] = [];
/** The health checks of its second listing, registered through a follower. */
const secondChecks: number[] = [];

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function startBrokerProcess(name: string): Promise<Broker> {
  const child = spawn(process.execPath, [BROKER_BIN], {
    env: {
      PATH: process.env.PATH ?? "",
      PORT: "0",
      MERCATO_DEV: "1",
      MERCATO_DATABASE_URL: databaseUrl(DATABASE),
      MERCATO_HEALTH_INTERVAL_MS: String(HEALTH_INTERVAL_MS),
      // Info: the health checker's start is logged.
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const collect = (chunk: Buffer) => {
      out += chunk.toString();
      const url = out.match(/listening on (http:\/\/\S+)/)?.[1];
      if (url) resolve({ name, process: child, url, output: () => out });
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on("exit", (code) => reject(new Error(`broker ${name} exited with ${code}: ${out}`)));
  });
}

/** A broker's figures that say who does the background work. */
interface Figures {
  leader: number;
  healthChecks: number;
}

async function figures(broker: Broker): Promise<Figures> {
  const response = await fetch(`${broker.url}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  const leader = Number(text.match(/^mercato_background_leader (\d+)$/m)?.[1] ?? Number.NaN);
  let healthChecks = 0;
  for (const match of text.matchAll(/^mercato_health_checks_total\{[^}]*\} (\d+)$/gm)) {
    healthChecks += Number(match[1]);
  }
  return { leader, healthChecks };
}

/** Polls `check` every 100 ms until it returns a value, for up to `ms` (generous: a busy machine). */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const alive = () =>
  brokers.filter((broker) => broker.process.exitCode === null && broker.process.signalCode === null);

/** The one live broker whose gauge says it leads, once exactly one does and every other says 0. */
async function soleLeader(): Promise<Broker | undefined> {
  const live = alive();
  const read = await Promise.all(live.map(figures));
  const leading = live.filter((_, i) => read[i]?.leader === 1);
  const following = read.filter((figure) => figure.leader === 0);
  return leading.length === 1 && following.length === live.length - 1 ? leading[0] : undefined;
}

/** Waits until the seller has had `more` checks beyond those it had. */
async function moreChecks(more: number): Promise<void> {
  const target = checks.length + more;
  await eventually(`${more} more health checks`, async () => (checks.length >= target ? true : undefined));
}

let owner = { api_key: "", account_id: "" };

function register(through: Broker, name: string, endpoint: string) {
  return brokerRequest(through.url, "POST", "/agents/register", {
    key: owner.api_key,
    body: {
      name,
      description: "Answers its health checks",
      category: "scale",
      api_endpoint: endpoint,
      pricing: { model: "per_call", price_per_call: "0.010000" },
    },
  });
}

beforeAll(async () => {
  await admin(`CREATE DATABASE ${DATABASE}`);
  seller = createServer((request, response) => {
    if (request.method === "GET" && request.url === "/agent/health") checks.push(Date.now());
    if (request.method === "GET" && request.url === "/second/health") secondChecks.push(Date.now());
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ status: "ok" }));
  });
  await new Promise<void>((resolve) => seller.listen(0, "127.0.0.1", resolve));
  sellerUrl = `http://127.0.0.1:${(seller.address() as AddressInfo).port}/agent`;
});

afterAll(async () => {
  await Promise.all(
    brokers.map(
      (broker) =>
        new Promise((resolve) => {
          if (broker.process.exitCode !== null || broker.process.signalCode !== null)
            return resolve(undefined);
          broker.process.once("exit", resolve);
          broker.process.kill("SIGTERM");
        }),
    ),
  );
  await new Promise((resolve) => seller?.close(resolve));
  await admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
});

describe("background work across three brokers on one PostgreSQL", () => {
  it("runs on one broker: only the leader health-checks the seller", async () => {
    // The first broker alone leads; the seller is registered through it, so it checks at once.
    brokers.push(await startBrokerProcess("a"));
    const first = await eventually("a leads", soleLeader);
    expect(first.name).toBe("a");
    owner = (await brokerRequest(first.url, "POST", "/accounts", { body: { name: "Leader Seller" } })).json;
    expect((await register(first, "Leader Echo", sellerUrl)).status).toBe(201);
    // Two more brokers, which find the listing in the store when they start: without a single
    // leader each would check it too.
    brokers.push(...(await Promise.all([startBrokerProcess("b"), startBrokerProcess("c")])));
    await moreChecks(3);
    const before = await Promise.all(brokers.map(figures));
    await moreChecks(5);
    const after = await Promise.all(brokers.map(figures));
    expect(after.map((figure) => figure.leader)).toEqual([1, 0, 0]);
    expect((after[0]?.healthChecks ?? 0) - (before[0]?.healthChecks ?? 0)).toBeGreaterThanOrEqual(5);
    expect(after.slice(1).map((figure) => figure.healthChecks)).toEqual([0, 0]);
    // The followers run no health checker at all (not merely one whose claims lose).
    expect(brokers.map((broker) => broker.output().includes(CHECKER_STARTED))).toEqual([true, false, false]);
  });

  it("checks a listing registered through a follower at once, on the leader", async () => {
    const follower = brokers[1] as Broker;
    expect((await register(follower, "Second Echo", sellerUrl.replace("/agent", "/second"))).status).toBe(
      201,
    );
    // The leader's own reload comes every 5 minutes: a check within a minute is the follower's word.
    await eventually("the second listing is checked", async () =>
      secondChecks.length >= 2 ? true : undefined,
    );
    const read = await Promise.all(brokers.map(figures));
    expect(read.map((figure) => figure.leader)).toEqual([1, 0, 0]);
    expect(read.slice(1).map((figure) => figure.healthChecks)).toEqual([0, 0]);
  });

  it("is taken over within 10 s of the leader's kill -9, twice", async () => {
    const takeovers: { leadMs: number; checkMs: number }[] = [];
    for (let round = 0; round < 2; round++) {
      const leader = await eventually("one leader", soleLeader);
      const exited = new Promise((resolve) => leader.process.once("exit", resolve));
      const killedAt = Date.now();
      leader.process.kill("SIGKILL");
      await exited;
      const next = await eventually("another broker leads", soleLeader, 30_000);
      const leadMs = Date.now() - killedAt;
      // The new leader's own checks, counted by its metrics, and the seller seeing one after the kill.
      await eventually(
        "the new leader checks",
        async () =>
          (await figures(next)).healthChecks > 0 && checks.some((at) => at > killedAt) ? true : undefined,
        30_000,
      );
      const checkMs = (checks.find((at) => at > killedAt) ?? Number.POSITIVE_INFINITY) - killedAt;
      takeovers.push({ leadMs, checkMs });
      console.log(
        `takeover ${round + 1}: broker ${next.name} led ${leadMs} ms and checked the seller ${checkMs} ms after broker ${leader.name}'s kill -9`,
      );
      expect(checkMs).toBeLessThan(TAKEOVER_BOUND_MS);
      // The broker left following never checks.
      await moreChecks(3);
      const others = alive().filter((broker) => broker !== next);
      for (const other of others) {
        expect(await figures(other)).toEqual({ leader: 0, healthChecks: 0 });
        expect(other.output()).not.toContain(CHECKER_STARTED);
      }
      expect(next.output()).toContain(CHECKER_STARTED);
    }
    expect(takeovers).toHaveLength(2);
  });
});
