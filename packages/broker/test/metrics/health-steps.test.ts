import { describe, expect, it } from "vitest";
import { createClaimQueue, windowOf } from "../../src/metrics/health-claim-queue.js";
import { EndpointSchedule, newEndpoint } from "../../src/metrics/health-schedule.js";
import { statusAfterCheck } from "../../src/metrics/health-status.js";
import { healthUrl, healthUrlOf } from "../../src/metrics/health-url.js";
import { PeriodicJob } from "../../src/metrics/periodic-job.js";
import type { HealthCheckClaim, HealthClaimResult } from "../../src/metrics/port.js";

const endpointAt = (url: string, due: number) => newEndpoint(new URL(healthUrl(url)), due);

describe("EndpointSchedule", () => {
  it("serves the earliest due first, and at the same time the one waiting longest", () => {
    const schedule = new EndpointSchedule();
    const late = endpointAt("https://a.example.com", 30);
    const early = endpointAt("https://b.example.com", 10);
    const waitedLong = endpointAt("https://c.example.com", 20);
    const waitedLess = endpointAt("https://d.example.com", 20);
    waitedLong.waitingSince = 1;
    waitedLess.waitingSince = 2;
    for (const endpoint of [late, waitedLess, early, waitedLong]) schedule.push(endpoint);
    expect(schedule.dueCount(20)).toBe(3);
    const order: string[] = [];
    for (let first = schedule.first(); first; first = schedule.first()) {
      order.push(first.host);
      schedule.remove(first);
    }
    expect(order).toEqual(["b.example.com", "c.example.com", "d.example.com", "a.example.com"]);
  });

  it("moves an endpoint on reschedule, and puts one back only when it is neither running nor removed", () => {
    const schedule = new EndpointSchedule();
    const a = endpointAt("https://a.example.com", 10);
    const b = endpointAt("https://b.example.com", 20);
    schedule.push(a);
    schedule.push(b);
    schedule.reschedule(a, 30);
    expect(schedule.first()).toBe(b);
    schedule.remove(b);
    expect(b.index).toBe(-1);
    b.running = true;
    schedule.reschedule(b, 0);
    expect(schedule.first()).toBe(a);
    b.running = false;
    schedule.reschedule(b, 0);
    expect(schedule.first()).toBe(b);
  });

  it("keys an endpoint by its health URL and counts its host lower-case, without brackets or trailing dot", () => {
    expect(endpointAt("https://API.Example.com./x?v=1", 0)).toMatchObject({
      key: "https://api.example.com./x/health?v=1",
      host: "api.example.com",
      url: { origin: "https://api.example.com.", path: "/x/health?v=1" },
    });
    expect(endpointAt("http://[::1]:8080", 0).host).toBe("::1");
    expect(healthUrlOf("not a url")).toBeUndefined();
  });
});

describe("statusAfterCheck", () => {
  const threshold = 3;
  it("marks down at the threshold of failures in a row, and again at the crossing itself", () => {
    expect(
      statusAfterCheck("active", false, { failures: 2, previousFailures: 1 }, threshold),
    ).toBeUndefined();
    expect(statusAfterCheck("active", false, { failures: 3, previousFailures: 2 }, threshold)).toBe("down");
    expect(statusAfterCheck("down", false, { failures: 3, previousFailures: 2 }, threshold)).toBe("down");
    expect(statusAfterCheck("down", false, { failures: 4, previousFailures: 3 }, threshold)).toBeUndefined();
    expect(statusAfterCheck("active", false, { failures: 4, previousFailures: 3 }, threshold)).toBe("down");
  });

  it("marks up at the first success after being down or after reaching the threshold", () => {
    expect(statusAfterCheck("down", true, { failures: 0, previousFailures: 0 }, threshold)).toBe("active");
    expect(statusAfterCheck("active", true, { failures: 0, previousFailures: 3 }, threshold)).toBe("active");
    expect(statusAfterCheck("active", true, { failures: 0, previousFailures: 2 }, threshold)).toBeUndefined();
  });
});

describe("createClaimQueue", () => {
  it("asks the store one claim of a host at a time, and no more once the host is busy in the window", async () => {
    const asked: HealthCheckClaim[] = [];
    const answers: HealthClaimResult[] = ["granted", "host_busy"];
    const claim = createClaimQueue({
      store: {
        async claimHealthCheck(request) {
          asked.push(request);
          return answers.shift() ?? "granted";
        },
      },
      interval: 1_000,
      perHost: 1,
    });
    const a = endpointAt("https://h.example.com/a", 0);
    const b = endpointAt("https://h.example.com/b", 0);
    const c = endpointAt("https://h.example.com/c", 0);
    const results = await Promise.all([claim(a, 1_500), claim(b, 1_600), claim(c, 1_700)]);
    expect(results).toEqual(["granted", "host_busy", "host_busy"]);
    expect(asked.map((request) => request.endpoint)).toEqual([a.key, b.key]);
    expect(asked[0]).toMatchObject({ host: "h.example.com", at: 1_500, intervalMs: 1_000, perHost: 1 });
    expect(await claim(c, 2_000)).toBe("granted");
    expect(windowOf(2_999, 1_000)).toBe(2_000);
  });
});

describe("PeriodicJob", () => {
  it("runs when due, then every period, skipping a turn while a run is still going", async () => {
    let runs = 0;
    let finish: () => void = () => {};
    const kept: Promise<unknown>[] = [];
    const job = new PeriodicJob(
      100,
      () => {
        runs++;
        return new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
      (promise) => kept.push(promise),
    );
    job.runIfDue(1_000);
    expect(runs).toBe(0);
    job.start(0);
    job.runIfDue(50);
    expect(runs).toBe(0);
    job.runIfDue(100);
    expect(runs).toBe(1);
    expect(job.dueAt).toBe(200);
    job.runIfDue(200);
    expect(runs).toBe(1);
    expect(job.dueAt).toBe(300);
    finish();
    await Promise.all(kept);
    job.runIfDue(300);
    expect(runs).toBe(2);
  });
});
