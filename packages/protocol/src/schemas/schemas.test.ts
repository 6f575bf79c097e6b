import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_MICROS, parseUsd } from "../money/money.js";
import {
  MAX_PRICE_PER_CALL_MICROS,
  PricePerCallInput,
  RegisterAgentRequest,
  SearchAgentsQuery,
  UpdateAgentRequest,
} from "./agents.js";
import { Slug, UsdAmount, UsdAmountInput } from "./common.js";

/** A complete registration request. */
const EXAMPLE_REQUEST = {
  name: "Crypto News Agent",
  description: "Summarises the day's crypto news.",
  category: "crypto",
  tags: ["news"],
  api_endpoint: "https://api.example.com/agent/abc123",
  pricing: { model: "per_call", price_per_call: 0.02 },
} as const;

/** The example request with `patch` applied to it (and `pricingPatch` to its pricing). */
function withChanges(patch: Record<string, unknown>, pricingPatch: Record<string, unknown> = {}): unknown {
  return { ...EXAMPLE_REQUEST, ...patch, pricing: { ...EXAMPLE_REQUEST.pricing, ...pricingPatch } };
}

/** The paths of the issues of a failed parse, as dotted strings. */
function issuePaths(result: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }): string[] {
  expect(result.success).toBe(false);
  return (result.error?.issues ?? []).map((issue) => issue.path.map(String).join("."));
}

describe("RegisterAgentRequest", () => {
  it("accepts a complete example request unchanged", () => {
    const result = RegisterAgentRequest.safeParse(EXAMPLE_REQUEST);
    expect(result.success).toBe(true);
    expect(result.data).toEqual(EXAMPLE_REQUEST);
  });

  it("accepts the optional fields", () => {
    const result = RegisterAgentRequest.safeParse(
      withChanges({ version: "1.2.0" }, { currency: "USD", tier: "standard", min_calls: 1 }),
    );
    expect(result.success).toBe(true);
  });

  it("accepts a request without tags, and trims the name", () => {
    const { tags: _tags, ...withoutTags } = EXAMPLE_REQUEST;
    expect(RegisterAgentRequest.safeParse(withoutTags).success).toBe(true);
    expect(RegisterAgentRequest.parse(withChanges({ name: "  Crypto News  " })).name).toBe("Crypto News");
  });

  it.each<[string, string | number]>([
    ["a string price", "0.02"],
    ["the smallest price", 0.000001],
    ["the smallest price as a string", "0.000001"],
    ["the largest price", 1000],
    ["the largest price as a six-decimal string", "1000.000000"],
    ["six decimals", 12.345678],
  ])("accepts %s (%s)", (_label, price) => {
    expect(RegisterAgentRequest.safeParse(withChanges({}, { price_per_call: price })).success).toBe(true);
  });

  it.each<[string, unknown]>([
    ["a negative price", -0.02],
    ["a negative price string", "-0.02"],
    ["a zero price", 0],
    ["a zero price string", "0.000000"],
    ["a price with 7 decimals", 0.0000001],
    ["a price string with 7 decimals", "0.0200001"],
    ["one micro above 1000", 1000.000001],
    ["a price above 1000", 1001],
    ["a price string above 1000", "1000.000001"],
    ["the float sum 0.1 + 0.2", 0.1 + 0.2],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["exponent notation", "2e-2"],
    ["a word", "cheap"],
    ["null", null],
    ["a boolean", true],
  ])("refuses %s", (_label, price) => {
    const result = RegisterAgentRequest.safeParse(withChanges({}, { price_per_call: price }));
    expect(issuePaths(result)).toContain("pricing.price_per_call");
  });

  it("refuses an unknown extra field, at the top and in pricing", () => {
    expect(issuePaths(RegisterAgentRequest.safeParse(withChanges({ owner_id: "acct_12345678" })))).toContain(
      "",
    );
    expect(RegisterAgentRequest.safeParse(withChanges({}, { discount: 0.5 })).success).toBe(false);
  });

  it.each<[string, string]>([
    ["upper-case", "Crypto"],
    ["all upper-case", "CRYPTO"],
    ["a space", "crypto news"],
    ["a leading dash", "-crypto"],
    ["an underscore", "crypto_news"],
    ["empty", ""],
    ["41 characters", "a".repeat(41)],
  ])("refuses a category slug with %s", (_label, category) => {
    expect(issuePaths(RegisterAgentRequest.safeParse(withChanges({ category })))).toContain("category");
  });

  it("accepts a category slug with digits and dashes", () => {
    expect(RegisterAgentRequest.safeParse(withChanges({ category: "web3-news-2" })).success).toBe(true);
  });

  it.each([
    "ftp://api.example.com/agent",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "mailto:seller@example.com",
    "ws://api.example.com/agent",
    "api.example.com/agent",
    "not a url",
    "",
  ])("refuses the endpoint %j", (api_endpoint) => {
    expect(issuePaths(RegisterAgentRequest.safeParse(withChanges({ api_endpoint })))).toContain(
      "api_endpoint",
    );
  });

  it("accepts an http or https endpoint", () => {
    expect(
      RegisterAgentRequest.safeParse(withChanges({ api_endpoint: "http://api.example.com/a" })).success,
    ).toBe(true);
    expect(
      RegisterAgentRequest.safeParse(withChanges({ api_endpoint: "https://api.example.com:8443/a?x=1" }))
        .success,
    ).toBe(true);
  });

  it("refuses duplicate tags, bad tags and more than 20 tags", () => {
    expect(issuePaths(RegisterAgentRequest.safeParse(withChanges({ tags: ["news", "news"] })))).toContain(
      "tags",
    );
    expect(RegisterAgentRequest.safeParse(withChanges({ tags: ["news", "defi", "news"] })).success).toBe(
      false,
    );
    expect(RegisterAgentRequest.safeParse(withChanges({ tags: ["News"] })).success).toBe(false);
    const many = Array.from({ length: 21 }, (_, i) => `tag-${i}`);
    expect(RegisterAgentRequest.safeParse(withChanges({ tags: many })).success).toBe(false);
    expect(RegisterAgentRequest.safeParse(withChanges({ tags: many.slice(0, 20) })).success).toBe(true);
  });

  it("refuses missing required fields, a blank name and another pricing model or currency", () => {
    for (const field of ["name", "description", "category", "api_endpoint", "pricing"] as const) {
      const { [field]: _dropped, ...rest } = EXAMPLE_REQUEST;
      expect(issuePaths(RegisterAgentRequest.safeParse(rest))).toContain(field);
    }
    expect(RegisterAgentRequest.safeParse(withChanges({ name: "   " })).success).toBe(false);
    expect(RegisterAgentRequest.safeParse(withChanges({ description: "x".repeat(2001) })).success).toBe(
      false,
    );
    expect(RegisterAgentRequest.safeParse(withChanges({}, { model: "subscription" })).success).toBe(false);
    expect(RegisterAgentRequest.safeParse(withChanges({}, { currency: "EUR" })).success).toBe(false);
    expect(RegisterAgentRequest.safeParse(withChanges({}, { min_calls: 0 })).success).toBe(false);
    expect(RegisterAgentRequest.safeParse(null).success).toBe(false);
    expect(RegisterAgentRequest.safeParse([]).success).toBe(false);
  });
});

