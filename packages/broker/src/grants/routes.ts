import { createHash } from "node:crypto";
import {
  directError,
  formatUsd,
  GrantPayload,
  type GrantPayloadValue,
  MAX_USAGE_REPORTS,
  MercatoError,
  parseUsd,
  verifyVoucher,
} from "@mercato/protocol";
import type { FastifyReply } from "fastify";
import { z } from "zod";
import { DEFAULT_GRANT_GRACE_MS } from "../config/config.js";
import { FEE_PERCENT, figure } from "../http/figures.js";
import { type AccessCaller, type BrokerDeps, defineRoute } from "../http/route.js";
import { newId } from "../ids.js";
import { idempotencyKeyOf } from "../invoke/idempotency.js";
import { enforceRateLimit } from "../invoke/invoke.js";
import type { GrantRecord, GrantVoucherRecord, NewGrant } from "../store/types.js";
import { presentGrant } from "./presenters.js";
import { REPORTS_WINDOW_MS } from "./settle.js";

const GrantParams = z.object({ id: z.string().max(100).describe("Grant id (grt_…)") });
/**
 * Redemptions one grant may take per minute: the seller kit redeems a grant every 30 s and once
 * more near its expiry. The route needs no key, so this bounds the signature checks anyone can make
 * the broker do against one grant.
 */
const REDEMPTIONS_PER_MINUTE = 120;

/**
 * A grant's hold outlives its settlement time by this much: the hold sweeper must never void what
 * a grant's vouchers owe before the grant sweeper has settled it.
 */
const HOLD_MARGIN_MS = 24 * 60 * 60_000;

const GRACE_S = figure(DEFAULT_GRANT_GRACE_MS / 1000);

const DIRECT_DOC =
  "Direct mode (docs/direct-mode.md): the SDK calls the seller itself, paying with vouchers signed by a key it made for the grant; the broker holds the budget, and captures the highest voucher when the grant settles.";

