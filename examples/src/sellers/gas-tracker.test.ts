import { RegisterAgentRequest } from "@mercato/protocol";
import { expect, it } from "vitest";
import { GasInput, gasFees, gasTrackerManifest } from "./gas-tracker.js";

it("answers slow, standard and fast fees of a chain, by alias too", () => {
  const fees = gasFees(GasInput.parse({ chain: "ETH" }));
  expect(fees).toMatchObject({
    chain: "ethereum",
    unit: "gwei",
    slow: { fee: "4.2", wait_s: 180, transfer_usd: "0.270000" },
    standard: { fee: "6.5", wait_s: 36, transfer_usd: "0.430000" },
    fast: { fee: "11", wait_s: 12, transfer_usd: "0.720000" },
  });
  expect(gasFees({ chain: "sol" }).chain).toBe("solana");
  expect(gasFees({ chain: "bitcoin" }).unit).toBe("sat/vB");
});

it("refuses an unknown chain with a 404", () => {
  expect(() => gasFees({ chain: "dogechain" })).toThrow(
    expect.objectContaining({ code: "NOT_FOUND", status: 404 }),
  );
});

it("registers in crypto", () => {
  expect(RegisterAgentRequest.parse(gasTrackerManifest("http://127.0.0.1:5054/gas")).category).toBe("crypto");
});
