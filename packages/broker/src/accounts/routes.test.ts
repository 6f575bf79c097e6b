import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateApiKey } from "../auth/api-keys.js";
import { createTestBroker, plantAccessKey, type TestBroker } from "../testing/harness.js";

let broker: TestBroker;
beforeEach(async () => {
  broker = await createTestBroker();
});
afterEach(async () => {
  await broker.close();
});

describe("accounts", () => {
  it("signs up with an account key shown once and stored only as its SHA-256", async () => {
    const response = await broker.call("POST", "/accounts", {
      body: { name: "Ada", email: "ada@example.com" },
    });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toMatchObject({
      name: "Ada",
      email: "ada@example.com",
      key: { kind: "account", revoked_at: null },
    });
    expect(body.account_id).toMatch(/^acct_[a-z0-9]{20}$/);
    expect(body.api_key).toMatch(/^mk_[A-Za-z0-9_-]{43}$/);
    expect(body.api_key.startsWith(body.key.prefix)).toBe(true);

    const [stored] = await broker.store.listApiKeys(body.account_id);
    expect(stored?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(body.api_key);

    const me = await broker.call("GET", "/accounts/me", { key: body.api_key });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({
      account_id: body.account_id,
      name: "Ada",
      email: "ada@example.com",
      created_at: "2026-03-01T12:00:00.000Z",
    });
  });

  it("answers without a key, with a malformed key or an unknown key with 401 and the envelope", async () => {
    const none = await broker.call("GET", "/accounts/me");
    expect(none.statusCode).toBe(401);
    expect(none.headers["www-authenticate"]).toContain("Bearer");
    expect(none.json().error).toMatchObject({
      code: "UNAUTHENTICATED",
      request_id: none.headers["x-request-id"],
    });

    const malformed = await broker.call("GET", "/accounts/me", { headers: { authorization: "Basic abc" } });
    expect(malformed.json().error.code).toBe("UNAUTHENTICATED");

    const unknown = await broker.call("GET", "/accounts/me", { key: generateApiKey("account").secret });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json().error.code).toBe("INVALID_API_KEY");
  });

  it("refuses an access key (sk_live_…) on account routes", async () => {
    const { accountId } = await broker.signUp();
    const access = await plantAccessKey(broker.store, accountId, "key_accesskey0001");
    const response = await broker.call("GET", "/keys", { key: access });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe("FORBIDDEN");
  });
});

describe("keys", () => {
  it("creates, lists, revokes and rotates account keys; a revoked key stops working at once", async () => {
    const { apiKey, keyId } = await broker.signUp();
    const created = await broker.call("POST", "/keys", { key: apiKey, body: { name: "ci" } });
    expect(created.statusCode).toBe(201);
    const second = created.json();
    expect(second).toMatchObject({ name: "ci", kind: "account", expires_at: null });

    const list = await broker.call("GET", "/keys", { key: apiKey });
    expect(list.json().data.map((k: { key_id: string }) => k.key_id)).toEqual([second.key_id, keyId]);
    expect(list.body).not.toContain(second.api_key);
    expect(list.body).not.toMatch(/hash/);

    const revoked = await broker.call("DELETE", `/keys/${second.key_id}`, { key: apiKey });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().revoked_at).toBe("2026-03-01T12:00:00.000Z");
    const refused = await broker.call("GET", "/accounts/me", { key: second.api_key });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error).toMatchObject({
      code: "INVALID_API_KEY",
      message: "This API key was revoked",
    });

    broker.clock.advance(60_000);
    const rotated = await broker.call("POST", `/keys/${keyId}/rotate`, { key: apiKey });
    expect(rotated.statusCode).toBe(201);
    const replacement = rotated.json();
    expect(replacement.key_id).not.toBe(keyId);
    expect(replacement.name).toBe("default");
    expect((await broker.call("GET", "/accounts/me", { key: apiKey })).statusCode).toBe(401);
    expect((await broker.call("GET", "/accounts/me", { key: replacement.api_key })).statusCode).toBe(200);

    const again = await broker.call("POST", `/keys/${keyId}/rotate`, { key: replacement.api_key });
    expect(again.statusCode).toBe(409);
  });

  it("expires keys at their expiry time", async () => {
    const { apiKey } = await broker.signUp();
    const created = await broker.call("POST", "/keys", {
      key: apiKey,
      body: { expires_at: "2026-03-01T13:00:00Z" },
    });
    const expiring = created.json();
    expect(expiring.expires_at).toBe("2026-03-01T13:00:00.000Z");
    expect((await broker.call("GET", "/accounts/me", { key: expiring.api_key })).statusCode).toBe(200);
    broker.clock.advance(60 * 60_000);
    const expired = await broker.call("GET", "/accounts/me", { key: expiring.api_key });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.message).toBe("This API key has expired");

    const past = await broker.call("POST", "/keys", {
      key: apiKey,
      body: { expires_at: "2026-03-01T12:00:00Z" },
    });
    expect(past.statusCode).toBe(400);
    expect(past.json().error.code).toBe("VALIDATION_ERROR");
  });

  it("refuses to revoke the last working account key, and hides other accounts' keys", async () => {
    const { apiKey, keyId } = await broker.signUp();
    const last = await broker.call("DELETE", `/keys/${keyId}`, { key: apiKey });
    expect(last.statusCode).toBe(409);
    expect(last.json().error.code).toBe("CONFLICT");
    expect((await broker.call("GET", "/accounts/me", { key: apiKey })).statusCode).toBe(200);

    const stranger = await broker.signUp("Mallory");
    const theirs = await broker.call("DELETE", `/keys/${keyId}`, { key: stranger.apiKey });
    expect(theirs.statusCode).toBe(404);
    expect(theirs.json().error.code).toBe("NOT_FOUND");
    const rotate = await broker.call("POST", `/keys/${keyId}/rotate`, { key: stranger.apiKey });
    expect(rotate.statusCode).toBe(404);
    expect((await broker.call("GET", "/accounts/me", { key: apiKey })).statusCode).toBe(200);
  });
});
