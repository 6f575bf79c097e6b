import { formatUsd, MAX_USAGE_REPORTS, MercatoError, parseUsd } from "@mercato/protocol";
import { z } from "zod";
import { enforceRateLimit } from "../invoke/gates.js";
import { FEE_PERCENT, figure } from "../platform/http/figures.js";
import { type Route, routeDefiner } from "../platform/http/route.js";
import { DEFAULT_GRANT_GRACE_MS } from "../platform/settings.js";
import type { GrantsDeps } from "./deps.js";
import { openGrant } from "./open-grant.js";
import type { GrantRecord } from "./port.js";
import { presentGrant } from "./presenters.js";
import { callOutcomesOf, claimsOf } from "./reports.js";
import { partyGrant, recordVoucher } from "./vouchers.js";

const defineRoute = routeDefiner<GrantsDeps>();

const GrantParams = z.object({ id: z.string().max(100).describe("Grant id (grt_…)") });
/**
 * Redemptions one grant may take per minute: the seller kit redeems a grant every 30 s and once
 * more near its expiry. The route needs no key, so this bounds the signature checks anyone can make
 * the broker do against one grant.
 */
const REDEMPTIONS_PER_MINUTE = 120;

const GRACE_S = figure(DEFAULT_GRANT_GRACE_MS / 1000);

const DIRECT_DOC =
  "Direct mode (docs/direct-mode.md): the SDK calls the seller itself, paying up front with vouchers signed by a key it made for the grant (each call's voucher pays for the successes before it and for that call); the broker holds the budget, and captures the highest claim when the grant settles: what the seller earned by its count, bounded by the buyer's voucher, or the buyer's final voucher.";

