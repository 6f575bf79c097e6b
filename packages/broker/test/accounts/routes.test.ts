import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { generateApiKey } from "../../src/accounts/api-keys.js";
import { createTestBroker, plantAccessKey, type TestBroker } from "../support/harness.js";

let broker: TestBroker;
beforeEach(async () => {
  broker = await createTestBroker();
});
afterEach(async () => {
  await broker.close();
});

describe("the sign-up limit", () => {
  const signUpFrom = (remoteAddress: string, name = "Someone") =>
    broker.app.inject({ method: "POST", url: "/accounts", payload: { name }, remoteAddress });

  it("answers 429 with Retry-After and the RateLimit headers past the limit, creating nothing", async () => {
    await broker.close();
    broker = await createTestBroker({ fraud: { signupsPerHour: 3 } });
    for (let i = 0; i < 3; i++) {
      const created = await signUpFrom("203.0.113.9");
      expect(created.statusCode).toBe(201);
      expect(created.headers["ratelimit-limit"]).toBe("3");
      expect(created.headers["ratelimit-remaining"]).toBe(String(2 - i));
      expect(created.headers["ratelimit-policy"]).toBe("3;w=3600");
    }
    const createAccount = vi.spyOn(broker.store, "createAccount");
    const refused = await signUpFrom("203.0.113.9", "One too many");
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error).toMatchObject({
      code: "RATE_LIMITED",
      details: { limit_per_hour: 3, retry_after_s: 1200 },
      request_id: expect.stringMatching(/^req_/),
    });
    // One sign-up every 20 minutes refills.
    expect(refused.headers["retry-after"]).toBe("1200");
    expect(refused.headers["ratelimit-remaining"]).toBe("0");
    expect(refused.headers["ratelimit-limit"]).toBe("3");
    expect(refused.headers["ratelimit-policy"]).toBe("3;w=3600");
    expect(Number(refused.headers["ratelimit-reset"])).toBeGreaterThan(0);
    expect(createAccount).not.toHaveBeenCalled();

    // Another address has an allowance of its own, and the first one's refills with time.
    expect((await signUpFrom("198.51.100.4")).statusCode).toBe(201);
    broker.clock.advance(20 * 60_000);
    expect((await signUpFrom("203.0.113.9")).statusCode).toBe(201);
    expect((await signUpFrom("203.0.113.9")).statusCode).toBe(429);
  });

  it("limits an IPv6 client by its /64, as one client holds a whole /64", async () => {
    await broker.close();
    broker = await createTestBroker({ fraud: { signupsPerHour: 2 } });
    expect((await signUpFrom("2001:db8:1:2::1")).statusCode).toBe(201);
    expect((await signUpFrom("2001:db8:1:2:aaaa::2")).statusCode).toBe(201);
    expect((await signUpFrom("2001:db8:1:2:ffff:ffff:ffff:ffff")).statusCode).toBe(429);
    expect((await signUpFrom("2001:db8:1:3::1")).statusCode).toBe(201);
    // An IPv4 client seen through an IPv6 socket is the IPv4 client.
    expect((await signUpFrom("192.0.2.7")).statusCode).toBe(201);
    expect((await signUpFrom("::ffff:192.0.2.7")).statusCode).toBe(201);
    expect((await signUpFrom("192.0.2.7")).statusCode).toBe(429);
  });

  it("is off at 0", async () => {
    await broker.close();
    broker = await createTestBroker({ fraud: { signupsPerHour: 0 } });
    for (let i = 0; i < 30; i++) {
      const created = await signUpFrom("203.0.113.9");
      expect(created.statusCode).toBe(201);
      expect(created.headers["ratelimit-limit"]).toBeUndefined();
    }
  });

  it("is 20 an hour by default", async () => {
    const answers = [];
    for (let i = 0; i < 21; i++) answers.push((await signUpFrom("203.0.113.9")).statusCode);
    expect(answers.filter((status) => status === 201)).toHaveLength(20);
    expect(answers[20]).toBe(429);
  });
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
