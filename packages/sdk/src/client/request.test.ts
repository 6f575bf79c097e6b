import { isMercatoError, type MercatoError } from "@mercato/protocol/errors";
import { delay, HttpResponse, http } from "msw";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createClient } from "./client.js";
import { createRequester, type FetchFunction } from "./request.js";
import { mockServer } from "./test-fixtures.js";
import { SDK_VERSION } from "./version.js";

interface Sent {
  url: string;
  init: RequestInit;
}

const server = mockServer();

/** The brokers these tests call: msw answers them. */
const BROKERS = ["http://broker.test", "https://example.test"];

/**
 * The brokers answer every request `status` with `body` (JSON unless a string), and record what
 * they are sent.
 */
function answering(status: number, body: unknown): { sent: Sent[] } {
  const sent: Sent[] = [];
  server.use(
    ...BROKERS.map((broker) =>
      http.all(`${broker}/*`, async ({ request }) => {
        const text = await request.text();
        sent.push({
          url: request.url,
          init: {
            method: request.method,
            headers: Object.fromEntries(request.headers),
            ...(text !== "" && { body: text }),
            signal: request.signal,
          },
        });
        const answer = typeof body === "string" ? body : JSON.stringify(body);
        return new HttpResponse(status === 204 ? null : answer, { status });
      }),
    ),
  );
  return { sent };
}

/** The broker never answers: a request ends when its signal aborts. */
function hanging(): void {
  server.use(
    http.all("http://broker.test/*", async () => {
      await delay("infinite");
    }),
  );
}

async function failure(action: () => Promise<unknown>): Promise<MercatoError> {
  try {
    await action();
  } catch (error) {
    expect(isMercatoError(error)).toBe(true);
    return error as MercatoError;
  }
  throw new Error("expected a MercatoError, got success");
}

const SEARCH_PAGE = { results: [], next_cursor: null };

