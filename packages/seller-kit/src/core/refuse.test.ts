import { MercatoError } from "@mercato/protocol";
import { describe, expect, it, vi } from "vitest";
import { createMeter } from "../metering/index.js";
import { createRefusals, failRequest } from "./refuse.js";

function setUp() {
  const meter = createMeter(0);
  const report = vi.fn();
  const counted = vi.fn();
  return { meter, report, counted, refusals: createRefusals({ meter, report, counted }) };
}

describe("createRefusals", () => {
  it("counts a refusal as rejected (and to counted), and answers its envelope", () => {
    const { meter, counted, refusals } = setUp();
    const answer = refusals.refuse(new MercatoError("INVALID_JSON", "nope"), "req_1");
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error).toMatchObject({ code: "INVALID_JSON", request_id: "req_1" });
    expect(meter.stats().rejected).toBe(1);
    expect(counted).toHaveBeenCalledOnce();
  });

  it("shows the caller's fault, and answers 503 keys_unavailable (reported) for anything else", () => {
    const { report, refusals } = setUp();
    const forged = new MercatoError("UNAUTHENTICATED", "bad", { details: { reason: "bad_signature" } });
    expect(refusals.refuseUnverified(forged, "req_1").status).toBe(401);
    expect(report).not.toHaveBeenCalled();

    const down = new Error("jwks unreachable");
    const answer = refusals.refuseUnverified(down, "req_2");
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body).error.details).toEqual({ reason: "keys_unavailable" });
    expect(report).toHaveBeenCalledWith(down, {
      stage: "verification",
      requestId: "req_2",
      callId: undefined,
      timeoutMs: undefined,
    });
  });
});

describe("failRequest", () => {
  it("refuses a 4xx MercatoError as is, hides anything else behind a reported 500", () => {
    const { meter, report, refusals } = setUp();
    expect(
      failRequest(refusals, report, new MercatoError("INVALID_JSON", "x"), "request", "req_1").status,
    ).toBe(400);
    expect(meter.stats().rejected).toBe(1);

    const answer = failRequest(refusals, report, new Error("secret"), "request", "req_2");
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body).error.message).toBe("The seller kit failed");
    expect(report).toHaveBeenCalledOnce();

    const internal = new MercatoError("INTERNAL_ERROR", "Express parsed the body already");
    expect(JSON.parse(failRequest(refusals, report, internal, "request", "req_3").body).error.message).toBe(
      "Express parsed the body already",
    );
  });
});