describe("PricePerCallInput", () => {
  it("caps prices at 1000 USD", () => {
    expect(MAX_PRICE_PER_CALL_MICROS).toBe(1_000_000_000n);
  });

  it("property: accepts exactly the amounts in (0, 1000] USD", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_PRICE_PER_CALL_MICROS * 2n }), (micros) => {
        const text = `${micros / 1_000_000n}.${(micros % 1_000_000n).toString().padStart(6, "0")}`;
        const expected = micros > 0n && micros <= MAX_PRICE_PER_CALL_MICROS;
        expect(PricePerCallInput.safeParse(text).success).toBe(expected);
        expect(PricePerCallInput.safeParse(Number(text)).success).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});

describe("UpdateAgentRequest", () => {
  it("refuses an empty object", () => {
    const result = UpdateAgentRequest.safeParse({});
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe("must change at least one field");
  });

  it("accepts any one field", () => {
    for (const patch of [
      { name: "New name" },
      { description: "" },
      { category: "defi" },
      { tags: [] },
      { version: "2.0.0" },
      { api_endpoint: "https://api.example.com/v2" },
      { status: "inactive" },
      { status: "active" },
      { pricing: { price_per_call: "0.05" } },
    ]) {
      expect(UpdateAgentRequest.safeParse(patch).success).toBe(true);
    }
  });

  it("applies the registration's rules to the fields it changes", () => {
    expect(UpdateAgentRequest.safeParse({ status: "down" }).success).toBe(false);
    expect(UpdateAgentRequest.safeParse({ category: "DeFi" }).success).toBe(false);
    expect(UpdateAgentRequest.safeParse({ tags: ["a", "a"] }).success).toBe(false);
    expect(UpdateAgentRequest.safeParse({ api_endpoint: "ftp://x.example.com" }).success).toBe(false);
    expect(UpdateAgentRequest.safeParse({ pricing: { price_per_call: 0 } }).success).toBe(false);
    expect(UpdateAgentRequest.safeParse({ pricing: { price_per_call: "0.0000001" } }).success).toBe(false);
    expect(UpdateAgentRequest.safeParse({ pricing: { price_per_call: 1000.5 } }).success).toBe(false);
    expect(UpdateAgentRequest.safeParse({ owner_id: "acct_12345678" }).success).toBe(false);
    expect(UpdateAgentRequest.safeParse({ pricing: { price_per_call: 0.05, extra: 1 } }).success).toBe(false);
  });
});

