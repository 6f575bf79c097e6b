import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { type Market, startMarket, startTestSeller, type TestSeller } from "./test-fixtures.js";

let market: Market;
let seller: TestSeller;

beforeAll(async () => {
  market = await startMarket();
  seller = await startTestSeller(market.baseUrl);
});

afterAll(async () => {
  await seller.close();
  await market.close();
});

it("closes the grants still open when the process is about to exit, with one beforeExit hook for every client", async () => {
  const owner = await market.account("exit-owner");
  const agentId = await market.agent(owner.client, seller, "0.02");
  const before = process.listeners("beforeExit");
  const added = () => process.listeners("beforeExit").filter((listener) => !before.includes(listener));

  const buyers = [await market.account("exit-buyer-1"), await market.account("exit-buyer-2")];
  const sessions = buyers.map(({ client }) => client.openSession(agentId, { budgetUsd: "0.50" }));
  expect(added()).toHaveLength(0);
  const grants = [(await sessions[0]?.call("a"))?.grantId, (await sessions[1]?.call("b"))?.grantId];
  const [hook, ...others] = added();
  expect(others).toHaveLength(0);

  // What Node does when the event loop empties: run the hook (once).
  process.removeListener("beforeExit", hook as () => void);
  (hook as (code: number) => void)(0);
  await vi.waitFor(() => expect(sessions.every((session) => session?.closed)).toBe(true), {
    timeout: 60_000,
  });
  for (const [index, grantId] of grants.entries()) {
    await vi.waitFor(
      async () =>
        expect(await buyers[index]?.client.grants.get(grantId ?? "")).toMatchObject({
          status: "closed",
          redeemed_usd: "0.020000",
        }),
      { timeout: 60_000 },
    );
  }
});
