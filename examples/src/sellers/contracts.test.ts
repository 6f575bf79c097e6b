// Every example seller declares its contract: zod input and output schemas the kit checks and
// serves as JSON Schema, and answers that keep the promise for the inputs the demo sends.
import { type SellerKit, type StandardSchemaV1, sellerKit } from "@mercato/seller-kit";
import { afterEach, describe, expect, it, vi } from "vitest";
import { gasTracker } from "./gas-tracker.js";
import { NEWS_FEED, newsSummarizer } from "./news-summarizer.js";
import { portfolioRisk } from "./portfolio-risk.js";
import { priceOracle } from "./price-oracle.js";
import type { SellerDefinition } from "./run-seller.js";
import { sentimentScorer } from "./sentiment-scorer.js";

afterEach(() => {
  vi.restoreAllMocks();
});

const encoder = new TextEncoder();

/** The definition behind a kit taking unsigned calls (the contract does not depend on signatures). */
function kitOf(definition: SellerDefinition<StandardSchemaV1, StandardSchemaV1>): SellerKit {
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
  return sellerKit({
    verify: false,
    input: definition.input,
    output: definition.output,
    handler: (input) => definition.handler(input, { name: definition.defaultName }),
  });
}

async function call(kit: SellerKit, input: unknown) {
  const answer = await kit.handle({
    method: "POST",
    target: "/agent",
    headers: () => undefined,
    body: encoder.encode(JSON.stringify({ input, call_id: "c1", timeout_ms: 5000 })),
  });
  return { status: answer.status, json: JSON.parse(answer.body) as { output?: unknown } };
}

const sellers = [
  [newsSummarizer, [{ topic: "bitcoin" }, { topic: "nothing-matches" }, { text: NEWS_FEED[0]?.body }, {}]],
  [priceOracle, [{ symbol: "btc" }, { symbol: "ETH" }]],
  [sentimentScorer, [{ text: "Bitcoin ETFs log a record week of inflows" }, { text: "flat" }]],
  [gasTracker, [{ chain: "eth" }, { chain: "sol" }]],
  [
    portfolioRisk,
    [
      {
        holdings: [
          { symbol: "BTC", amount: "0.5" },
          { symbol: "ETH", amount: "2" },
        ],
      },
    ],
  ],
] as const;

describe.each(sellers)("$program", (definition, inputs) => {
  const kit = () => kitOf(definition as unknown as SellerDefinition<StandardSchemaV1, StandardSchemaV1>);

  it("serves both schemas as JSON Schema (draft 2020-12)", () => {
    const { input_schema, output_schema } = kit().contract;
    expect(input_schema).toMatchObject({ $schema: "https://json-schema.org/draft/2020-12/schema" });
    expect(output_schema).toMatchObject({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      additionalProperties: false,
    });
  });

  it("keeps its output promise for the inputs the demo sends", async () => {
    const served = kit();
    for (const input of inputs)
      expect(await call(served, input), JSON.stringify(input)).toMatchObject({ status: 200 });
  });
});
