import {
  type CallKeyResolver,
  createGrantLedger,
  createVoucherVerifier,
  type DirectFailure,
  directError,
  type GrantPayloadValue,
  type GrantRefusal,
  parseVoucherHeader,
  type UsageOutcomeValue,
  type Voucher,
  type VoucherVerifier,
  verifyGrant,
} from "@mercato/protocol";
import type { DirectFlushResult, SellerDirectOptions, SellerErrorContext } from "../core/types.js";
import type { FetchLike } from "../verification/index.js";
import { createBrokerPost } from "./broker-client.js";
import { createRedeemer } from "./redeemer.js";
import { unrefTimer } from "./timers.js";
import { createUsageReporter } from "./usage-reporter.js";

/** A direct call's verified credentials. */
export interface DirectCredentials {
  grant: GrantPayloadValue;
  voucher: Voucher;
}

/** The seller's side of direct mode: checks grants and vouchers, keeps the ledger, redeems, reports. */
export interface DirectMode {
  /**
   * Verifies a direct call's grant (once per token: verified grants are cached), checks it pays for
   * this kit's agent, and verifies the voucher against it.
   *
   * @throws MercatoError with `details.reason` (a `DirectFailure`): 401 for a bad grant or voucher,
   *   `grant_wrong_agent`, or `direct_not_accepted` while the agent id is unknown. Anything else
   *   (the broker's keys could not be loaded) is not the caller's fault.
   */
  authenticate(token: string, voucherHeader: string | null | undefined): Promise<DirectCredentials>;
  /** The ledger's admission of the call (see `createGrantLedger`): `undefined` when admitted. */
  admit(credentials: DirectCredentials): GrantRefusal | undefined;
  /**
   * Settles an admitted call in the ledger (only a success is owed) and buffers its outcome for the
   * usage reports: `client_error` when the kit refused the buyer's input as invalid.
   */
  settle(credentials: DirectCredentials, outcome: UsageOutcomeValue, durationMs: number): void;
  /** Redeems now, then sends the buffered outcomes. */
  flush(): Promise<DirectFlushResult>;
  /** Stops the timers and flushes once. */
  close(): Promise<void>;
  /** How many grants wait to be redeemed or forgotten. */
  readonly grants: number;
}

/** Options of {@link createDirectMode}. */
export interface DirectModeOptions {
  direct: SellerDirectOptions;
  /** The broker's base URL, for redemptions and reports. */
  broker: string;
  /** The broker's keys, which sign grants as they sign calls. */
  resolveKey: CallKeyResolver;
  fetch: FetchLike | undefined;
  now: () => number;
  onError: (error: unknown, context: SellerErrorContext) => void;
  /** True when a grant for this listing (agent, its owner) is one this kit serves. */
  servesListing: (agentId: string, ownerId: string) => boolean;
  /** True when the kit names its listings (`owner` or `agents`), not only the deprecated `direct.agentId`. */
  namesListing: boolean;
}

/** Default of `direct.redeemIntervalMs`. */
export const DEFAULT_REDEEM_INTERVAL_MS = 30_000;
/** Verified grants cached at most (about 1 KB each); the oldest is dropped beyond. */
const MAX_CACHED_GRANTS = 10_000;
/** Refusals after which the ledger kept the voucher as the grant's best: it must still be redeemed. */
const KEPT_VOUCHER: ReadonlySet<DirectFailure> = new Set(["call_in_flight", "payment_behind", "grant_spent"]);

/** A grant whose broker signature verified, and the verifier of its vouchers (its buyer key imported once). */
interface VerifiedGrant {
  grant: GrantPayloadValue;
  verifyVoucher: VoucherVerifier;
}

/**
 * Builds direct mode. Nothing runs until the first direct call: then a timer (unref'd, so it never
 * keeps the process alive) redeems every `redeemIntervalMs` and sends the usage reports.
 */
export function createDirectMode(options: DirectModeOptions): DirectMode {
  const { direct, resolveKey, now, onError } = options;
  const agentId = direct.agentId;
  const intervalMs = direct.redeemIntervalMs ?? DEFAULT_REDEEM_INTERVAL_MS;
  const post = createBrokerPost(options.broker, options.fetch);
  const ledger = createGrantLedger({ now });
  const verified = new Map<string, VerifiedGrant>();
  const background = (stage: "redeem" | "report", requestId: string, grantId?: string) => ({
    stage,
    requestId,
    callId: undefined,
    timeoutMs: undefined,
    ...(grantId === undefined ? {} : { grantId }),
  });
  const redeemer = createRedeemer({
    ledger,
    post,
    now,
    intervalMs,
    report: (error, requestId, grantId) => onError(error, background("redeem", requestId, grantId)),
  });
  const reporter =
    direct.apiKey === undefined
      ? undefined
      : createUsageReporter({
          post,
          apiKey: direct.apiKey,
          report: (error, requestId) => onError(error, background("report", requestId)),
        });
  let timer: ReturnType<typeof setInterval> | undefined;

  const flush = async (): Promise<DirectFlushResult> => {
    // Redeemed first: the broker counts a reported success only once a voucher it holds pays for it.
    const round = await redeemer.round();
    const reported = reporter ? await reporter.send() : 0;
    return { redeemed: round.redeemed, failed: round.failed, reported };
  };
  const tick = () => {
    void flush();
  };

  const grantOf = async (token: string): Promise<VerifiedGrant> => {
    const cached = verified.get(token);
    if (cached !== undefined) return cached;
    // The broker's signature is checked once per token; expiry is checked per call by the ledger.
    const grant = await verifyGrant(token, resolveKey, { now: new Date(now()) });
    const entry = { grant, verifyVoucher: createVoucherVerifier(grant) };
    if (verified.size >= MAX_CACHED_GRANTS) verified.delete(verified.keys().next().value as string);
    verified.set(token, entry);
    return entry;
  };

  return {
    async authenticate(token, voucherHeader) {
      const { grant, verifyVoucher } = await grantOf(token);
      if (!options.namesListing && (typeof agentId === "function" ? agentId() : agentId) === undefined) {
        throw directError("direct_not_accepted", "This seller is not registered yet: call it later");
      }
      if (!options.servesListing(grant.agent_id, grant.seller_account_id)) {
        throw directError(
          "grant_wrong_agent",
          `The grant pays for ${grant.agent_id} of ${grant.seller_account_id}, a listing this seller does not serve`,
        );
      }
      return { grant, voucher: await verifyVoucher(parseVoucherHeader(voucherHeader)) };
    },

    admit({ grant, voucher }) {
      const admission = ledger.admit(grant, voucher);
      if (admission.ok || KEPT_VOUCHER.has(admission.reason)) {
        redeemer.track(grant);
        if (timer === undefined) timer = unrefTimer(setInterval(tick, intervalMs));
      }
      return admission.ok ? undefined : admission;
    },

    settle({ grant, voucher }, outcome, durationMs) {
      ledger.settle(grant.grant_id, voucher.sequence, outcome === "success");
      reporter?.record(grant.agent_id, grant.grant_id, voucher.sequence, outcome, durationMs, now());
    },

    flush,

    async close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      redeemer.stop();
      await flush();
    },

    get grants() {
      return redeemer.size;
    },
  };
}
