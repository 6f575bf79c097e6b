import { describe, expect, it } from "vitest";
import { directOutcome } from "./serve-direct.js";

const answer = (status: number) => ({ status, headers: {}, body: "" });

describe("directOutcome", () => {
  it("owes a success only when the caller received it", () => {
    expect(directOutcome(answer(200), false)).toBe("success");
    expect(directOutcome(answer(200), true)).toBe("failure");
  });

  it("counts a 400 as the buyer's fault, anything else (or no answer) as a failure", () => {
    expect(directOutcome(answer(400), false)).toBe("client_error");
    expect(directOutcome(answer(400), true)).toBe("client_error");
    expect(directOutcome(answer(500), false)).toBe("failure");
    expect(directOutcome(answer(504), false)).toBe("failure");
    expect(directOutcome(undefined, false)).toBe("failure");
  });
});
