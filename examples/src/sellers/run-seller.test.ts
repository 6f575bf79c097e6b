import { isMercatoError } from "@mercato/protocol";
import { describe, expect, it } from "vitest";
import { priceOracle } from "./price-oracle.js";
import {
  createFailureSchedule,
  DEFAULT_BROKER_URL,
  failsAt,
  parseRatePpm,
  parseSellerSettings,
  startSeller,
} from "./run-seller.js";

const failures = (ratePpm: number, from: number, count: number) =>
  Array.from({ length: count }, (_, i) => failsAt(from + i, ratePpm)).filter(Boolean).length;

describe("the failure schedule", () => {
  it("fails every second call at 0.5, starting with the second", () => {
    const schedule = createFailureSchedule(parseRatePpm("0.5"));
    expect(Array.from({ length: 6 }, () => schedule.next())).toEqual([false, true, false, true, false, true]);
    expect(schedule.calls).toBe(6);
    expect(schedule.failures).toBe(3);
  });

  it("fails every fourth call at 0.25, never at 0 and always at 1", () => {
    expect(Array.from({ length: 8 }, (_, n) => failsAt(n, 250_000))).toEqual([
      false,
      false,
      false,
      true,
      false,
      false,
      false,
      true,
    ]);
    expect(failures(0, 0, 1000)).toBe(0);
    expect(failures(1_000_000, 0, 1000)).toBe(1000);
  });

  it("spreads failures evenly: any k calls in a row hold floor or ceil of k × rate", () => {
    for (const rate of ["0.1", "0.3", "0.5", "0.57", "0.9", "0.333333"]) {
      const ppm = parseRatePpm(rate);
      expect(failures(ppm, 0, 1000)).toBe(Math.floor((1000 * ppm) / 1_000_000));
      for (const k of [1, 7, 10, 100]) {
        for (const start of [0, 3, 41, 997]) {
          const seen = failures(ppm, start, k);
          expect(seen).toBeGreaterThanOrEqual(Math.floor((k * ppm) / 1_000_000));
          expect(seen).toBeLessThanOrEqual(Math.ceil((k * ppm) / 1_000_000));
        }
      }
    }
  });

  it("reads rates exactly, where floats would round (0.57 × 100 = 56.99999…)", () => {
    expect(parseRatePpm("0.57")).toBe(570_000);
    expect(failures(parseRatePpm("0.57"), 0, 100)).toBe(57);
    expect(parseRatePpm("1")).toBe(1_000_000);
    expect(parseRatePpm(" 0 ")).toBe(0);
    for (const bad of ["1.5", "-0.1", "abc", "0.1234567", "", "1e-3"]) {
      expect(() => parseRatePpm(bad, "FAIL_RATE")).toThrow(/FAIL_RATE/);
    }
  });
});

describe("settings", () => {
  const defaults = { name: "Oracle", priceUsd: "0.002" };

  it("defaults to a free port and the local broker", () => {
    expect(parseSellerSettings([], { MERCATO_OWNER: "acct_seller" }, defaults)).toEqual({
      port: 0,
      brokerUrl: DEFAULT_BROKER_URL,
      name: "Oracle",
      priceUsd: "0.002",
      failRatePpm: 0,
      failAfterMs: 0,
      register: false,
      apiKey: undefined,
      owner: "acct_seller",
    });
  });

  it("reads how long a failing call takes, in whole milliseconds up to a minute", () => {
    const settings = (env: Record<string, string>, argv: string[] = []) =>
      parseSellerSettings(argv, { MERCATO_OWNER: "acct_seller", ...env }, defaults);
    expect(settings({ FAIL_AFTER_MS: "1000" }).failAfterMs).toBe(1_000);
    expect(settings({ FAIL_AFTER_MS: "1000" }, ["--fail-after", "250"]).failAfterMs).toBe(250);
    for (const bad of ["-1", "1.5", "60001", "abc"]) {
      expect(() => settings({ FAIL_AFTER_MS: bad })).toThrow(/FAIL_AFTER_MS/);
    }
  });

  it("reads the environment, and a flag wins over its variable", () => {
    const env = {
      MERCATO_OWNER: "acct_seller",
      PORT: "5051",
      MERCATO_URL: "http://127.0.0.1:9999/",
      SELLER_NAME: "Digest",
      SELLER_PRICE: "0.012",
      FAIL_RATE: "0.5",
    };
    expect(parseSellerSettings([], env, defaults)).toMatchObject({
      port: 5051,
      brokerUrl: "http://127.0.0.1:9999",
      name: "Digest",
      priceUsd: "0.012",
      failRatePpm: 500_000,
    });
    expect(parseSellerSettings(["--port", "6000", "--fail-rate", "0.25"], env, defaults)).toMatchObject({
      port: 6000,
      failRatePpm: 250_000,
    });
  });

  it("names the setting that is wrong", () => {
    const refused = (argv: string[], env: Record<string, string>) => {
      try {
        parseSellerSettings(argv, env, defaults);
      } catch (error) {
        expect(isMercatoError(error) && error.code === "VALIDATION_ERROR").toBe(true);
        return (error as Error).message;
      }
      throw new Error("accepted");
    };
    const owned = { MERCATO_OWNER: "acct_seller" };
    expect(refused([], { ...owned, PORT: "http" })).toMatch(/^PORT /);
    expect(refused(["--port", "70000"], owned)).toMatch(/^--port /);
    expect(refused([], { ...owned, MERCATO_URL: "ftp://x" })).toMatch(/^MERCATO_URL /);
    expect(refused(["--price", "0.0000001"], owned)).toMatch(/^--price /);
    expect(refused([], { ...owned, FAIL_RATE: "2" })).toMatch(/^FAIL_RATE /);
    expect(refused(["--register"], owned)).toMatch(/MERCATO_API_KEY/);
    expect(refused(["--colour"], owned)).toMatch(/colour/);
    // The kit serves only its owner's listings: it must know whose.
    expect(refused([], {})).toMatch(/^--owner is required/);
    expect(refused(["--owner", "ada"], {})).toMatch(/^--owner must be an account id/);
  });
});

describe("startSeller", () => {
  it("prints one listening line, serves health checks and refuses unsigned calls", async () => {
    const lines: string[] = [];
    const running = await startSeller(priceOracle, {
      argv: ["--broker", "http://127.0.0.1:9", "--owner", "acct_seller"],
      env: {},
      stdout: (line) => lines.push(line),
      stderr: (line) => lines.push(`stderr: ${line}`),
    });
    try {
      expect(lines).toEqual([`listening on ${running.url}`]);
      expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/price$/);
      const health = await fetch(`${running.url}/health`);
      expect(health.status).toBe(200);
      const unsigned = await fetch(running.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ input: { symbol: "BTC" }, call_id: "call_1", timeout_ms: 1000 }),
      });
      expect(unsigned.status).toBe(401);
      expect(running.kit.stats().rejected).toBe(1);
    } finally {
      await running.close();
    }
  });
});
