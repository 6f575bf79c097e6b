import { formatUsd, type GrantClaim, type GrantLedger, type GrantPayloadValue } from "@mercato/protocol";
import { newRequestId } from "../core/request-id.js";
import { type BrokerPost, brokerFailure, reasonOf } from "./broker-client.js";
import { unrefTimer } from "./timers.js";

/** What one redemption attempt came to. */
type RedeemOutcome = "redeemed" | "settled" | "failed" | "skipped";

/** Counts of a {@link Redeemer.round}. */
export interface RedeemRound {
  /** Grants whose claim the broker accepted. */
  redeemed: number;
  /** Redemptions that failed; retried at the next round. */
  failed: number;
}

/** Options of {@link createRedeemer}. */
export interface RedeemerOptions {
  ledger: GrantLedger;
  post: BrokerPost;
  now: () => number;
  /** The round interval: a grant expiring within twice this is redeemed early. */
  intervalMs: number;
  /** Reports a failed redemption (stage `redeem`). */
  report: (error: unknown, requestId: string, grantId: string) => void;
}

/**
 * Hands the best voucher of each grant to the broker with what the seller earned by its own count
 * (`POST /grants/{id}/redeem`, `earned_usd`).
 */
export interface Redeemer {
  /**
   * Notes a call of `grant` whose voucher the ledger kept as the grant's best: the grant is
   * redeemed at the next round (when its claim grew), or within a second when it expires within
   * two intervals.
   */
  track(grant: GrantPayloadValue): void;
  /**
   * Redeems every grant whose earnings grew since its last redemption (after any redemption of it
   * already under way), and forgets the expired grants that have nothing left to redeem.
   */
  round(): Promise<RedeemRound>;
  /** How many grants are tracked. */
  readonly size: number;
  /** Cancels the early-redemption timer. */
  stop(): void;
}

interface TrackedGrant {
  readonly grantId: string;
  readonly expiresAt: number;
  /** What the last claim the broker accepted earned (0: none yet, and earning 0 is never redeemed). */
  redeemedMicros: number;
  /** What a claim the broker refused for good earned (a 4xx other than `grant_settled`): not sent again. */
  refusedMicros: number;
  /** The broker settled the grant: nothing more can be redeemed. */
  settled: boolean;
  pending: Promise<RedeemOutcome> | undefined;
}

/** Near its expiry a grant is redeemed at most this often (and never later than a round would). */
const EARLY_REDEEM_DELAY_MS = 1_000;
/**
 * An expired grant that still cannot be redeemed (the broker is unreachable) is forgotten this long
 * after its expiry: by then the broker has settled it and would refuse the voucher anyway.
 */
const FORGET_AFTER_EXPIRY_MS = 3_600_000;
const SKIPPED: Promise<RedeemOutcome> = Promise.resolve("skipped");

/**
 * The seller's redemptions. Vouchers are prepaid and cumulative, so one redemption of a grant's
 * best voucher covers every call before it; the seller claims what it earned by its own count
 * (`GrantLedger.claim`), never the prepaid unit of a call that failed. A grant is redeemed only when
 * it earned more than the last claim the broker accepted. A `Grant` answered with a status other
 * than `open` is closed in the ledger (its later calls are refused `grant_closed`); a 409
 * `grant_settled` closes it and stops its redemptions. Other failures are reported and retried at
 * the next round.
 */
