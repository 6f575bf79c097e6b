import { isMercatoError } from "@mercato/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../src/app/store.js";
import type { HealthCheckClaim } from "../../src/metrics/port.js";
import type { NewAgent } from "../../src/registry/port.js";
import { apiKeyRecord } from "../support/records.js";

/**
 * The conformance suite of what stops one account or one URL from flooding the marketplace
 * (issue 16, item 7): the per-account listing limit, and the health-check claims brokers share.
 * Every `Store` implementation must pass it.
 *
 * @example
 * describeEndpointConformance("sqlite", () => createSqliteStore({ path: ":memory:" }));
 */
export function describeEndpointConformance(name: string, makeStore: () => Store | Promise<Store>): void {
  describe(`Endpoint conformance: ${name}`, () => {
    let store: Store;
    let n = 0;
    const T0 = "2026-03-01T12:00:00.000Z";
    const MS0 = Date.parse(T0);
    const INTERVAL = 30_000;

    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    const owner = async (): Promise<string> => {
      const id = `acct_lim${String(++n).padStart(8, "0")}`;
      await store.createAccount(
        { id, name: id, email: null, createdAt: T0 },
        apiKeyRecord({ id: `key_lim${String(n).padStart(8, "0")}`, accountId: id, createdAt: T0 }),
      );
      return id;
    };
    const newAgent = (ownerId: string, overrides: Partial<NewAgent> = {}): NewAgent => ({
      id: `agent_lim${String(++n).padStart(8, "0")}`,
      ownerId,
      name: "Listing",
      description: "",
      category: "crypto",
      tags: [],
      version: "1.0.0",
      apiEndpoint: "https://api.example.com/agent",
      status: "active",
      pricing: { model: "per_call", priceMicros: 20_000, currency: "USD", tier: "basic", minCalls: 1 },
      createdAt: T0,
      ...overrides,
    });
    const refusal = async (work: Promise<unknown>) => {
      const error = await work.then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(isMercatoError(error), String(error)).toBe(true);
      return error as { code: string; status: number; details: unknown };
    };
    const listed = async (ownerId: string) =>
      (await store.searchAgents({ sort: "price_asc", limit: 100 })).agents.filter(
        (agent) => agent.ownerId === ownerId,
      ).length;

    describe("listings per account", () => {
      it("registers up to maxListings agents that are not deactivated, then refuses, listing nothing", async () => {
        const id = await owner();
        for (let i = 0; i < 3; i++) await store.insertAgent(newAgent(id), { maxListings: 3 });
        const extra = newAgent(id);
        const error = await refusal(store.insertAgent(extra, { maxListings: 3 }));
        expect(error).toMatchObject({ code: "LISTING_LIMIT_REACHED", status: 403, details: { limit: 3 } });
        expect(await store.getAgent(extra.id)).toBeUndefined();
        expect(await listed(id)).toBe(3);
        // Another account has its own limit; without a limit (or 0) there is none.
        const other = await owner();
        await store.insertAgent(newAgent(other), { maxListings: 3 });
        await store.insertAgent(newAgent(id));
        await store.insertAgent(newAgent(id), { maxListings: 0 });
        expect(await listed(id)).toBe(5);
      });

      it("counts down agents but not deactivated ones, and refuses a re-activation past the limit", async () => {
        const id = await owner();
        const first = await store.insertAgent(newAgent(id), { maxListings: 2 });
        const second = await store.insertAgent(newAgent(id), { maxListings: 2 });
        await store.setAgentHealthStatus(second.id, "down", T0);
        await refusal(store.insertAgent(newAgent(id), { maxListings: 2 }));

        await store.updateAgent(first.id, { status: "inactive" }, T0, { maxListings: 2 });
        const third = await store.insertAgent(newAgent(id), { maxListings: 2 });
        const error = await refusal(
          store.updateAgent(first.id, { status: "active" }, T0, { maxListings: 2 }),
        );
        expect(error.code).toBe("LISTING_LIMIT_REACHED");
        expect((await store.getAgent(first.id))?.status).toBe("inactive");
        // Other changes to listed agents, and re-activating within the limit, are not limited.
        await store.updateAgent(third.id, { name: "Renamed", status: "active" }, T0, { maxListings: 2 });
        await store.updateAgent(third.id, { status: "inactive" }, T0, { maxListings: 2 });
        expect(
          (await store.updateAgent(first.id, { status: "active" }, T0, { maxListings: 2 }))?.status,
        ).toBe("active");
      });

      it("lets concurrent registrations of one account past the limit by none", async () => {
        const id = await owner();
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, () => store.insertAgent(newAgent(id), { maxListings: 5 })),
        );
        expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(5);
        expect(await listed(id)).toBe(5);
      });
    });

    describe("health-check claims", () => {
      const claim = (overrides: Partial<HealthCheckClaim> = {}): HealthCheckClaim => ({
        endpoint: "https://api.example.com/agent/health",
        host: "api.example.com",
        at: MS0,
        intervalMs: INTERVAL,
        perHost: 3,
        ...overrides,
      });

      it("grants an endpoint's check once per interval", async () => {
        expect(await store.claimHealthCheck(claim())).toBe("granted");
        expect(await store.claimHealthCheck(claim())).toBe("checked");
        expect(await store.claimHealthCheck(claim({ at: MS0 + INTERVAL - 1 }))).toBe("checked");
        expect(await store.claimHealthCheck(claim({ at: MS0 + INTERVAL }))).toBe("granted");
        // A broker whose clock runs behind is refused too.
        expect(await store.claimHealthCheck(claim({ at: MS0 + INTERVAL - 5_000 }))).toBe("checked");
      });

      it("grants at most perHost checks of one host per window, whatever the endpoints, then again in the next", async () => {
        const at = MS0 + 1_000;
        const paths = Array.from({ length: 5 }, (_, i) => `https://api.example.com/p${i}/health`);
        const results = [];
        for (const endpoint of paths) results.push(await store.claimHealthCheck(claim({ endpoint, at })));
        expect(results).toEqual(["granted", "granted", "granted", "host_busy", "host_busy"]);
        // Other hosts are counted apart.
        expect(
          await store.claimHealthCheck(
            claim({ endpoint: "https://b.example/health", host: "b.example", at }),
          ),
        ).toBe("granted");
        // A refused endpoint is not marked checked: the next window grants it.
        const next = MS0 + INTERVAL;
        expect(await store.claimHealthCheck(claim({ endpoint: paths[3], at: next }))).toBe("granted");
        expect(await store.claimHealthCheck(claim({ endpoint: paths[4], at: next }))).toBe("granted");
        // Within an interval of its last check an endpoint is not granted again, so spends no slot.
        expect(await store.claimHealthCheck(claim({ endpoint: paths[0], at: next }))).toBe("checked");
        expect(await store.claimHealthCheck(claim({ endpoint: paths[0], at: next + 1_000 }))).toBe("granted");
        expect(
          await store.claimHealthCheck(claim({ endpoint: paths[1], at: next + 1_000 + INTERVAL - 1_000 })),
        ).toBe("granted");
        // A host whose window a broker with a later clock already opened is busy for a broker behind.
        const fresh = "https://api.example.com/p9/health";
        expect(await store.claimHealthCheck(claim({ endpoint: fresh, at: next + 500 }))).toBe("host_busy");
      });

      it("grants concurrent claims of one endpoint once, and of one host at most perHost times", async () => {
        const same = await Promise.all(Array.from({ length: 10 }, () => store.claimHealthCheck(claim())));
        expect(same.filter((result) => result === "granted")).toHaveLength(1);
        const many = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.claimHealthCheck(
              claim({ endpoint: `https://c.example/${i}/health`, host: "c.example", perHost: 4 }),
            ),
          ),
        );
        expect(many.filter((result) => result === "granted")).toHaveLength(4);
      });

      it("counts an endpoint's failures in a row, whoever checked it, and resets them at a success", async () => {
        const endpoint = "https://api.example.com/agent/health";
        const record = (healthy: boolean) =>
          store.recordEndpointHealth(endpoint, "api.example.com", healthy, T0);
        expect(await record(false)).toEqual({ failures: 1, previousFailures: 0 });
        // The claim does not touch the count, nor the count the claim.
        expect(await store.claimHealthCheck(claim({ endpoint }))).toBe("granted");
        expect(await record(false)).toEqual({ failures: 2, previousFailures: 1 });
        expect(await record(false)).toEqual({ failures: 3, previousFailures: 2 });
        expect(await store.claimHealthCheck(claim({ endpoint }))).toBe("checked");
        expect(await record(true)).toEqual({ failures: 0, previousFailures: 3 });
        expect(await record(true)).toEqual({ failures: 0, previousFailures: 0 });
        expect(
          await store.recordEndpointHealth("https://new.example/health", "new.example", true, T0),
        ).toEqual({ failures: 0, previousFailures: 0 });
      });

      it("lists only agents that are up or down as targets", async () => {
        const id = await owner();
        const up = await store.insertAgent(newAgent(id));
        const down = await store.insertAgent(newAgent(id));
        await store.setAgentHealthStatus(down.id, "down", T0);
        const off = await store.insertAgent(newAgent(id));
        await store.updateAgent(off.id, { status: "inactive" }, T0);
        const targets = await store.listHealthCheckTargets();
        expect(targets.map((target) => [target.id, target.status])).toEqual([
          [up.id, "active"],
          [down.id, "down"],
        ]);
      });
    });
  });
}
