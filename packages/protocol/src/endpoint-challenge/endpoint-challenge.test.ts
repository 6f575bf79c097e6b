import { describe, expect, it } from "vitest";
import { challengeFailure, challengeTokenOf, challengeUrl } from "./endpoint-challenge.js";

const TOKEN = "tok_0123456789abcdefghijkl";
const LISTING = { agentId: "agent_victim", ownerId: "acct_victim" };

describe("endpoint challenges", () => {
  it("appends the challenge path to the endpoint's path, keeping its query", () => {
    expect(challengeUrl("https://seller.example/agent", TOKEN)).toBe(
      `https://seller.example/agent/.well-known/mercato-challenge/${TOKEN}`,
    );
    expect(challengeUrl("https://seller.example/a/?x=1", TOKEN)).toBe(
      `https://seller.example/a/.well-known/mercato-challenge/${TOKEN}?x=1`,
    );
    expect(challengeUrl("https://seller.example", TOKEN)).toBe(
      `https://seller.example/.well-known/mercato-challenge/${TOKEN}`,
    );
  });

  it("reads the token of a challenge path, and nothing else", () => {
    expect(challengeTokenOf(`/agent/.well-known/mercato-challenge/${TOKEN}?x=1`)).toBe(TOKEN);
    expect(challengeTokenOf("/agent/.well-known/mercato-challenge/short")).toBeUndefined();
    expect(challengeTokenOf(`/agent/.well-known/mercato-challenge/${TOKEN}/more`)).toBeUndefined();
    expect(challengeTokenOf("/agent/health")).toBeUndefined();
  });

  it("accepts an answer naming the listing's owner or the listing, with the token sent", () => {
    expect(challengeFailure({ token: TOKEN, owner: "acct_victim" }, TOKEN, LISTING)).toBeUndefined();
    expect(challengeFailure({ token: TOKEN, agents: ["agent_victim"] }, TOKEN, LISTING)).toBeUndefined();
  });

  it("refuses an answer for another account or listing (an impostor's), another token, or no answer", () => {
    expect(
      challengeFailure({ token: TOKEN, owner: "acct_victim" }, TOKEN, {
        agentId: "agent_impostor",
        ownerId: "acct_impostor",
      }),
    ).toContain("serves owner acct_victim, not this listing (agent_impostor of acct_impostor)");
    expect(challengeFailure({ token: TOKEN, agents: ["agent_other"] }, TOKEN, LISTING)).toContain(
      "serves agents agent_other",
    );
    expect(challengeFailure({ token: "other", owner: "acct_victim" }, TOKEN, LISTING)).toContain(
      "another challenge token",
    );
    expect(challengeFailure({ token: TOKEN }, TOKEN, LISTING)).toContain("without naming");
    expect(challengeFailure("ok", TOKEN, LISTING)).toContain("not a challenge answer");
  });
});