export function createRedeemer(options: RedeemerOptions): Redeemer {
  const { ledger, post, now, intervalMs, report } = options;
  const grants = new Map<string, TrackedGrant>();
  const early = new Set<TrackedGrant>();
  let earlyTimer: ReturnType<typeof setTimeout> | undefined;

  const leftToRedeem = (grant: TrackedGrant, claim: GrantClaim | undefined): claim is GrantClaim =>
    !grant.settled &&
    claim !== undefined &&
    claim.earnedMicros > Math.max(grant.redeemedMicros, grant.refusedMicros);

  const send = async (grant: TrackedGrant, claim: GrantClaim): Promise<RedeemOutcome> => {
    const { voucher: best, earnedMicros } = claim;
    const requestId = newRequestId();
    const route = `/grants/${grant.grantId}/redeem`;
    try {
      const answer = await post(
        route,
        {
          sequence: best.sequence,
          owed_usd: formatUsd(best.owedMicros),
          signature: best.signature,
          earned_usd: formatUsd(earnedMicros),
        },
        requestId,
        // No account key: the buyer's signature authorizes paying this grant's seller, and no one else.
        undefined,
      );
      if (answer.status === 200) {
        const { status, settled_at } = (answer.body ?? {}) as { status?: unknown; settled_at?: unknown };
        if (status !== "open" && status !== "closed" && status !== "expired") {
          throw brokerFailure(`POST ${route} (no grant status in the answer)`, answer);
        }
        grant.redeemedMicros = Math.max(grant.redeemedMicros, earnedMicros);
        // closed (by the buyer) or expired: refuse its later calls. It settles a grace period later.
        if (status !== "open") ledger.close(grant.grantId);
        if (typeof settled_at === "string") grant.settled = true;
        return "redeemed";
      }
      if (answer.status === 409 && reasonOf(answer.body) === "grant_settled") {
        ledger.close(grant.grantId);
        grant.settled = true;
        return "settled";
      }
      // Another 4xx will not change by asking again with the same voucher (a timeout or a rate limit may).
      if (answer.status >= 400 && answer.status < 500 && answer.status !== 408 && answer.status !== 429) {
        grant.refusedMicros = earnedMicros;
      }
      throw brokerFailure(`POST ${route}`, answer);
    } catch (error) {
      report(error, requestId, grant.grantId);
      return "failed";
    }
  };

  const redeem = (grant: TrackedGrant): Promise<RedeemOutcome> => {
    if (grant.pending) return grant.pending;
    const claim = ledger.claim(grant.grantId);
    if (!leftToRedeem(grant, claim)) return SKIPPED;
    const pending = send(grant, claim).finally(() => {
      grant.pending = undefined;
    });
    grant.pending = pending;
    return pending;
  };

  const redeemEarly = () => {
    earlyTimer = undefined;
    for (const grant of early) void redeem(grant);
    early.clear();
  };

  return {
    track(payload) {
      let grant = grants.get(payload.grant_id);
      if (grant === undefined) {
        grant = {
          grantId: payload.grant_id,
          expiresAt: Date.parse(payload.expires_at),
          redeemedMicros: 0,
          refusedMicros: 0,
          settled: false,
          pending: undefined,
        };
        grants.set(grant.grantId, grant);
      }
      if (grant.expiresAt - now() < 2 * intervalMs) {
        early.add(grant);
        if (earlyTimer === undefined) {
          earlyTimer = unrefTimer(setTimeout(redeemEarly, Math.min(EARLY_REDEEM_DELAY_MS, intervalMs)));
        }
      }
    },

    async round() {
      const nowMs = now();
      const attempts: Promise<RedeemOutcome>[] = [];
      for (const grant of grants.values()) {
        if (grant.pending) {
          // Wait for the redemption under way, then hand in what the grant owes since.
          attempts.push(
            grant.pending,
            grant.pending.then(() => redeem(grant)),
          );
          continue;
        }
        if (grant.expiresAt <= nowMs) {
          // An expired grant's claim is final: forget it once there is nothing left to redeem.
          const done = grant.settled || !leftToRedeem(grant, ledger.claim(grant.grantId));
          if (done || nowMs - grant.expiresAt > FORGET_AFTER_EXPIRY_MS) {
            ledger.forget(grant.grantId);
            grants.delete(grant.grantId);
            early.delete(grant);
            continue;
          }
        }
        attempts.push(redeem(grant));
      }
      const outcomes = await Promise.all(attempts);
      let redeemed = 0;
      let failed = 0;
      for (const outcome of outcomes) {
        if (outcome === "redeemed") redeemed++;
        else if (outcome === "failed") failed++;
      }
      return { redeemed, failed };
    },

    get size() {
      return grants.size;
    },

    stop() {
      if (earlyTimer !== undefined) clearTimeout(earlyTimer);
      earlyTimer = undefined;
      early.clear();
    },
  };
}
