import type { VerifiedCall } from "@mercato/protocol";
import { describe, expect, it } from "vitest";
import { createReplayGuard } from "../verification/index.js";
import { checkReplay } from "./replay-check.js";

const T = 1_800_000_000;
const call = (callId: string) => ({ callId, timestamp: T }) as VerifiedCall;

describe("checkReplay", () => {
  it("refuses a replay with 401 and a new call with 503 while the guard is full", () => {
    const guard = createReplayGuard(300, 2);
    expect(checkReplay(guard, call("a"), T * 1000)).toBeUndefined();
    expect(checkReplay(guard, call("b"), T * 1000)).toBeUndefined();
    const replay = checkReplay(guard, call("a"), T * 1000 + 1);
    expect(replay?.status).toBe(401);
    expect(replay?.details).toMatchObject({ reason: "replayed" });
    const full = checkReplay(guard, call("c"), T * 1000 + 2);
    expect(full?.code).toBe("SERVICE_UNAVAILABLE");
    expect(full?.status).toBe(503);
    expect(full?.details).toMatchObject({ reason: "replay_guard_full" });
  });
});