/** Direct mode: grants, redemptions, closing, usage reports. */
export const grantRoutes = [
  defineRoute({
    method: "POST",
    url: "/grants",
    operationId: "createGrant",
    tag: "Direct",
    summary: "Open a grant: hold a budget for direct calls to an agent",
    description: [
      DIRECT_DOC,
      "",
      "Authenticate with the agent's access key (its spend cap then covers the budget) or an account key. The broker holds `budget_usd` on your wallet (refused like any hold: INSUFFICIENT_FUNDS, SPEND_CAP_EXCEEDED) and answers the grant with its token, signed with the broker's key, at the agent's current price, which stays the grant's price for its life. The budget must pay for at least one call.",
      "",
      "Send an `Idempotency-Key` header (1–255 printable characters) to retry safely: a retry with the same key answers the grant the first request opened, and never holds the budget twice; the same key with another body is a CONFLICT.",
      "",
      `Send each direct call to \`endpoint\` with the headers \`Mercato-Grant: <token>\` and \`Mercato-Voucher: seq=<n>;owed=<micros>;sig=<signature>\`. Close the grant with \`POST /grants/{id}/close\` when you are done: what you did not spend is released once it settles, a grace period (the broker's \`--grant-grace\`, ${GRACE_S} s by default) after the close or the expiry.`,
    ].join("\n"),
    auth: "key",
    body: "CreateGrantRequest",
    errors: [
      "AGENT_NOT_FOUND",
      "AGENT_INACTIVE",
      "AGENT_NOT_PURCHASED",
      "INSUFFICIENT_FUNDS",
      "SPEND_CAP_EXCEEDED",
      "CONFLICT",
    ],
    success: { status: 201, schema: "Grant", description: "The grant, with its signed token" },
    async handler({ deps, caller, body, request, reply }) {
      const { key } = caller;
      if (key.kind === "access" && key.agentId !== body.agent_id) {
        throw new MercatoError(
          "AGENT_NOT_PURCHASED",
          `This access key was bought for ${key.agentId ?? "another agent"}, not ${body.agent_id}: POST /purchase to buy access, or open the grant with an account key`,
        );
      }
      await enforceRateLimit(deps, key, reply);
      const agent = await deps.store.getAgent(body.agent_id);
      if (!agent) throw new MercatoError("AGENT_NOT_FOUND", `No agent ${body.agent_id}`);
      if (agent.status === "inactive") {
        throw new MercatoError("AGENT_INACTIVE", `Agent ${agent.id} is deactivated`);
      }
      const price = agent.pricing.priceMicros;
      const budget = Number(parseUsd(body.budget_usd));
      if (budget < price) {
        throw new MercatoError(
          "VALIDATION_ERROR",
          `budget_usd must pay for at least one call: ${agent.id} costs ${formatUsd(price)} USD a call`,
          { details: { issues: [{ path: "budget_usd", message: `must be at least ${formatUsd(price)}` }] } },
        );
      }
      const issued = deps.clock.now();
      const expires = new Date(issued.getTime() + body.ttl_s * 1000);
      const idempotencyKey = idempotencyKeyOf(request.headers["idempotency-key"]);
      const id =
        idempotencyKey === undefined ? newId("grt") : idempotentGrantId(key.accountId, idempotencyKey);
      if (idempotencyKey !== undefined) {
        const earlier = await deps.store.getGrant(id);
        if (earlier) return replayedGrant(deps, earlier, body, reply);
      }
      const payload: GrantPayloadValue = {
        grant_id: id,
        agent_id: agent.id,
        buyer_id: key.accountId,
        seller_account_id: agent.ownerId,
        endpoint: agent.apiEndpoint,
        price_per_call_usd: formatUsd(price),
        budget_usd: formatUsd(budget),
        issued_at: issued.toISOString(),
        expires_at: expires.toISOString(),
        buyer_public_key: body.buyer_public_key,
        issuer: deps.config.publicUrl ?? `${request.protocol}://${request.host}`,
      };
      // Signed first: a hold is only placed for a grant the broker could sign.
      const { token } = await deps.signer.signGrant(payload);
      const dailyCap = await deps.fraud.dailyCap(key.accountId, issued.getTime());
      const held = await deps.store.hold({
        id,
        buyerId: key.accountId,
        sellerAccountId: agent.ownerId,
        agentId: agent.id,
        ...(key.kind === "access" && { keyId: key.id, keySpendCap: key.spendCap }),
        dailyCap,
        amount: budget,
        expiresAt: new Date(expires.getTime() + HOLD_MARGIN_MS).toISOString(),
        at: issued.toISOString(),
      });
      if (held.replayed) {
        // Another request with this Idempotency-Key placed the hold: its grant, once recorded.
        const earlier = await deps.store.getGrant(id);
        if (earlier) return replayedGrant(deps, earlier, body, reply);
        throw new MercatoError(
          "CONFLICT",
          "A grant with this Idempotency-Key is being opened by another request: retry in a moment",
          { details: { grant_id: id } },
        );
      }
      const grant: NewGrant = {
        id,
        agentId: agent.id,
        buyerId: key.accountId,
        sellerAccountId: agent.ownerId,
        keyId: key.kind === "access" ? key.id : null,
        endpoint: agent.apiEndpoint,
        priceMicros: price,
        budgetMicros: budget,
        buyerPublicKey: body.buyer_public_key,
        token,
        issuedAt: payload.issued_at,
        expiresAt: payload.expires_at,
      };
      let recorded: GrantRecord;
      try {
        recorded = await deps.store.insertGrant(grant);
      } catch (error) {
        // No grant without its hold, and no hold without its grant: give the budget back.
        await deps.store
          .voidHold({ id: `${id}:void`, holdId: id, at: issued.toISOString() })
          .catch((voidError) => {
            deps.log.error(
              { err: voidError, grant: id },
              "could not release the hold of a grant that was not recorded; it expires on its own",
            );
          });
        throw error;
      }
      return presentGrant(recorded, deps.clock.now().toISOString());
    },
  }),
  defineRoute({
    method: "GET",
    url: "/grants/:id",
    operationId: "getGrant",
    tag: "Direct",
    summary: "A grant: its status, what was redeemed and what was captured",
    description: "For the grant's buyer and the agent's owner (any of their keys).",
    auth: "key",
    params: GrantParams,
    errors: ["NOT_FOUND"],
    success: { status: 200, schema: "Grant", description: "The grant" },
    async handler({ deps, caller, params }) {
      const grant = await partyGrant(deps, caller, params.id, "either");
      return presentGrant(grant, deps.clock.now().toISOString());
    },
  }),
  defineRoute({
    method: "POST",
    url: "/grants/:id/redeem",
    operationId: "redeemGrant",
    tag: "Direct",
    summary: "Hand in the best voucher of a grant (the seller)",
    description: [
      DIRECT_DOC,
      "",
      `The seller kit calls this in batches with the highest voucher it received. No API key is needed: a voucher signed by the grant's buyer key pays the grant's seller and no one else. The broker verifies it and keeps it when it owes more than any voucher recorded so far; a lower one changes nothing (a replay gains nothing). Redeeming records; the money moves once, when the grant settles. A grant takes at most ${figure(REDEMPTIONS_PER_MINUTE)} redemptions a minute (RATE_LIMITED). The answer's \`status\` tells the kit whether the buyer closed the grant (stop serving it). After settlement a redemption answers CONFLICT with \`details.reason\` \`grant_settled\`.`,
    ].join("\n"),
    auth: "none",
    params: GrantParams,
    body: "RedeemGrantRequest",
    errors: ["NOT_FOUND", "UNAUTHENTICATED", "BUDGET_EXCEEDED", "CONFLICT", "RATE_LIMITED"],
    success: { status: 200, schema: "Grant", description: "The grant as it stands" },
    async handler({ deps, params, body, reply }) {
      const grant = await deps.store.getGrant(params.id);
      if (!grant) throw new MercatoError("NOT_FOUND", `No grant ${params.id}`);
      await enforceRateLimit(
        deps,
        { id: `redeem:${grant.id}`, rateLimit: REDEMPTIONS_PER_MINUTE },
        reply,
        "Redemptions of this grant",
      );
      const recorded = await recordVoucher(deps, grant, body);
      return presentGrant(recorded, deps.clock.now().toISOString());
    },
  }),
  defineRoute({
    method: "POST",
    url: "/grants/:id/close",
    operationId: "closeGrant",
    tag: "Direct",
    summary: "Close a grant with the final voucher (the buyer)",
    description: [
      DIRECT_DOC,
      "",
      `Send your final voucher (a sequence above your last call's, owing for every successful call), or an empty body when nothing is owed. The broker records it like a redemption and marks the grant closed; it settles a grace period later (the broker's \`--grant-grace\`, ${GRACE_S} s by default), so that the seller's last redemptions still count: it captures the highest voucher recorded from either side, pays the seller its share less the ${FEE_PERCENT} fee, and releases the rest of the budget. Closing again answers the grant as it stands.`,
    ].join("\n"),
    auth: "key",
    params: GrantParams,
    body: "CloseGrantRequest",
    errors: ["NOT_FOUND", "UNAUTHENTICATED", "BUDGET_EXCEEDED", "CONFLICT"],
    success: { status: 200, schema: "Grant", description: "The grant, closed" },
    async handler({ deps, caller, params, body }) {
      let grant = await partyGrant(deps, caller, params.id, "buyer");
      if (body.sequence !== undefined && body.owed_usd !== undefined && body.signature !== undefined) {
        grant = await recordVoucher(deps, grant, {
          sequence: body.sequence,
          owed_usd: body.owed_usd,
          signature: body.signature,
        });
      }
      const closed = await deps.store.closeGrant(grant.id, deps.clock.now().toISOString());
      return presentGrant(closed ?? grant, deps.clock.now().toISOString());
    },
  }),
  defineRoute({
    method: "POST",
    url: "/usage/reports",
    operationId: "reportUsage",
    tag: "Direct",
    summary: "Report the outcomes of direct calls, for the agents' metrics",
    description: [
      `The broker never sees direct calls, so the SDK (the buyer's key) and the seller kit (the agent owner's key) report their outcomes in batches of up to ${figure(MAX_USAGE_REPORTS)}. Each call, named by its grant and voucher sequence, counts once toward the agent's success rate and response times, whichever side reports it first.`,
      "",
      "Not counted (`ignored`): reports for grants the caller is not a party to or that name another agent, calls between accounts of one owner, a call already reported, reports arriving more than a day after the grant settled, and past each grant's cap of `floor(budget / price)` successes and as many failures. Reports are rate-limited like calls.",
    ].join("\n"),
    auth: "key",
    body: "UsageReport",
    // 1,000 reports of about 200 bytes each.
    bodyLimit: 512 * 1024,
    success: { status: 200, schema: "UsageReportResult", description: "How many outcomes were counted" },
    async handler({ deps, caller, body, reply }) {
      await enforceRateLimit(deps, caller.key, reply);
      const grants = new Map<string, GrantRecord | undefined>();
      for (const report of body.reports) {
        if (!grants.has(report.grant_id))
          grants.set(report.grant_id, await deps.store.getGrant(report.grant_id));
      }
      const account = caller.key.accountId;
      const counted = new Date(deps.clock.now().getTime() - REPORTS_WINDOW_MS).toISOString();
      const eligible = body.reports.filter((report) => {
        const grant = grants.get(report.grant_id);
        return (
          grant !== undefined &&
          (grant.settledAt === null || grant.settledAt > counted) &&
          grant.agentId === report.agent_id &&
          (grant.buyerId === account || grant.sellerAccountId === account) &&
          grant.buyerId !== grant.sellerAccountId
        );
      });
      const fresh = await deps.store.countGrantReports(
        eligible.map((report) => ({
          grantId: report.grant_id,
          sequence: report.sequence,
          success: report.success,
        })),
      );
      let accepted = 0;
      eligible.forEach((report, index) => {
        if (!fresh[index]) return;
        accepted++;
        deps.invoke.outcomes.record({
          agentId: report.agent_id,
          buyerId: (grants.get(report.grant_id) as GrantRecord).buyerId,
          outcome: report.success ? "success" : "failure",
          responseTimeMs: report.response_time_ms,
        });
      });
      return { accepted, ignored: body.reports.length - accepted };
    },
  }),
];

