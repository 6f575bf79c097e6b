import { ErrorEnvelopeSchema } from "@mercato/protocol";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { sellerKit } from "../kit/index.js";
import { brokerKey, callBody, NOW, signedHeaders, TEST_OWNER, type TestBrokerKey } from "../testing/index.js";
import { type FetchLike, jwksUrl } from "./broker-keys.js";

let first: TestBrokerKey;
let rotated: TestBrokerKey;
beforeAll(async () => {
  first = await brokerKey("k1");
  rotated = await brokerKey("k2");
});

const encoder = new TextEncoder();

/** A fake broker JWKS endpoint serving `published()`; records every fetch. */
function fakeBroker(published: () => unknown, status = 200) {
  const fetch = vi.fn<FetchLike>(async () => ({
    ok: status >= 200 && status < 300,
    status,
    json: async () => published(),
  }));
  return fetch;
}

async function call(kit: ReturnType<typeof sellerKit>, key: TestBrokerKey, callId: string) {
  const body = callBody(callId);
  const headers = await signedHeaders({ key, callId, body });
  const answer = await kit.handle({
    method: "POST",
    target: "/agent",
    headers: (name) => headers[name],
    body: encoder.encode(body),
  });
  return { status: answer.status, json: JSON.parse(answer.body) as unknown };
}

describe("broker keys", () => {
  it("names the broker's JWKS URL", () => {
    expect(jwksUrl("https://broker.example")).toBe("https://broker.example/.well-known/jwks.json");
    expect(jwksUrl("https://broker.example/mercato/")).toBe(
      "https://broker.example/mercato/.well-known/jwks.json",
    );
  });

  it("fetches the JWKS lazily, once, and again when an unknown kid shows up", async () => {
    let clock = NOW;
    let keys = [first.jwk];
    const fetch = fakeBroker(() => ({ keys }));
    const kit = sellerKit({
      owner: TEST_OWNER,
      broker: "https://broker.example/",
      fetch,
      now: () => clock,
      handler: () => "ok",
    });
    expect(fetch).not.toHaveBeenCalled();

    expect((await call(kit, first, "c1")).status).toBe(200);
    expect((await call(kit, first, "c2")).status).toBe(200);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(fetch.mock.calls[0]?.[0]).toBe("https://broker.example/.well-known/jwks.json");

    // The broker rotates its key; the first call by the new kid reloads the set (30 s after the last load).
    keys = [first.jwk, rotated.jwk];
    clock += 30_000;
    expect((await call(kit, rotated, "c3")).status).toBe(200);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect((await call(kit, rotated, "c4")).status).toBe(200);
    expect((await call(kit, first, "c5")).status).toBe(200);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("asks the broker about unknown kids at most every 30 s", async () => {
    let clock = NOW;
    const fetch = fakeBroker(() => ({ keys: [first.jwk] }));
    const kit = sellerKit({
      owner: TEST_OWNER,
      broker: "https://broker.example",
      fetch,
      now: () => clock,
      handler: () => "ok",
    });
    const stranger = await brokerKey("forged");
    for (let i = 0; i < 5; i++) {
      const answer = await call(kit, stranger, `f${i}`);
      expect(answer.status).toBe(401);
      expect(ErrorEnvelopeSchema.parse(answer.json).error.details?.reason).toBe("unknown_key");
    }
    expect(fetch).toHaveBeenCalledTimes(1);
    clock += 30_000;
    await call(kit, stranger, "f9");
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("shares one fetch between concurrent first calls", async () => {
    const fetch = fakeBroker(() => ({ keys: [first.jwk] }));
    const kit = sellerKit({
      owner: TEST_OWNER,
      broker: "https://broker.example",
      fetch,
      now: () => NOW,
      handler: () => "ok",
    });
    const answers = await Promise.all(["a", "b", "c", "d"].map((id) => call(kit, first, id)));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("skips keys that are not Ed25519 signing keys", async () => {
    const fetch = fakeBroker(() => ({
      keys: [
        { kty: "RSA", kid: "rsa", n: "abc", e: "AQAB" },
        { ...first.jwk, use: "enc" },
        { ...first.jwk, x: "not-a-key" },
        rotated.jwk,
      ],
    }));
    const kit = sellerKit({
      owner: TEST_OWNER,
      broker: "https://broker.example",
      fetch,
      now: () => NOW,
      handler: () => "ok",
    });
    expect((await call(kit, rotated, "c1")).status).toBe(200);
    expect((await call(kit, first, "c2")).status).toBe(401);
  });

  it.each<[string, () => ReturnType<typeof fakeBroker>]>([
    ["answers 500", () => fakeBroker(() => ({}), 500)],
    ["answers no key set", () => fakeBroker(() => ({ hello: "world" }))],
    [
      "cannot be reached",
      () =>
        vi.fn<FetchLike>(async () => {
          throw new TypeError("fetch failed");
        }),
    ],
  ])("answers 503 and reports when the broker's JWKS %s, and retries after 1 s", async (_label, make) => {
    let clock = NOW;
    const fetch = make();
    const onError = vi.fn();
    const handler = vi.fn();
    const kit = sellerKit({
      owner: TEST_OWNER,
      broker: "https://broker.example",
      fetch,
      now: () => clock,
      handler,
      onError,
    });
    const answer = await call(kit, first, "c1");
    expect(answer.status).toBe(503);
    const { error } = ErrorEnvelopeSchema.parse(answer.json);
    expect(error).toMatchObject({ code: "SERVICE_UNAVAILABLE", details: { reason: "keys_unavailable" } });
    expect(onError).toHaveBeenCalledWith(
      expect.objectContaining({ code: "SERVICE_UNAVAILABLE", message: expect.stringContaining("jwks.json") }),
      expect.objectContaining({ stage: "verification" }),
    );
    expect(handler).not.toHaveBeenCalled();
    // Within a second, calls fail without asking the broker again.
    expect((await call(kit, first, "c2")).status).toBe(503);
    expect(fetch).toHaveBeenCalledTimes(1);
    clock += 1_000;
    expect((await call(kit, first, "c3")).status).toBe(503);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(kit.stats()).toMatchObject({ calls: 0, rejected: 3 });
  });

  it("recovers when the broker comes back", async () => {
    let clock = NOW;
    let up = false;
    const fetch = vi.fn<FetchLike>(async () => {
      if (!up) throw new TypeError("fetch failed");
      return { ok: true, status: 200, json: async () => ({ keys: [first.jwk] }) };
    });
    const kit = sellerKit({
      owner: TEST_OWNER,
      broker: "https://broker.example",
      fetch,
      now: () => clock,
      handler: () => 1,
      onError: () => undefined,
    });
    expect((await call(kit, first, "c1")).status).toBe(503);
    up = true;
    clock += 1_000;
    expect((await call(kit, first, "c2")).status).toBe(200);
  });
});