describe("the client's requests", () => {
  it("sends JSON with the Bearer key, accept, user agent and a timeout signal", async () => {
    const { sent } = answering(201, { agent_id: "agent_abcdef", status: "registered" });
    const client = createClient({ baseUrl: "http://broker.test/", apiKey: "mk_secret" });
    const body = {
      name: "A",
      description: "d",
      category: "crypto",
      api_endpoint: "https://seller.test/a",
      pricing: { model: "per_call" as const, price_per_call: "0.02" },
    };
    await expect(client.agents.register(body)).resolves.toEqual({
      agent_id: "agent_abcdef",
      status: "registered",
    });
    expect(sent).toHaveLength(1);
    const [{ url, init }] = sent as [Sent];
    expect(url).toBe("http://broker.test/agents/register");
    expect(init.method).toBe("POST");
    expect(init.headers).toEqual({
      accept: "application/json",
      "user-agent": `mercato-sdk/${SDK_VERSION}`,
      authorization: "Bearer mk_secret",
      "content-type": "application/json",
    });
    expect(JSON.parse(init.body as string)).toEqual(body);
    expect(init.signal).toBeInstanceOf(AbortSignal);
  });

  it("sends no body, content type or key when there are none, and honours userAgent", async () => {
    const { sent } = answering(200, { categories: [] });
    await createClient({ baseUrl: "http://broker.test", userAgent: "my-agent/1" }).agents.categories();
    const [{ init }] = sent as [Sent];
    expect(init.method).toBe("GET");
    expect(init.body).toBeUndefined();
    expect(init.headers).toEqual({ accept: "application/json", "user-agent": "my-agent/1" });
  });

  it("keeps a base path, encodes path parameters and repeats array query parameters", async () => {
    const { sent } = answering(200, SEARCH_PAGE);
    const client = createClient({ baseUrl: "https://example.test/mercato/?ignored=1#too" });
    await client.agents.search({ tags: ["a", "b c"], min_trust: 0.5, limit: 5, q: undefined });
    await client.agents.search();
    await client.keys.revoke("key_../x?y").catch(() => undefined);
    expect(sent.map((request) => request.url)).toEqual([
      "https://example.test/mercato/agents/search?tags=a&tags=b+c&min_trust=0.5&limit=5",
      "https://example.test/mercato/agents/search",
      "https://example.test/mercato/keys/key_..%2Fx%3Fy",
    ]);
  });

  it("rebuilds the broker's error envelope", async () => {
    answering(402, {
      error: { code: "INSUFFICIENT_FUNDS", message: "Top up", details: { need: "1" }, request_id: "req_1" },
    });
    const error = await failure(() => createClient({ baseUrl: "http://broker.test" }).accounts.me());
    expect(error).toMatchObject({ code: "INSUFFICIENT_FUNDS", status: 402, message: "Top up" });
    expect(error.details).toEqual({ need: "1" });
    expect(error.requestId).toBe("req_1");
  });

  it("keeps the parse error as the cause of a non-JSON error answer", async () => {
    answering(502, "<html>Bad Gateway</html>");
    const error = await failure(() => createClient({ baseUrl: "http://broker.test" }).accounts.me());
    expect(error.code).toBe("INTERNAL_ERROR");
    expect(error.status).toBe(502);
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it("refuses a successful answer that is not JSON", async () => {
    for (const [status, body] of [
      [200, "ok"],
      [204, ""],
    ] as const) {
      answering(status, body);
      const error = await failure(() => createClient({ baseUrl: "http://broker.test" }).accounts.me());
      expect(error.code).toBe("INTERNAL_ERROR");
      expect(error.message).toContain(`HTTP ${status}`);
    }
  });

  it("gives up after timeoutMs with SERVICE_UNAVAILABLE and the timeout as cause", async () => {
    hanging();
    const client = createClient({ baseUrl: "http://broker.test", timeoutMs: 20 });
    const error = await failure(() => client.agents.categories());
    expect(error.code).toBe("SERVICE_UNAVAILABLE");
    expect(error.message).toContain("no answer within 20 ms");
    expect((error.cause as Error).name).toBe("TimeoutError");
  });

  it("refuses a cursor that does not move, instead of paging forever", async () => {
    answering(200, { results: [], next_cursor: "same" });
    const pages = createClient({ baseUrl: "http://broker.test" }).agents.searchAll({ cursor: "same" });
    const error = await failure(async () => {
      for await (const _ of pages) {
        // drains the pages
      }
    });
    expect(error.code).toBe("INTERNAL_ERROR");
  });

  it.each([
    ["not a URL", "broker"],
    ["not http", "ftp://broker.test"],
  ])("refuses a baseUrl that is %s", (_label, baseUrl) => {
    expect(() => createClient({ baseUrl })).toThrow(expect.objectContaining({ code: "VALIDATION_ERROR" }));
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses timeoutMs %s", (timeoutMs) => {
    expect(() => createClient({ baseUrl: "http://broker.test", timeoutMs })).toThrow(
      expect.objectContaining({ code: "VALIDATION_ERROR" }),
    );
  });
});

/** A requester of `http://broker.test`, with the global `fetch` (which msw answers) unless given another. */
function requester(fetch: FetchFunction = (url, init) => globalThis.fetch(url, init), timeoutMs = 30_000) {
  return createRequester({
    baseUrl: "http://broker.test",
    apiKey: "mk_account",
    fetch,
    timeoutMs,
    userAgent: "test/1",
  });
}

/** Runs `action` and returns what it throws, whatever it is. */
async function thrown(action: () => Promise<unknown>): Promise<unknown> {
  return action().then(
    () => {
      throw new Error("expected a failure, got success");
    },
    (caught: unknown) => caught,
  );
}

describe("per-request options", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("overrides the key, adds headers and sends the caller's signal combined with the timeout", async () => {
    // An injected fetch, handed the signal itself: msw's copy of the request has a signal of its
    // own, which would not show whether the caller's was combined with the timeout.
    const sent: Sent[] = [];
    const fetch: FetchFunction = async (url, init) => {
      sent.push({ url, init });
      return new Response(JSON.stringify({ categories: [] }), { status: 200 });
    };
    const caller = new AbortController();
    await requester(fetch)(
      "get",
      "/categories",
      {},
      { apiKey: "sk_live_access", headers: { "Idempotency-Key": "idem-1" }, signal: caller.signal },
    );
    const [{ init }] = sent as [Sent];
    expect(init.headers).toEqual({
      accept: "application/json",
      "user-agent": "test/1",
      authorization: "Bearer sk_live_access",
      "idempotency-key": "idem-1",
    });
    expect(init.signal).not.toBe(caller.signal);
    expect(init.signal?.aborted).toBe(false);
    caller.abort();
    expect(init.signal?.aborted).toBe(true);
  });

  it("uses a per-request timeout instead of the client's", async () => {
    const timeout = vi.spyOn(AbortSignal, "timeout");
    answering(200, { categories: [] });
    const request = requester(undefined, 30_000);
    await request("get", "/categories", {});
    await request("get", "/categories", {}, { timeoutMs: 1_234 });
    expect(timeout.mock.calls).toEqual([[30_000], [1_234]]);
    const bad = await thrown(() => request("get", "/categories", {}, { timeoutMs: 0 }));
    expect(isMercatoError(bad) && bad.code).toBe("VALIDATION_ERROR");
  });

  it("throws the caller's abort as an AbortError, not SERVICE_UNAVAILABLE", async () => {
    const caller = new AbortController();
    hanging();
    const pending = thrown(() => requester()("get", "/categories", {}, { signal: caller.signal }));
    caller.abort();
    const error = await pending;
    expect(isMercatoError(error)).toBe(false);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe("AbortError");
  });

  it("throws the caller's own reason, and wraps a reason that is not an error", async () => {
    const reason = new Error("the user gave up");
    const first = new AbortController();
    hanging();
    const pending = thrown(() => requester()("get", "/categories", {}, { signal: first.signal }));
    first.abort(reason);
    expect(await pending).toBe(reason);

    const second = new AbortController();
    second.abort("stop");
    let called = false;
    server.use(
      http.get("http://broker.test/categories", () => {
        called = true;
        return HttpResponse.json({});
      }),
    );
    const error = await thrown(() => requester()("get", "/categories", {}, { signal: second.signal }));
    // An already aborted signal sends nothing.
    expect(called).toBe(false);
    expect(error).toMatchObject({ name: "AbortError", cause: "stop" });
  });

  it("still answers a timeout with SERVICE_UNAVAILABLE when the caller gave a signal", async () => {
    const caller = new AbortController();
    hanging();
    const error = await thrown(() =>
      requester(undefined, 20)("get", "/categories", {}, { signal: caller.signal }),
    );
    expect(isMercatoError(error) && error.code).toBe("SERVICE_UNAVAILABLE");
    expect((error as MercatoError).message).toContain("no answer within 20 ms");
    expect(((error as MercatoError).cause as Error).name).toBe("TimeoutError");
  });
});

describe("429 answers", () => {
  /** The broker answers `GET /categories` 429 with `body` (JSON unless a string) and `headers`. */
  const rateLimited = (body: unknown, headers: Record<string, string>): void => {
    server.use(
      http.get("http://broker.test/categories", () => {
        const answer = typeof body === "string" ? body : JSON.stringify(body);
        return new HttpResponse(answer, { status: 429, headers });
      }),
    );
  };

  it("adds Retry-After to the details as retry_after_s when the body lacks it", async () => {
    rateLimited(
      {
        error: {
          code: "RATE_LIMITED",
          message: "Slow down",
          details: { limit_per_minute: 60 },
          request_id: "req_9",
        },
      },
      { "retry-after": "7" },
    );
    const error = await failure(() => requester()("get", "/categories", {}));
    expect(error).toMatchObject({
      code: "RATE_LIMITED",
      status: 429,
      message: "Slow down",
      requestId: "req_9",
    });
    expect(error.details).toEqual({ limit_per_minute: 60, retry_after_s: 7 });
  });

  it("keeps the body's retry_after_s", async () => {
    rateLimited(
      {
        error: {
          code: "RATE_LIMITED",
          message: "Slow down",
          details: { retry_after_s: 3 },
          request_id: "req_9",
        },
      },
      { "retry-after": "7" },
    );
    const error = await failure(() => requester()("get", "/categories", {}));
    expect(error.details).toEqual({ retry_after_s: 3 });
  });

  it("reads an HTTP-date Retry-After, and calls a 429 without an envelope RATE_LIMITED", async () => {
    // The clock stands still: on a loaded machine the real one may pass a second boundary between
    // writing the date and reading it.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-03-01T12:00:00.750Z"));
    const at = new Date(Date.now() + 10_000).toUTCString();
    rateLimited("Too Many Requests", { "retry-after": at });
    const error = await failure(() => requester()("get", "/categories", {})).finally(() =>
      vi.useRealTimers(),
    );
    expect(error.details?.retry_after_s).toBe(10);
    expect(error.code).toBe("RATE_LIMITED");
    expect(error.status).toBe(429);
    expect(error.details?.retry_after_s).toBeGreaterThanOrEqual(9);
    expect(error.details?.retry_after_s).toBeLessThanOrEqual(10);
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it("leaves the details alone without a Retry-After header", async () => {
    rateLimited({ error: { code: "RATE_LIMITED", message: "Slow down", request_id: "req_9" } }, {});
    const error = await failure(() => requester()("get", "/categories", {}));
    expect(error.details).toBeUndefined();
  });
});
