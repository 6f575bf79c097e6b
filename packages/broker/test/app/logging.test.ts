import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createBroker } from "../../src/app/create-broker.js";
import { createSqliteStore } from "../../src/app/sqlite-store.js";

describe("logs", () => {
  it("record requests but never keys or request bodies", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const store = createSqliteStore({ path: ":memory:" });
    const app = createBroker({ store, logger: pino({ level: "trace" }, sink), config: { dev: true } });
    const signUp = await app.inject({
      method: "POST",
      url: "/accounts",
      payload: { name: "Secret Name Co" },
    });
    const key = signUp.json().api_key as string;
    await app.inject({ method: "GET", url: "/accounts/me", headers: { authorization: `Bearer ${key}` } });
    await app.inject({ method: "GET", url: "/keys", headers: { authorization: `Bearer ${key}x` } });
    await app.close();
    await store.close();

    const log = lines.join("");
    expect(log).toContain("/accounts/me");
    expect(log).toContain("request completed");
    expect(log).not.toContain(key);
    expect(log).not.toContain(key.slice(3, 20));
    expect(log).not.toContain("Secret Name Co");
  });
});
