import type { Store } from "../../src/app/store.js";
import type { CallOutcome } from "../../src/metrics/port.js";
import { apiKeyRecord } from "./records.js";

/** When test buyers are created: long before any test's calls, so they are a day old at any of them. */
const LONG_AGO = "2000-01-01T00:00:00.000Z";

let made = 0;

/**
 * Creates `count` buyer accounts that are established (a day old and with a completed top-up at
 * any time a test records calls), so that each of their calls weighs a whole call in the ranking.
 * Returns their ids.
 */
export async function establishedBuyers(
  store: Store,
  count: number,
  prefix = "acct_buyer",
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}${process.pid}x${++made}`;
    await store.createAccount(
      { id, name: id, email: null, createdAt: LONG_AGO },
      apiKeyRecord({ id: `key_${id}`, accountId: id, createdAt: LONG_AGO }),
    );
    await store.insertTopup({
      id: `topup_${id}`,
      accountId: id,
      amount: 10_000_000,
      provider: "manual",
      providerRef: null,
      checkoutUrl: null,
      status: "pending",
      createdAt: LONG_AGO,
      completedAt: null,
    });
    await store.completeTopup(`topup_${id}`, LONG_AGO);
    ids.push(id);
  }
  return ids;
}

/**
 * Spreads calls over `buyers` in turn (carrying on from the last call spread over them), so that, with 50 or more of them, no buyer's weight is capped
 * and the ranked success rate is the raw one: `success` true is a success, false a seller failure.
 */
export function spreadOverBuyers(
  buyers: readonly string[],
  calls: ReadonlyArray<{ agentId: string; success: boolean; responseTimeMs: number }>,
): CallOutcome[] {
  let next = turns.get(buyers) ?? 0;
  const outcomes = calls.map(
    (call): CallOutcome => ({
      agentId: call.agentId,
      buyerId: buyers[next++ % buyers.length] as string,
      outcome: call.success ? "success" : "failure",
      responseTimeMs: call.responseTimeMs,
    }),
  );
  turns.set(buyers, next);
  return outcomes;
}

/** Whose turn it is next, per list of buyers: calls spread evenly across flushes too. */
const turns = new WeakMap<readonly string[], number>();
