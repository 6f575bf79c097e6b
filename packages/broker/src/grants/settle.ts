import { isMercatoError } from "@mercato/protocol";
import type { LedgerStore } from "../ledger/port.js";
import type { GrantRecord, GrantStore } from "./port.js";

/** What settling grants reads and writes: the grants, and their holds in the ledger. */
export type GrantSettlementStore = GrantStore & Pick<LedgerStore, "capture" | "voidHold" | "getCharge">;

/** The transfer ids of a grant's settlement: one capture or one void of the grant's hold. */
export const grantCaptureId = (grantId: string): string => `${grantId}:capture`;
export const grantVoidId = (grantId: string): string => `${grantId}:void`;

/**
 * Settles a grant (docs/direct-mode.md, §5): fixes the amount (the highest voucher recorded), then
 * captures it from the grant's hold, with the usual 10% fee, and releases the rest, or voids the
 * hold when nothing is owed; then records what was captured. Every step is idempotent (fixed once,
 * transfer ids derived from the grant), so a settlement cut short by a crash, or run by two brokers
 * at once, finishes with the same single capture. Returns the grant as it stands; undefined when
 * there is no such grant.
 */
export async function settleGrant(
  store: GrantSettlementStore,
  grantId: string,
  at: string,
): Promise<GrantRecord | undefined> {
  const grant = await store.beginGrantSettlement(grantId);
  if (!grant || grant.settledAt !== null) return grant;
  const amount = grant.settlingMicros ?? 0;
  let captured: number;
  try {
    const charge =
      amount > 0
        ? await store.capture({ id: grantCaptureId(grantId), holdId: grantId, amount, at })
        : await store.voidHold({ id: grantVoidId(grantId), holdId: grantId, at });
    captured = charge.captured;
  } catch (error) {
    // The hold was resolved otherwise: the hold sweeper voided it after a day without a settlement.
    // The grant records what its hold did; the ledger never resolves a hold twice.
    if (!isMercatoError(error) || error.code !== "CONFLICT") throw error;
    captured = (await store.getCharge(grantId))?.captured ?? 0;
  }
  return store.finishGrantSettlement(grantId, captured, at);
}

/**
 * Settles every grant due at `now` (closed, or expired, at least `graceMs` ago), up to `limit` per
 * run; returns how many it settled. Safe to run on several brokers at once.
 */
export async function settleDueGrants(
  store: GrantSettlementStore,
  now: string,
  graceMs: number,
  limit = 500,
): Promise<number> {
  let settled = 0;
  for (const id of await store.listGrantsDue(now, graceMs, limit)) {
    const grant = await settleGrant(store, id, now);
    if (grant?.settledAt === now) settled++;
  }
  return settled;
}

/**
 * How long after its settlement a grant's usage reports still count. Past it they are ignored, and
 * the sweeper drops what it remembered of them (`pruneGrantReports`).
 */
export const REPORTS_WINDOW_MS = 24 * 60 * 60_000;

/** Drops the remembered reports of grants settled more than {@link REPORTS_WINDOW_MS} ago. */
export function pruneGrantReports(store: GrantSettlementStore, now: string, limit = 500): Promise<number> {
  return store.pruneGrantReports(new Date(Date.parse(now) - REPORTS_WINDOW_MS).toISOString(), limit);
}