describe("SearchAgentsQuery", () => {
  it("accepts an empty query and every documented sort", () => {
    expect(SearchAgentsQuery.safeParse({}).success).toBe(true);
    for (const sort of ["cost_per_success", "trust_score_desc", "price_asc", "response_time_asc"]) {
      expect(SearchAgentsQuery.parse({ sort }).sort).toBe(sort);
    }
  });

  it.each(["newest", "price_desc", "COST_PER_SUCCESS", ""])("refuses the unknown sort %j", (sort) => {
    expect(issuePaths(SearchAgentsQuery.safeParse({ sort }))).toContain("sort");
  });

  it.each<unknown>([0, 101, "0", "101", -1, 5.5, "5.5", "abc"])("refuses limit %j", (limit) => {
    expect(issuePaths(SearchAgentsQuery.safeParse({ limit }))).toContain("limit");
  });

  it("coerces a query-string limit to a number", () => {
    expect(SearchAgentsQuery.parse({ limit: "5" })).toEqual({ limit: 5 });
    expect(SearchAgentsQuery.parse({ limit: "1" }).limit).toBe(1);
    expect(SearchAgentsQuery.parse({ limit: "100" }).limit).toBe(100);
    expect(SearchAgentsQuery.parse({ limit: 20 }).limit).toBe(20);
  });

  it("coerces min_trust within [0, 1] and checks max_price as a USD amount", () => {
    expect(SearchAgentsQuery.parse({ min_trust: "0.5" }).min_trust).toBe(0.5);
    expect(SearchAgentsQuery.safeParse({ min_trust: "1.5" }).success).toBe(false);
    expect(SearchAgentsQuery.safeParse({ min_trust: "-0.1" }).success).toBe(false);
    expect(SearchAgentsQuery.parse({ max_price: "0.02" }).max_price).toBe("0.02");
    expect(SearchAgentsQuery.safeParse({ max_price: "0.0000001" }).success).toBe(false);
    expect(SearchAgentsQuery.safeParse({ max_price: "-1" }).success).toBe(false);
    expect(SearchAgentsQuery.safeParse({ max_price: "abc" }).success).toBe(false);
  });

  it("accepts tags as a string or a repeated parameter, and refuses unknown parameters", () => {
    expect(SearchAgentsQuery.parse({ tags: "news,defi" }).tags).toBe("news,defi");
    expect(SearchAgentsQuery.parse({ tags: ["news", "defi"] }).tags).toEqual(["news", "defi"]);
    expect(SearchAgentsQuery.safeParse({ category: "Crypto" }).success).toBe(false);
    expect(SearchAgentsQuery.safeParse({ page: "2" }).success).toBe(false);
  });
});

describe("common schemas", () => {
  it("Slug is lower-case letters, digits and dashes", () => {
    expect(Slug.safeParse("crypto").success).toBe(true);
    expect(Slug.safeParse("0x-news").success).toBe(true);
    expect(Slug.safeParse("Crypto").success).toBe(false);
    expect(Slug.safeParse("-x").success).toBe(false);
  });

  it("UsdAmountInput accepts exact non-negative amounts, including zero", () => {
    expect(UsdAmountInput.safeParse("0").success).toBe(true);
    expect(UsdAmountInput.safeParse(0.02).success).toBe(true);
    expect(UsdAmountInput.safeParse(-0.02).success).toBe(false);
    expect(UsdAmountInput.safeParse("0.0000001").success).toBe(false);
  });

  it("property: UsdAmount accepts what formatUsd writes and UsdAmountInput what parseUsd reads", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX_MICROS }), (micros) => {
        const text = `${micros / 1_000_000n}.${(micros % 1_000_000n).toString().padStart(6, "0")}`;
        expect(UsdAmount.safeParse(text).success).toBe(true);
        expect(UsdAmountInput.safeParse(text).success).toBe(true);
        expect(parseUsd(text)).toBe(micros);
      }),
    );
  });
});