/**
 * The id of the grant an `Idempotency-Key` opens: derived from the account and the key, so that a
 * retry, even one that reaches another broker, finds the first request's hold and grant.
 */
function idempotentGrantId(accountId: string, idempotencyKey: string): string {
  const digest = createHash("sha256").update(`grant\n${accountId}\n${idempotencyKey}`).digest();
  let id = "grt_";
  for (let i = 0; i < 24; i++) id += ID_ALPHABET[(digest[i] as number) % 32];
  return id;
}
const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/**
 * The answer to a retried `POST /grants`: the grant the first request opened, when the retry asks
 * for the same grant.
 *
 * @throws MercatoError `CONFLICT` when the key opened a grant with another agent, budget, life or buyer key.
 */
function replayedGrant(
  deps: BrokerDeps,
  grant: GrantRecord,
  body: { agent_id: string; budget_usd: string | number; ttl_s: number; buyer_public_key: string },
  reply: FastifyReply,
) {
  const same =
    grant.agentId === body.agent_id &&
    grant.budgetMicros === Number(parseUsd(body.budget_usd)) &&
    Date.parse(grant.expiresAt) - Date.parse(grant.issuedAt) === body.ttl_s * 1000 &&
    grant.buyerPublicKey === body.buyer_public_key;
  if (!same) {
    throw new MercatoError("CONFLICT", "This Idempotency-Key already opened a different grant", {
      details: { grant_id: grant.id },
    });
  }
  reply.header("idempotent-replayed", "true");
  return presentGrant(grant, deps.clock.now().toISOString());
}

