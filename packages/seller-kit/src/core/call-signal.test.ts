import { afterEach, describe, expect, it, vi } from "vitest";
import { startCallSignal } from "./call-signal.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("startCallSignal", () => {
  it("aborts with a TimeoutError once timeout_ms has passed, and says so", () => {
    vi.useFakeTimers();
    const call = startCallSignal(1000, undefined);
    vi.advanceTimersByTime(999);
    expect(call.signal.aborted).toBe(false);
    expect(call.timedOut).toBe(false);
    vi.advanceTimersByTime(1);
    expect(call.signal.aborted).toBe(true);
    expect(call.timedOut).toBe(true);
    expect((call.signal.reason as DOMException).name).toBe("TimeoutError");
    call.dispose();
  });

  it("aborts with an AbortError when the caller goes away, or has already", () => {
    const caller = new AbortController();
    const call = startCallSignal(60_000, caller.signal);
    expect(call.signal.aborted).toBe(false);
    caller.abort();
    expect((call.signal.reason as DOMException).name).toBe("AbortError");
    expect(call.timedOut).toBe(false);
    call.dispose();

    const gone = startCallSignal(60_000, AbortSignal.abort());
    expect((gone.signal.reason as DOMException).name).toBe("AbortError");
    gone.dispose();
  });

  it("stops the timer and the caller's listener once disposed", () => {
    vi.useFakeTimers();
    const caller = new AbortController();
    const call = startCallSignal(1000, caller.signal);
    call.dispose();
    vi.advanceTimersByTime(2000);
    caller.abort();
    expect(call.signal.aborted).toBe(false);
    expect(call.timedOut).toBe(false);
  });

  it("does not abort at once for a timeout_ms too large for a timer", async () => {
    const call = startCallSignal(Number.MAX_SAFE_INTEGER, undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(call.signal.aborted).toBe(false);
    call.dispose();
  });
});
