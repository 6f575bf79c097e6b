import {
  directError,
  formatUsd,
  GrantPayload,
  type GrantPayloadValue,
  MercatoError,
  parseUsd,
  verifyVoucher,
} from "@mercato/protocol";
import type { AccessCaller } from "../accounts/authenticate.js";
import type { GrantsDeps } from "./deps.js";
import type { GrantRecord, GrantVoucherRecord } from "./port.js";

/**
 * The grant, when the caller's account is its buyer (or, with `either`, the agent's owner), and,
 * for an access key, when the grant is for the key's own agent; any other grant is answered as
 * missing, so that a key learns nothing of grants it may not act on.
 */
export async function partyGrant(
  deps: Pick<GrantsDeps, "store">,
  caller: AccessCaller,
  id: string,
  who: "buyer" | "either",
): Promise<GrantRecord> {
  const grant = await deps.store.getGrant(id);
  const account = caller.key.accountId;
  const party =
    grant !== undefined &&
    (grant.buyerId === account || (who === "either" && grant.sellerAccountId === account));
  if (!grant || !party || (caller.key.kind === "access" && caller.key.agentId !== grant.agentId)) {
    throw new MercatoError("NOT_FOUND", `No grant ${id}`);
  }
  return grant;
}

/**
 * Verifies a voucher of `grant` (the buyer's key, the budget) and records the claim it backs,
 * `claim` micros (at most what the voucher owes), when it is above the best claim so far.
 *
 * @throws MercatoError `UNAUTHENTICATED` (a forged or malformed voucher), `BUDGET_EXCEEDED` (over
 *   the budget), `CONFLICT` with reason `grant_settled` (a claim that would have counted, too late).
 */
export async function recordVoucher(
  deps: Pick<GrantsDeps, "store">,
  grant: GrantRecord,
  body: { sequence: number; owed_usd: string | number; signature: string },
  claim: bigint,
): Promise<GrantRecord> {
  const owed = parseUsd(body.owed_usd);
  const voucher: GrantVoucherRecord = {
    sequence: body.sequence,
    owedMicros: safeMicros(owed),
    signature: body.signature,
    // Never above the voucher: the redeem route refuses a larger claim, and the close claims the voucher.
    claimMicros: safeMicros(claim <= owed ? claim : owed),
  };
  await verifyVoucher(voucher, tokenPayload(grant));
  const recorded = await deps.store.recordGrantVoucher(grant.id, voucher);
  if (!recorded) throw new MercatoError("NOT_FOUND", `No grant ${grant.id}`);
  if (recorded.settlingMicros !== null && recorded.bestOwedMicros < voucher.claimMicros) {
    throw directError(
      "grant_settled",
      `Grant ${grant.id} was settled${recorded.settledAt ? ` at ${recorded.settledAt}` : ""}: ${formatUsd(recorded.settlingMicros)} USD was captured, and no voucher counts any more`,
      { grant_id: grant.id, captured_usd: formatUsd(recorded.settlingMicros) },
    );
  }
  return recorded;
}

/**
 * An amount of micros as a JavaScript number: past the safe integers it is one more than the
 * largest, which no budget allows (`verifyVoucher` refuses it as over the budget).
 */
function safeMicros(micros: bigint): number {
  return micros <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(micros) : Number.MAX_SAFE_INTEGER + 1;
}

/** The payload of the grant's own token, as the broker signed it. */
function tokenPayload(grant: GrantRecord): GrantPayloadValue {
  const payload = grant.token.split(".")[1] ?? "";
  return GrantPayload.parse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
}