/**
 * The grant, when the caller's account is its buyer (or, with `either`, the agent's owner);
 * another account's grant is answered as missing.
 */
async function partyGrant(
  deps: BrokerDeps,
  caller: AccessCaller,
  id: string,
  who: "buyer" | "either",
): Promise<GrantRecord> {
  const grant = await deps.store.getGrant(id);
  const account = caller.key.accountId;
  if (!grant || (grant.buyerId !== account && (who === "buyer" || grant.sellerAccountId !== account))) {
    throw new MercatoError("NOT_FOUND", `No grant ${id}`);
  }
  return grant;
}

/**
 * Verifies a voucher of `grant` (the buyer's key, the budget) and records it when it owes more
 * than the best so far.
 *
 * @throws MercatoError `UNAUTHENTICATED` (a forged or malformed voucher), `BUDGET_EXCEEDED` (over
 *   the budget), `CONFLICT` with reason `grant_settled` (a voucher that would have counted, too late).
 */
async function recordVoucher(
  deps: BrokerDeps,
  grant: GrantRecord,
  body: { sequence: number; owed_usd: string | number; signature: string },
): Promise<GrantRecord> {
  const owed = parseUsd(body.owed_usd);
  const voucher: GrantVoucherRecord = {
    sequence: body.sequence,
    owedMicros: owed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(owed) : Number.MAX_SAFE_INTEGER + 1,
    signature: body.signature,
  };
  await verifyVoucher(voucher, tokenPayload(grant));
  const recorded = await deps.store.recordGrantVoucher(grant.id, voucher);
  if (!recorded) throw new MercatoError("NOT_FOUND", `No grant ${grant.id}`);
  if (recorded.settlingMicros !== null && recorded.bestOwedMicros < voucher.owedMicros) {
    throw directError(
      "grant_settled",
      `Grant ${grant.id} was settled${recorded.settledAt ? ` at ${recorded.settledAt}` : ""}: ${formatUsd(recorded.settlingMicros)} USD was captured, and no voucher counts any more`,
      { grant_id: grant.id, captured_usd: formatUsd(recorded.settlingMicros) },
    );
  }
  return recorded;
}

/** The payload of the grant's own token, as the broker signed it. */
function tokenPayload(grant: GrantRecord): GrantPayloadValue {
  const payload = grant.token.split(".")[1] ?? "";
  return GrantPayload.parse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
}
