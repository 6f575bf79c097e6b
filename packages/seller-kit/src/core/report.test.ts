import { afterEach, describe, expect, it, vi } from "vitest";
import { createErrorReport } from "./report.js";
import type { SellerErrorContext } from "./types.js";

afterEach(() => {
  vi.restoreAllMocks();
});

const context: SellerErrorContext = {
  stage: "handler",
  requestId: "req_1",
  callId: "call_1",
  timeoutMs: 5000,
};

describe("createErrorReport", () => {
  it("hands the error and its context to onError", () => {
    const onError = vi.fn();
    const error = new Error("boom");
    createErrorReport(onError)(error, context);
    expect(onError).toHaveBeenCalledWith(error, context);
  });

  it("swallows an onError that throws or rejects", async () => {
    const rejected = vi.fn(() => Promise.reject(new Error("reporter down")));
    expect(() =>
      createErrorReport(() => {
        throw new Error("reporter down");
      })(new Error("boom"), context),
    ).not.toThrow();
    createErrorReport(rejected)(new Error("boom"), context);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(rejected).toHaveBeenCalled();
  });

  it("logs with console.error by default, naming the stage, the call or grant, and the request", () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const report = createErrorReport(undefined);
    report("e1", context);
    report("e2", {
      stage: "redeem",
      requestId: "req_2",
      callId: undefined,
      timeoutMs: undefined,
      grantId: "grt_1",
    });
    expect(log.mock.calls).toEqual([
      ["mercato seller kit: handler failed on call call_1 (request req_1)", "e1"],
      ["mercato seller kit: redeem failed for grant grt_1 (request req_2)", "e2"],
    ]);
  });
});
