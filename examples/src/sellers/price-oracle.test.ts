import { isMercatoError, RegisterAgentRequest } from "@mercato/protocol";
import { expect, it } from "vitest";
import { PRICES_AS_OF, PriceQuoteInput, priceOracleManifest, quotePrice } from "./price-oracle.js";

it("quotes a fixed price with its as-of time, any case", () => {
  expect(quotePrice(PriceQuoteInput.parse({ symbol: " btc " }))).toEqual({
    symbol: "BTC",
    name: "Bitcoin",
    price_usd: "64250.120000",
    currency: "USD",
    as_of: PRICES_AS_OF,
    source: "fixed-table",
  });
  expect(quotePrice({ symbol: "ETH" }).price_usd).toBe("3120.450000");
});

it("refuses an unknown symbol with a 404 the kit passes on", () => {
  let caught: unknown;
  try {
    quotePrice({ symbol: "NOPE" });
  } catch (error) {
    caught = error;
  }
  expect(isMercatoError(caught)).toBe(true);
  expect(caught).toMatchObject({ code: "NOT_FOUND", status: 404 });
  expect((caught as { details: { known: string[] } }).details.known).toContain("SOL");
});

it("refuses a malformed symbol in the schema", () => {
  expect(PriceQuoteInput.safeParse({ symbol: "BTC/USD" }).success).toBe(false);
  expect(PriceQuoteInput.safeParse({}).success).toBe(false);
});

it("registers in crypto", () => {
  const manifest = RegisterAgentRequest.parse(priceOracleManifest("http://127.0.0.1:5052/price"));
  expect(manifest).toMatchObject({ category: "crypto", pricing: { price_per_call: "0.002" } });
});