/** Direct mode: grants, redemptions, closing, usage reports. */
export const grantRoutes: Route<GrantsDeps>[] = [
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
      `Send each direct call to \`endpoint\` with the headers \`Mercato-Grant: <token>\` and \`Mercato-Voucher: seq=<n>;owed=<micros>;sig=<signature>\`, the voucher owing \`price × (successes so far + 1)\`: the first call's voucher owes the price, and a voucher owing 0 is refused. Close the grant with \`POST /grants/{id}/close\` when you are done: what you did not spend is released once it settles, a grace period (the broker's \`--grant-grace\`, ${GRACE_S} s by default) after the close or the expiry.`,
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
    handler: ({ deps, caller, body, request, reply }) => openGrant(deps, caller.key, body, request, reply),
  }),
  defineRoute({
    method: "GET",
    url: "/grants/:id",
    operationId: "getGrant",
    tag: "Direct",
    summary: "A grant: its status, what was redeemed and what was captured",
    description:
      "For the grant's buyer and the agent's owner (any of their keys; an access key only for grants of its own agent). Any other grant is NOT_FOUND.",
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
      `The seller kit calls this in batches with the highest voucher it received and \`earned_usd\`, what it earned by its own count: the price of its successful calls, at most what the voucher owes (vouchers are prepaid, so the voucher of a call that failed owes one price more than was earned; a larger claim is a VALIDATION_ERROR). No API key is needed: a voucher signed by the grant's buyer key pays the grant's seller and no one else. The broker verifies the voucher and keeps the claim when it is above every claim recorded so far; a lower one changes nothing (a replay gains nothing). Redeeming records; the money moves once, when the grant settles. A grant takes at most ${figure(REDEMPTIONS_PER_MINUTE)} redemptions a minute (RATE_LIMITED). The answer's \`status\` tells the kit whether the buyer closed the grant (stop serving it). After settlement a redemption answers CONFLICT with \`details.reason\` \`grant_settled\`.`,
    ].join("\n"),
    auth: "none",
    params: GrantParams,
    body: "RedeemGrantRequest",
    errors: ["NOT_FOUND", "UNAUTHENTICATED", "BUDGET_EXCEEDED", "CONFLICT", "RATE_LIMITED"],
    success: { status: 200, schema: "Grant", description: "The grant as it stands" },
    async handler({ deps, params, body, reply }) {
      const owed = parseUsd(body.owed_usd);
      const earned = parseUsd(body.earned_usd);
      if (earned > owed) {
        throw new MercatoError(
          "VALIDATION_ERROR",
          `earned_usd (${formatUsd(earned)}) is more than the voucher owes (${formatUsd(owed)}): a seller claims at most what the buyer signed`,
          {
            details: {
              issues: [{ path: "earned_usd", message: `must be at most owed_usd, ${formatUsd(owed)}` }],
            },
          },
        );
      }
      const grant = await deps.store.getGrant(params.id);
      if (!grant) throw new MercatoError("NOT_FOUND", `No grant ${params.id}`);
      await enforceRateLimit(
        deps,
        { id: `redeem:${grant.id}`, rateLimit: REDEMPTIONS_PER_MINUTE },
        reply,
        "Redemptions of this grant",
      );
      const recorded = await recordVoucher(deps, grant, body, earned);
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
      `Send your final voucher (a sequence above your last call's, owing \`price × successes\`: every successful call and nothing more, so not the prepayment of a failed last call), or an empty body when nothing is owed. The broker records it as your claim and marks the grant closed; it settles a grace period later (the broker's \`--grant-grace\`, ${GRACE_S} s by default), so that the seller's last redemptions still count: it captures the highest claim recorded — the seller's earnings (each at most its voucher) or your final voucher — never above the budget, pays the seller its share less the ${FEE_PERCENT} fee, and releases the rest of the budget. Closing again answers the grant as it stands.`,
      "",
      "Authenticate as the buyer: one of your account keys, or the access key of the grant's agent. Any other grant, including one of your account on another agent than the access key's, is NOT_FOUND and stays as it is.",
    ].join("\n"),
    auth: "key",
    params: GrantParams,
    body: "CloseGrantRequest",
    errors: ["NOT_FOUND", "UNAUTHENTICATED", "BUDGET_EXCEEDED", "CONFLICT"],
    success: { status: 200, schema: "Grant", description: "The grant, closed" },
    async handler({ deps, caller, params, body }) {
      let grant = await partyGrant(deps, caller, params.id, "buyer");
      if (body.sequence !== undefined && body.owed_usd !== undefined && body.signature !== undefined) {
        // The buyer's final voucher claims all it owes: price × the successes the buyer saw.
        grant = await recordVoucher(
          deps,
          grant,
          { sequence: body.sequence, owed_usd: body.owed_usd, signature: body.signature },
          parseUsd(body.owed_usd),
        );
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
      `The broker never sees direct calls, so the SDK (the buyer's key) and the seller kit (the agent owner's key) report their outcomes in batches of up to ${figure(MAX_USAGE_REPORTS)}. A call, named by its grant and voucher sequence, has one outcome, and counts toward the agent's success rate and response times only as far as the protocol shows it happened:`,
      "",
      "- A success counts only while the grant's vouchers pay for it: a grant counts at most `floor(paid / price)` successes, paid being what its settlement captures (the seller's redeemed voucher, the buyer's final one). A success not paid yet is kept (`pending`) and counts once a voucher pays for it.",
      "- The seller's report decides a call's outcome: it replaces the buyer's report of the same call, and a buyer's success counts only once the grant settled without the seller's report of that call.",
      "- Failures and client errors (`outcome: client_error`, input the seller kit refused as invalid: counted apart, never as a failure) count from the seller's side only, up to `floor(budget / price)` each. A buyer's failure report is ignored: it would cost nothing to forge. The broker measures failures through proxied calls and health checks.",
      "",
      "Not counted (`ignored`): a call already decided, a buyer's failure or client error, reports for grants the caller is not a party to or that name another agent (an access key reports only on its own agent's grants), calls between accounts of one owner, reports arriving more than a day after the grant settled, and past the caps above. Reports are rate-limited like calls.",
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
      const claims = claimsOf(body.reports, grants, caller.key, deps.clock.now());
      const { verdicts, counted } = await deps.store.countGrantReports(claims.map(({ claim }) => claim));
      for (const outcome of callOutcomesOf(counted)) deps.invoke.outcomes.record(outcome);
      const accepted = verdicts.filter((verdict) => verdict === "counted").length;
      const pending = verdicts.filter((verdict) => verdict === "pending").length;
      return { accepted, pending, ignored: body.reports.length - accepted - pending };
    },
  }),
];
