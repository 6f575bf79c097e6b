import { BUYER_WEIGHT, type BuyerWindow } from "@mercato/protocol";
import type { CallOutcome } from "./port.js";

// The buyers' weights (see `BUYER_WEIGHT`): which buyers are established, and what a flush of
// calls adds to each buyer's weight on each agent.

/** What one flush adds to one buyer's weight on one agent (see `BUYER_WEIGHT`). */
export interface BuyerDelta {
  agentId: string;
  buyerId: string;
  calls: number;
  units: number;
  successUnits: number;
}

/**
 * Whether a buyer's calls weigh a whole call at `at`: its account is at least a day old and has a
 * completed top-up. Decided when a call is recorded, from the account as it is then.
 */
export function isEstablished(createdAt: string, hasCompletedTopup: boolean, at: string): boolean {
  return hasCompletedTopup && Date.parse(at) - Date.parse(createdAt) >= BUYER_WEIGHT.establishedAfterMs;
}

/** A buying account as {@link createEstablishedBuyers} reads it. */
export interface BuyerAccountRow {
  id: string;
  created_at: string;
  topped_up: boolean | number;
}

/**
 * Which buyers weigh a whole call (see {@link isEstablished}), remembering the established ones (an
 * account, once established, stays so): `lookup` reads only the accounts not known yet, once per
 * flush. Both stores use it with their own query.
 */
export function createEstablishedBuyers(
  lookup: (accountIds: string[]) => BuyerAccountRow[] | Promise<BuyerAccountRow[]>,
  /** Most established buyers remembered; the first remembered go first (forgetting one only reads it again). */
  maxKnown = 100_000,
): (buyerIds: Iterable<string>, at: string) => Promise<(buyerId: string) => boolean> {
  const established = new Set<string>();
  return async (buyerIds, at) => {
    const known = new Set<string>();
    const unknown: string[] = [];
    for (const id of new Set(buyerIds)) {
      if (established.has(id)) known.add(id);
      else unknown.push(id);
    }
    const found = new Set<string>();
    if (unknown.length > 0) {
      for (const row of await lookup(unknown)) {
        if (isEstablished(row.created_at, Boolean(row.topped_up), at)) found.add(row.id);
      }
      for (const id of found) {
        if (established.size >= maxKnown) established.delete(established.values().next().value as string);
        established.add(id);
      }
    }
    // Answered from this flush's own reads: remembering the found ones may have pushed known ones out.
    return (buyerId) => known.has(buyerId) || found.has(buyerId) || established.has(buyerId);
  };
}

/**
 * What a flush of call outcomes adds to each (agent, buyer) weight, weighing each call by whether
 * its buyer is `established` (see {@link isEstablished}). Client errors weigh nothing.
 */
export function buyerDeltas(
  outcomes: readonly CallOutcome[],
  established: (buyerId: string) => boolean,
): BuyerDelta[] {
  const deltas = new Map<string, BuyerDelta>();
  for (const outcome of outcomes) {
    if (outcome.outcome === "client_error") continue;
    const key = `${outcome.agentId}\n${outcome.buyerId}`;
    let delta = deltas.get(key);
    if (!delta) {
      delta = { agentId: outcome.agentId, buyerId: outcome.buyerId, calls: 0, units: 0, successUnits: 0 };
      deltas.set(key, delta);
    }
    const units = established(outcome.buyerId)
      ? BUYER_WEIGHT.establishedUnits
      : BUYER_WEIGHT.provisionalUnits;
    delta.calls++;
    delta.units += units;
    if (outcome.outcome === "success") delta.successUnits += units;
  }
  return [...deltas.values()];
}

/**
 * What ranking reads of an agent's buyers over the 30-day window: its total weight and the weight
 * of its successes (units), and its top buyers by calls (`BUYER_CAP.topBuyers` of them).
 */
export interface BuyerTotals {
  units: number;
  successUnits: number;
  top: BuyerWindow[];
}

/** An agent with no weighed calls. */
export const NO_BUYERS: Readonly<BuyerTotals> = Object.freeze({ units: 0, successUnits: 0, top: [] });
