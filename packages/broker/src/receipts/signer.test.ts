import { describe, expect, it } from "vitest";
import { createManualClock } from "../clock.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import { createReceiptSigner } from "./signer.js";

describe("the receipt signer", () => {
  it("makes one key on an empty store, and a second broker on the store signs with it", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    const clock = createManualClock(new Date("2026-03-01T00:00:00.000Z"));
    const first = createReceiptSigner(store, clock);
    const second = createReceiptSigner(store, clock);
    const [a] = (await first.jwks()).keys;
    expect((await second.jwks()).keys).toEqual([a]);
    const headers = await second.signCall({
      method: "POST",
      path: "/x",
      body: "{}",
      callId: "c1",
      timestamp: 1,
      agentId: "agent_1",
      agentOwner: "acct_1",
      priceMicros: 20_000,
    });
    expect(Object.values(headers)).toContain(a?.kid);
    await store.close();
  });

  it("publishes keys other brokers added to the store at once", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    const clock = createManualClock(new Date("2026-03-01T00:00:00.000Z"));
    const signer = createReceiptSigner(store, clock);
    expect((await signer.jwks()).keys).toHaveLength(1);
    // Another process, racing on an empty database, stored a key of its own.
    await store.insertSigningKey({
      kid: "mk-other-process",
      privateJwk: "{}",
      publicJwk: JSON.stringify({ x: "b3RoZXI" }),
      createdAt: "2026-03-01T00:00:01.000Z",
    });
    expect((await signer.jwks()).keys.map((key) => key.kid)).toContain("mk-other-process");
    await store.close();
  });
});
