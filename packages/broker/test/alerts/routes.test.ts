import { afterEach, describe, expect, it } from "vitest";
import { createTestBroker, type TestBroker } from "../support/harness.js";

let broker: TestBroker;

afterEach(async () => {
  await broker.close();
});

async function setUp(dev = false) {
  broker = await createTestBroker({ dev });
  const owner = await broker.signUp("Seller");
  const other = await broker.signUp("Someone else");
  const agentId = await broker.register(owner.apiKey);
  return { owner, other, agentId };
}

const WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXX";

describe("PUT and GET /agents/{id}/alerts", () => {
  it("sets, merges and clears an agent's channels", async () => {
    const { owner, agentId } = await setUp();
    const get = async () =>
      (await broker.call("GET", `/agents/${agentId}/alerts`, { key: owner.apiKey })).json();
    expect(await get()).toEqual({
      agent_id: agentId,
      slack_webhook_url: null,
      email: null,
      success_rate_threshold: null,
      updated_at: null,
    });

    const set = await broker.call("PUT", `/agents/${agentId}/alerts`, {
      key: owner.apiKey,
      body: { slack_webhook_url: WEBHOOK, email: "ops@seller.example", success_rate_threshold: 0.95 },
    });
    expect(set.statusCode).toBe(200);
    const all = {
      agent_id: agentId,
      slack_webhook_url: WEBHOOK,
      email: "ops@seller.example",
      success_rate_threshold: 0.95,
      updated_at: "2026-03-01T12:00:00.000Z",
    };
    expect(set.json()).toEqual(all);
    expect(await get()).toEqual(all);

    // A field left out is kept; null removes one.
    broker.clock.advance(60_000);
    const partial = await broker.call("PUT", `/agents/${agentId}/alerts`, {
      key: owner.apiKey,
      body: { email: null, success_rate_threshold: 0 },
    });
    expect(partial.json()).toEqual({
      ...all,
      email: null,
      success_rate_threshold: 0,
      updated_at: "2026-03-01T12:01:00.000Z",
    });

    // Nothing left: the channels are gone.
    const cleared = await broker.call("PUT", `/agents/${agentId}/alerts`, {
      key: owner.apiKey,
      body: { slack_webhook_url: null, success_rate_threshold: null },
    });
    expect(cleared.json()).toMatchObject({ slack_webhook_url: null, email: null, updated_at: null });
    expect(await broker.store.getAlertChannels(agentId)).toBeUndefined();
  });

  it("refuses invalid channels with a 400 naming the field, and changes nothing", async () => {
    const { owner, agentId } = await setUp();
    await broker.call("PUT", `/agents/${agentId}/alerts`, {
      key: owner.apiKey,
      body: { email: "a@b.example" },
    });
    for (const [body, path] of [
      [{ slack_webhook_url: "http://hooks.slack.com/services/T/B/X" }, "slack_webhook_url"],
      [{ slack_webhook_url: "not a url" }, "slack_webhook_url"],
      [{ slack_webhook_url: `https://hooks.slack.com/${"x".repeat(2100)}` }, "slack_webhook_url"],
      [{ email: "not-an-address" }, "email"],
      [{ email: 42 }, "email"],
      [{ success_rate_threshold: 1.5 }, "success_rate_threshold"],
      [{ success_rate_threshold: -0.1 }, "success_rate_threshold"],
      [{ success_rate_threshold: "0.9" }, "success_rate_threshold"],
      [{ webhook: WEBHOOK }, "body"],
      [{}, "body"],
      // Outside dev mode the broker posts only to public hosts, as it calls sellers.
      [{ slack_webhook_url: "https://127.0.0.1/services/T/B/X" }, "slack_webhook_url"],
      [{ slack_webhook_url: "https://hooks.internal-test/services/T/B/X" }, "slack_webhook_url"],
      [{ slack_webhook_url: "https://localhost/services/T/B/X" }, "slack_webhook_url"],
      [{ slack_webhook_url: "https://[::127.0.0.1]/services/T/B/X" }, "slack_webhook_url"],
      [{ slack_webhook_url: "https://[::ffff:0:127.0.0.1]/services/T/B/X" }, "slack_webhook_url"],
      [{ slack_webhook_url: "https://[64:ff9b::10.0.0.1]/services/T/B/X" }, "slack_webhook_url"],
      [{ slack_webhook_url: "https://[2002:a9fe:a9fe::1]/services/T/B/X" }, "slack_webhook_url"],
      [{ slack_webhook_url: "https://user:pw@hooks.slack.com/services/T/B/X" }, "slack_webhook_url"],
    ] as const) {
      const response = await broker.call("PUT", `/agents/${agentId}/alerts`, { key: owner.apiKey, body });
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      const error = (
        response.json() as { error: { code: string; details: { issues: Array<{ path: string }> } } }
      ).error;
      expect(error.code).toBe("VALIDATION_ERROR");
      expect(error.details.issues[0]?.path).toBe(path);
    }
    expect((await broker.call("PUT", `/agents/${agentId}/alerts`, { key: owner.apiKey })).statusCode).toBe(
      400,
    );
    expect(await broker.store.getAlertChannels(agentId)).toMatchObject({
      slackWebhookUrl: null,
      email: "a@b.example",
      successRateThreshold: null,
    });
  });

  it("allows a webhook on a local host in dev mode, but only over https", async () => {
    const { owner, agentId } = await setUp(true);
    const local = await broker.call("PUT", `/agents/${agentId}/alerts`, {
      key: owner.apiKey,
      body: { slack_webhook_url: "https://127.0.0.1:8443/hook" },
    });
    expect(local.statusCode).toBe(200);
    const plain = await broker.call("PUT", `/agents/${agentId}/alerts`, {
      key: owner.apiKey,
      body: { slack_webhook_url: "http://127.0.0.1:8080/hook" },
    });
    expect(plain.statusCode).toBe(400);
  });

  it("is the owner's only: 401 without a key, 403 for another account, 404 for no such agent", async () => {
    const { owner, other, agentId } = await setUp();
    const body = { email: "x@y.example" };
    expect((await broker.call("GET", `/agents/${agentId}/alerts`)).statusCode).toBe(401);
    expect((await broker.call("PUT", `/agents/${agentId}/alerts`, { body })).statusCode).toBe(401);
    for (const method of ["GET", "PUT"] as const) {
      const forbidden = await broker.call(method, `/agents/${agentId}/alerts`, {
        key: other.apiKey,
        ...(method === "PUT" && { body }),
      });
      expect(forbidden.statusCode).toBe(403);
      expect((forbidden.json() as { error: { code: string } }).error.code).toBe("FORBIDDEN");
      const missing = await broker.call(method, "/agents/agent_nosuchagent/alerts", {
        key: owner.apiKey,
        ...(method === "PUT" && { body }),
      });
      expect(missing.statusCode).toBe(404);
      expect((missing.json() as { error: { code: string } }).error.code).toBe("AGENT_NOT_FOUND");
    }
    expect(await broker.store.getAlertChannels(agentId)).toBeUndefined();
  });
});
