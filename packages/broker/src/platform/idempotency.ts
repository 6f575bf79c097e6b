import { MercatoError } from "@mercato/protocol";

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The request's `Idempotency-Key` header (invokes, grants), or undefined without one.
 *
 * @throws MercatoError `VALIDATION_ERROR` for several headers, or a key that is not 1 to 255
 *   printable ASCII characters.
 */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== "string") {
    throw new MercatoError("VALIDATION_ERROR", "Send one Idempotency-Key header, not several");
  }
  if (!IDEMPOTENCY_KEY.test(header)) {
    throw new MercatoError("VALIDATION_ERROR", "Idempotency-Key must be 1 to 255 printable ASCII characters");
  }
  return header;
}

/** How long an invoke's outcome answers its retries when nothing else is configured, ms. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * Most bytes of finished answers kept (64 MiB). Past it the oldest answers go first: at 500 calls a
 * second of 1 KiB answers, a retry gets its answer for about two minutes; after that, CONFLICT.
 */
export const IDEMPOTENCY_MAX_BYTES = 64 * 1024 * 1024;
/** Most finished answers kept, whatever their size. */
export const IDEMPOTENCY_MAX_ANSWERS = 100_000;

/** The first outcome of an idempotent invoke: the answer it sent, or the error it answered with. */
export type InvokeOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

interface Entry<T> {
  fingerprint: string;
  outcome: Promise<InvokeOutcome<T>>;
  /** Size of the kept answer in bytes, once known (0 while running). */
  bytes: number;
  until: number;
}

/** Options of {@link createIdempotencyCache}. */
export interface IdempotencyCacheOptions {
  /** How long a finished call's answer is kept for retries, ms (default 24 h). */
  ttlMs?: number;
  /** Most bytes of answers kept, as `sizeOf` counts them; the oldest finished ones go first (default 64 MiB). */
  maxBytes?: number;
  /** Most finished answers kept, whatever their size; the oldest go first (default 100,000). */
  maxEntries?: number;
  /**
   * Most calls running at once under a key; past it a new key is refused with
   * `SERVICE_UNAVAILABLE` (503), since a running call is never forgotten (default 10,000).
   */
  maxRunning?: number;
}

/**
 * Answers of invokes sent with an `Idempotency-Key`, kept in memory only (Mercato never stores a
 * seller's output): a retry gets the first call's answer, and a retry that arrives while the first
 * call runs waits for it. Calls still running are never dropped. Only the outcome of a call that
 * began (placed its hold) is kept: a refusal before that is given to the retries that waited for
 * it, then forgotten, so that the same key runs once the refusal's cause is gone (a top-up), as it
 * would on another broker.
 *
 * **Bounds.** Finished answers are kept at most `ttlMs`, and the oldest go first past `maxEntries`
 * answers or `maxBytes`. Forgetting one is safe for money: the invoke's transaction id is derived
 * from the buyer, the agent and the key, so a retry whose answer was forgotten finds its charge in
 * the ledger and is answered `CONFLICT`, never held twice (`invoke/invoke.ts`). A call still running
 * is never dropped (its retries must wait for it); past `maxRunning` of them a new key is refused.
 */
export interface IdempotencyCache<T> {
  /**
   * The outcome of the call under `scope`: the first one's when there is one (`first: false`), or
   * `run()`'s, kept for later retries (`first: true`). `fingerprint` tells a retry from a different
   * request reusing the key. `run` calls `began()` once the call has placed its hold; an outcome
   * reached without it is not kept.
   *
   * @throws MercatoError `SERVICE_UNAVAILABLE` for a new key while `maxRunning` calls run.
   */
  run(
    scope: string,
    fingerprint: string,
    nowMs: number,
    run: (began: () => void) => Promise<T>,
    sizeOf: (value: T) => number,
  ): { first: boolean; sameRequest: boolean; outcome: Promise<InvokeOutcome<T>> };
  /** Answers kept and calls running. */
  size(): number;
}

/** An in-memory {@link IdempotencyCache}. */
export function createIdempotencyCache<T>(options: IdempotencyCacheOptions = {}): IdempotencyCache<T> {
  const ttl = options.ttlMs ?? IDEMPOTENCY_TTL_MS;
  const maxBytes = options.maxBytes ?? IDEMPOTENCY_MAX_BYTES;
  const maxEntries = options.maxEntries ?? IDEMPOTENCY_MAX_ANSWERS;
  const maxRunning = options.maxRunning ?? 10_000;
  const entries = new Map<string, Entry<T>>();
  let bytes = 0;
  let running = 0;

  const drop = (scope: string, entry: Entry<T>) => {
    entries.delete(scope);
    bytes -= entry.bytes;
  };
  const overBudget = () => bytes > maxBytes || entries.size - running > maxEntries;
  const trim = (now: number) => {
    for (const [scope, entry] of entries) {
      // Map order is insertion order: the first entry that may stay ends the sweep, unless over budget.
      const finished = entry.until !== Number.POSITIVE_INFINITY;
      if (finished && (entry.until <= now || overBudget())) drop(scope, entry);
      else if (!overBudget()) break;
    }
  };

  return {
    run(scope, fingerprint, nowMs, run, sizeOf) {
      trim(nowMs);
      const existing = entries.get(scope);
      if (existing) {
        return { first: false, sameRequest: existing.fingerprint === fingerprint, outcome: existing.outcome };
      }
      if (running >= maxRunning) {
        throw new MercatoError(
          "SERVICE_UNAVAILABLE",
          "Too many calls with an Idempotency-Key are running on this broker: retry in a moment",
        );
      }
      const entry: Entry<T> = {
        fingerprint,
        outcome: Promise.resolve(undefined as never),
        bytes: 0,
        until: Number.POSITIVE_INFINITY,
      };
      let began = false;
      const settle = (outcome: InvokeOutcome<T>, size: () => number): InvokeOutcome<T> => {
        running--;
        if (!began) {
          if (entries.get(scope) === entry) entries.delete(scope);
          return outcome;
        }
        entry.bytes = size();
        bytes += entry.bytes;
        entry.until = nowMs + ttl;
        if (overBudget()) trim(nowMs);
        return outcome;
      };
      entry.outcome = run(() => {
        began = true;
      }).then(
        (value) => settle({ ok: true, value }, () => sizeOf(value)),
        (error: unknown) => settle({ ok: false, error }, () => 512),
      );
      running++;
      entries.set(scope, entry);
      return { first: true, sameRequest: true, outcome: entry.outcome };
    },
    size: () => entries.size,
  };
}
