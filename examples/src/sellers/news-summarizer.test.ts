import { RegisterAgentRequest } from "@mercato/protocol";
import { describe, expect, it } from "vitest";
import {
  extractSummary,
  NEWS_FEED,
  NewsSummaryInput,
  newsSummarizerManifest,
  splitSentences,
  summarizeNews,
} from "./news-summarizer.js";

describe("summarizeNews", () => {
  it("summarizes one topic of the feed: headlines newest first and three sentences", () => {
    const summary = summarizeNews({ topic: "bitcoin" }, { name: "Pro" });
    expect(summary.source).toBe("feed");
    expect(summary.items).toBe(3);
    expect(summary.headlines).toEqual([
      "Bitcoin ETFs log a record week of inflows",
      "Bitcoin miners sell less as hashprice recovers",
      "Lightning payments grow as wallets add stablecoin support",
    ]);
    expect(splitSentences(summary.summary)).toHaveLength(3);
    expect(summary.edition).toBe("Pro");
  });

  it("gives the same answer every time", () => {
    const input = NewsSummaryInput.parse({ topic: "Ethereum" });
    expect(summarizeNews(input)).toEqual(summarizeNews(input));
    expect(summarizeNews(input).headlines[0]).toBe(
      "Ethereum developers set a date for the next network upgrade",
    );
  });

  it("summarizes the whole feed without a topic, at most five headlines", () => {
    const summary = summarizeNews({});
    expect(summary.items).toBe(NEWS_FEED.length);
    expect(summary.headlines).toHaveLength(5);
  });

  it("answers an empty summary for a topic no story is about", () => {
    expect(summarizeNews({ topic: "tulips" })).toMatchObject({ items: 0, headlines: [] });
  });

  it("summarizes a given text instead of the feed", () => {
    const text =
      "Bitcoin rose 4% today. ETF inflows hit a record as bitcoin funds grew. Weather was mild. Bitcoin ETF demand stayed strong.";
    const summary = summarizeNews({ text });
    expect(summary.source).toBe("text");
    expect(summary.headlines).toEqual(["Bitcoin rose 4% today."]);
    expect(summary.summary).not.toContain("Weather");
    expect(splitSentences(summary.summary)).toHaveLength(2);
  });
});

describe("extractSummary", () => {
  it("keeps the chosen sentences in their order", () => {
    const sentences = ["Cats sleep.", "Bitcoin bitcoin rallies.", "Dogs bark.", "Bitcoin rallies again."];
    expect(extractSummary(sentences, 2)).toBe("Bitcoin bitcoin rallies. Bitcoin rallies again.");
  });
});

describe("newsSummarizerManifest", () => {
  it("is a valid crypto registration tagged news and summary, with overrides", () => {
    const manifest = newsSummarizerManifest("http://127.0.0.1:5051/summarize", {
      name: "Crypto News Digest",
      pricing: { model: "per_call", price_per_call: "0.012" },
    });
    expect(RegisterAgentRequest.parse(manifest)).toMatchObject({
      name: "Crypto News Digest",
      category: "crypto",
      api_endpoint: "http://127.0.0.1:5051/summarize",
    });
    expect(manifest.tags).toEqual(expect.arrayContaining(["news", "summary"]));
  });
});
