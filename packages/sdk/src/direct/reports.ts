import type { UsageReport } from "../client/types.js";

/** One direct call's outcome, as `POST /usage/reports` takes it. */
export type UsageReportEntry = UsageReport["reports"][number];

/** How often buffered outcomes of direct calls are sent to the broker, in ms. */
export const USAGE_REPORT_INTERVAL_MS = 10_000;

/** Most outcomes one `POST /usage/reports` carries (the broker's limit). */
const MAX_BATCH = 1000;

/** Buffers direct calls' outcomes and sends them in batches. */
export interface UsageReporter {
  /** Buffers an outcome, to be sent with `key` (a key of the grant's buyer). */
  add(key: string, entry: UsageReportEntry): void;
  /** Sends what is buffered now. Never rejects: outcomes are metrics, not money. */
  flush(): Promise<void>;
}

/**
 * A {@link UsageReporter} that sends through `send`, grouped by key in batches of at most 1,000,
 * every `intervalMs` while something is buffered (one timer, started by the first outcome and
 * `unref`'d so it never keeps a process alive). A batch that fails to send is dropped.
 */
export function createUsageReporter(
  send: (key: string, reports: UsageReportEntry[]) => Promise<unknown>,
  intervalMs = USAGE_REPORT_INTERVAL_MS,
): UsageReporter {
  const buffered = new Map<string, UsageReportEntry[]>();
  let timer: ReturnType<typeof setTimeout> | undefined;

  const flush = async (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    const batches: Array<Promise<unknown>> = [];
    for (const [key, entries] of buffered) {
      for (let start = 0; start < entries.length; start += MAX_BATCH) {
        const reports = entries.slice(start, start + MAX_BATCH);
        batches.push(send(key, reports).catch(() => undefined));
      }
    }
    buffered.clear();
    await Promise.all(batches);
  };

  return {
    add(key, entry) {
      const entries = buffered.get(key);
      if (entries) entries.push(entry);
      else buffered.set(key, [entry]);
      if (timer === undefined) {
        timer = setTimeout(() => void flush(), intervalMs);
        // Node's timers can be unref'd, a browser's are numbers.
        (timer as { unref?: () => void }).unref?.();
      }
    },
    flush,
  };
}
