import { RegisterAgentRequest } from "@mercato/protocol";
import { expect, it } from "vitest";
import { scoreSentiment, sentimentScorerManifest } from "./sentiment-scorer.js";

it("scores positive news above zero", () => {
  const result = scoreSentiment({ text: "Bitcoin rallies to a record as ETF inflows surge" });
  expect(result.label).toBe("positive");
  expect(result.matches.map((m) => m.word)).toEqual(["rallies", "record", "inflows", "surge"]);
  // sum 8: 8 / sqrt(64 + 15)
  expect(result.score).toBe(0.9001);
});

it("scores negative news below zero", () => {
  const result = scoreSentiment({ text: "Exchange hacked: a crash follows the exploit" });
  // hacked, crash, exploit: −9 / sqrt(81 + 15)
  expect(result).toMatchObject({ label: "negative", score: -0.9186 });
});

it("flips a word after a negator", () => {
  expect(scoreSentiment({ text: "The market is not bullish" }).matches).toEqual([
    { word: "bullish", weight: -3 },
  ]);
  expect(scoreSentiment({ text: "The market is not bullish" }).label).toBe("negative");
});

it("is neutral without lexicon words, and always within [-1, 1]", () => {
  expect(scoreSentiment({ text: "Developers met on Tuesday" })).toMatchObject({
    score: 0,
    label: "neutral",
    words: 4,
  });
  const extreme = scoreSentiment({ text: "moon ".repeat(1000) });
  expect(extreme.score).toBeLessThanOrEqual(1);
  expect(extreme.score).toBeGreaterThan(0.99);
});

it("registers in crypto", () => {
  expect(
    RegisterAgentRequest.parse(sentimentScorerManifest("http://127.0.0.1:5053/sentiment")).category,
  ).toBe("crypto");
});
