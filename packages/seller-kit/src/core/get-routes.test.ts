import { ENDPOINT_CHALLENGE_PATH } from "@mercato/protocol";
import { describe, expect, it, vi } from "vitest";
import { createListingMatcher } from "../listing/index.js";
import { createMeter } from "../metering/index.js";
import { TEST_OWNER } from "../testing/index.js";
import { checkHealth, createGetRoutes, type GetRoutesDeps, pathOf } from "./get-routes.js";

const TOKEN = "tok_0123456789abcdefghijkl";

function routes(deps: Partial<GetRoutesDeps> = {}) {
  return createGetRoutes({
    listing: createListingMatcher({ owner: TEST_OWNER, required: true }),
    contractBody: '{"input_schema":null,"output_schema":null}',
    health: undefined,
    metricsPath: undefined,
    meter: createMeter(0),
    report: () => undefined,
    ...deps,
  });
}

describe("pathOf", () => {
  it("drops the query and trailing slashes, keeping the root", () => {
    expect(pathOf("/agent/health/?x=1")).toBe("/agent/health");
    expect(pathOf("/agent//")).toBe("/agent");
    expect(pathOf("/")).toBe("/");
  });
});

describe("checkHealth", () => {
  it("is healthy without health(), unless it answers false or throws (handed on)", async () => {
    const failed = vi.fn();
    expect(await checkHealth(undefined, failed)).toBe(true);
    expect(await checkHealth(async () => true, failed)).toBe(true);
    expect(await checkHealth(() => false, failed)).toBe(false);
    expect(failed).not.toHaveBeenCalled();
    const boom = new Error("db down");
    expect(
      await checkHealth(() => {
        throw boom;
      }, failed),
    ).toBe(false);
    expect(failed).toHaveBeenCalledWith(boom);
  });
});

describe("createGetRoutes", () => {
  it("answers the endpoint challenge, the contract and health at the end of the path", async () => {
    const serve = routes();
    const challenge = await serve(`/agent${ENDPOINT_CHALLENGE_PATH}${TOKEN}`, "req_1");
    expect(JSON.parse(challenge?.body ?? "")).toEqual({ token: TOKEN, owner: TEST_OWNER });
    const contract = await serve("/agent/.well-known/mercato-contract", "req_1");
    expect(contract?.body).toBe('{"input_schema":null,"output_schema":null}');
    const health = await serve("/agent/health?probe=1", "req_1");
    expect(health).toEqual({
      status: 200,
      headers: { "content-type": "application/json; charset=utf-8", "x-request-id": "req_1" },
      body: '{"status":"ok"}',
    });
    expect(await serve("/agent", "req_1")).toBeUndefined();
  });

  it("reports a failing health() at stage health and answers 503", async () => {
    const report = vi.fn();
    const serve = routes({ report, health: () => Promise.reject(new Error("db down")) });
    const answer = await serve("/health", "req_2");
    expect(answer?.status).toBe(503);
    expect(answer?.body).toBe('{"status":"unhealthy"}');
    expect(report).toHaveBeenCalledWith(expect.any(Error), {
      stage: "health",
      requestId: "req_2",
      callId: undefined,
      timeoutMs: undefined,
    });
  });

  it("serves metrics only on their path, and no challenge for a kit naming no listing", async () => {
    const serve = routes({
      metricsPath: "/internal/metrics",
      listing: createListingMatcher({ required: false }),
    });
    const metrics = await serve("/agent/internal/metrics", "req_3");
    expect(metrics?.headers["content-type"]).toMatch(/^text\/plain/);
    expect(await serve("/agent/metrics", "req_3")).toBeUndefined();
    expect(await serve(`/agent${ENDPOINT_CHALLENGE_PATH}${TOKEN}`, "req_3")).toBeUndefined();
  });
});
