import { createConfig, lintFromString } from "@redocly/openapi-core";
import { describe, expect, it } from "vitest";
import { ROUTES } from "../../src/app/create-broker.js";
import {
  DEFAULT_FRAUD_SETTINGS,
  DEFAULT_GRANT_GRACE_MS,
  DEFAULT_INVOKE_SETTINGS,
  DEFAULT_MONITORING_SETTINGS,
} from "../../src/platform/settings.js";
import { createTestBroker } from "../support/harness.js";

describe("OpenAPI document and docs", () => {
  it("lists every route with its schemas, all references resolving", async () => {
    const broker = await createTestBroker();
    const response = await broker.call("GET", "/openapi.json");
    expect(response.statusCode).toBe(200);
    const doc = response.json();
    expect(doc.openapi).toBe("3.1.0");
    for (const route of ROUTES) {
      const path = route.url.replace(/:(\w+)/g, "{$1}");
      const operation = doc.paths[path]?.[route.method.toLowerCase()];
      expect(operation?.operationId, `${route.method} ${path}`).toBe(route.operationId);
      const security = {
        none: [],
        account: [{ accountKey: [] }],
        access: [{ accessKey: [] }],
        key: [{ accountKey: [] }, { accessKey: [] }],
        admin: [{ adminToken: [] }],
      }[route.auth];
      expect(operation.security).toEqual(security);
    }
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map(
      (m) => m[1],
    );
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) expect(doc.components.schemas, ref).toHaveProperty(ref as string);
    for (const named of ["Agent", "AgentPricing", "AgentMetrics", "Transaction", "ApiKey"]) {
      expect(doc.components.schemas).toHaveProperty(named);
    }
    const signUp = doc.paths["/accounts"].post.responses["429"];
    expect(signUp.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/ErrorEnvelope" });
    expect(Object.keys(signUp.headers)).toEqual([
      "Retry-After",
      "RateLimit-Limit",
      "RateLimit-Remaining",
      "RateLimit-Reset",
      "RateLimit-Policy",
    ]);
    const search = doc.paths["/agents/search"].get.parameters.map((p: { name: string }) => p.name);
    expect(search).toEqual(["category", "tags", "q", "max_price", "min_trust", "sort", "limit", "cursor"]);
    await broker.close();
  });

  it("passes Redocly's recommended rules with no error and no warning", async () => {
    const broker = await createTestBroker();
    const response = await broker.call("GET", "/openapi.json");
    await broker.close();
    const problems = await lintFromString({
      source: response.body,
      absoluteRef: "openapi.json",
      config: await createConfig({ extends: ["recommended"] }),
    });
    const report = problems.map(
      (p) => `${p.severity} ${p.ruleId}: ${p.message} (${p.location.map((l) => l.pointer).join(", ")})`,
    );
    expect(report).toEqual([]);
  });

  it("declares every status a route may answer with the error envelope, and the security schemes it names", async () => {
    const broker = await createTestBroker();
    const doc = (await broker.call("GET", "/openapi.json")).json();
    await broker.close();
    const invoke = doc.paths["/agents/{id}/invoke"].post.responses;
    for (const status of [
      "400",
      "401",
      "402",
      "403",
      "404",
      "409",
      "413",
      "415",
      "429",
      "502",
      "503",
      "504",
    ]) {
      expect(invoke[status]?.content["application/json"].schema, status).toEqual({
        $ref: "#/components/schemas/ErrorEnvelope",
      });
    }
    expect(invoke["504"].description).toContain("SELLER_TIMEOUT");
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual([
      "accessKey",
      "accountKey",
      "adminToken",
    ]);
  });

  it("states the broker's defaults from the constants the code uses, and no stale figure", async () => {
    const broker = await createTestBroker();
    const response = await broker.call("GET", "/openapi.json");
    await broker.close();
    const text = JSON.stringify(response.json());
    const figure = (n: number) => n.toLocaleString("en-US");
    const fraud = DEFAULT_FRAUD_SETTINGS;
    expect(fraud.burstFloorPerMinute).toBe(1_000);
    const expected = [
      `more than ${figure(fraud.burstFloorPerMinute)} in a minute`,
      `pass both ${figure(fraud.burstFloorPerMinute)} and ${fraud.burstMultiplier}×`,
      `younger than ${fraud.newAccountDays} days`,
      `${figure(Number(fraud.newAccountDailyLimitMicros) / 1e6)} USD per UTC day`,
      `${figure(DEFAULT_INVOKE_SETTINGS.defaultRateLimit)} calls a minute`,
      `at most ${figure(DEFAULT_INVOKE_SETTINGS.maxTimeoutMs)} ms`,
      `${figure(DEFAULT_GRANT_GRACE_MS / 1000)} s by default`,
      `every ${figure(DEFAULT_MONITORING_SETTINGS.healthIntervalMs / 1000)} s`,
      "at least 10 USD",
      "less the 10% fee",
    ];
    expect(expected.filter((phrase) => !text.includes(phrase))).toEqual([]);
    const stale = ["120 in a minute", "pass both 120", "only the 120", "seed", "DESIGN"];
    expect(stale.filter((phrase) => text.includes(phrase))).toEqual([]);
  });

  it("serves a self-contained HTML reference at /docs", async () => {
    const broker = await createTestBroker();
    const response = await broker.call("GET", "/docs");
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toContain("text/html");
    expect(response.body).toContain("<h1>Mercato broker API</h1>");
    for (const route of ROUTES) expect(response.body).toContain(`id="op-${route.operationId}"`);
    expect(response.body).not.toMatch(/<script|https?:\/\/(?!json-schema)/);
    await broker.close();
  });
});
