import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SPINNER_DELAY_MS, withSpinner } from "./spinner.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function deferred<T>() {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("withSpinner", () => {
  it("stays invisible for a quick answer", async () => {
    const written: string[] = [];
    const work = deferred<number>();
    const running = withSpinner(
      { enabled: true, write: (t) => void written.push(t), label: "Working" },
      work.promise,
    );
    await vi.advanceTimersByTimeAsync(SPINNER_DELAY_MS - 1);
    work.resolve(7);
    expect(await running).toBe(7);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(written).toEqual([]);
  });

  it("spins on a long wait, then erases its line", async () => {
    const written: string[] = [];
    const work = deferred<string>();
    const running = withSpinner(
      { enabled: true, write: (t) => void written.push(t), label: "Working" },
      work.promise,
    );
    await vi.advanceTimersByTimeAsync(SPINNER_DELAY_MS + 200);
    expect(written.length).toBeGreaterThanOrEqual(3);
    expect(written[0]).toMatch(/^\r. Working$/);
    work.resolve("done");
    expect(await running).toBe("done");
    expect(written.at(-1)).toBe("\r\u001b[2K");
    const count = written.length;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(written).toHaveLength(count);
  });

  it("erases its line when the work fails, and passes the failure on", async () => {
    const written: string[] = [];
    const work = deferred<never>();
    const running = withSpinner(
      { enabled: true, write: (t) => void written.push(t), label: "x" },
      work.promise.then(() => {
        throw new Error("broker down");
      }),
    );
    const failed = expect(running).rejects.toThrow("broker down");
    await vi.advanceTimersByTimeAsync(SPINNER_DELAY_MS + 100);
    work.resolve(undefined as never);
    await failed;
    expect(written.at(-1)).toBe("\r\u001b[2K");
  });

  it("writes nothing when disabled", async () => {
    const written: string[] = [];
    const work = deferred<number>();
    const running = withSpinner(
      { enabled: false, write: (t) => void written.push(t), label: "x" },
      work.promise,
    );
    await vi.advanceTimersByTimeAsync(5_000);
    work.resolve(1);
    await running;
    expect(written).toEqual([]);
  });
});
