import { formatUsd, ListTransactionsQuery, MercatoError, parseUsd } from "@mercato/protocol";
import { z } from "zod";
import { FEE_PERCENT } from "../platform/http/figures.js";
import { type Route, routeDefiner } from "../platform/http/route.js";
import { receiptPayload } from "../signing/receipt-payload.js";
import type { LedgerDeps } from "./deps.js";
import type { ChargeRecord, LedgerStore } from "./port.js";
import { presentBalance, presentCharge } from "./presenters.js";

const TransactionParams = z.object({ id: z.string().max(200).describe("Transaction id") });
const DEFAULT_PAGE_SIZE = 20;
const defineRoute = routeDefiner<LedgerDeps>();

/** Balances, charges, receipts, spend caps and the ledger audit. */
export const ledgerRoutes: Route<LedgerDeps>[] = [
  defineRoute({
    method: "GET",
    url: "/balance",
    operationId: "getBalance",
    tag: "Billing",
    summary: "The account's balance",
    description: `Available = top-ups − charges − holds for calls in flight. Earnings are what the account's agents earned (after the ${FEE_PERCENT} fee) and have not been settled yet.`,
    auth: "account",
    success: { status: 200, schema: "Balance", description: "The balance" },
    async handler({ deps, caller }) {
      return presentBalance(await deps.store.getBalance(caller.account.id, deps.clock.now().toISOString()));
    },
  }),
  defineRoute({
    method: "PUT",
    url: "/accounts/me/limits",
    operationId: "setLimits",
    tag: "Billing",
    summary: "Set the monthly spend cap",
    description:
      "A hold that would take the calendar month's (UTC) captured charges plus holds in flight past the cap fails with SPEND_CAP_EXCEEDED. `null` removes the cap.",
    auth: "account",
    body: "SetLimitsRequest",
    success: { status: 200, schema: "Limits", description: "The limits now in force" },
    async handler({ deps, caller, body }) {
      const cap = body.monthly_cap_usd === null ? null : Number(parseUsd(body.monthly_cap_usd));
      await deps.store.setMonthlyCap(caller.account.id, cap);
      return { account_id: caller.account.id, monthly_cap_usd: cap === null ? null : formatUsd(cap) };
    },
  }),
  defineRoute({
    method: "GET",
    url: "/transactions",
    operationId: "listTransactions",
    tag: "Billing",
    summary: "List charges",
    description:
      "Charges the account paid (as buyer) or earned (as seller), newest first; `role` narrows to one side. Pages with `next_cursor`.",
    auth: "account",
    query: ListTransactionsQuery,
    success: { status: 200, schema: "TransactionList", description: "A page of charges" },
    async handler({ deps, caller, query }) {
      const page = await deps.store.listCharges(caller.account.id, {
        limit: query.limit ?? DEFAULT_PAGE_SIZE,
        ...(query.role !== undefined && { role: query.role }),
        ...(query.cursor !== undefined && { cursor: query.cursor }),
      });
      return { data: page.charges.map(presentCharge), next_cursor: page.nextCursor };
    },
  }),
  defineRoute({
    method: "GET",
    url: "/transactions/:id",
    operationId: "getTransaction",
    tag: "Billing",
    summary: "Get a charge",
    description:
      "A Transaction (id, buyer, seller agent, display amount, currency, status, creation time) plus the exact amounts, fee and seller share. Buyer or seller only.",
    auth: "account",
    params: TransactionParams,
    errors: ["NOT_FOUND"],
    success: { status: 200, schema: "TransactionDetail", description: "The charge" },
    async handler({ deps, caller, params }) {
      return presentCharge(await visibleCharge(deps.store, caller.account.id, params.id));
    },
  }),
  defineRoute({
    method: "GET",
    url: "/transactions/:id/receipt",
    operationId: "getReceipt",
    tag: "Billing",
    summary: "A charge's signed receipt",
    description:
      "The captured charge signed by the broker's Ed25519 key as a compact JWS. Verify it offline with the keys at /.well-known/jwks.json (`verifyReceipt` in @mercato/protocol).",
    auth: "account",
    params: TransactionParams,
    errors: ["NOT_FOUND", "CONFLICT"],
    success: { status: 200, schema: "Receipt", description: "The receipt" },
    async handler({ deps, caller, params }) {
      const charge = await visibleCharge(deps.store, caller.account.id, params.id);
      if (charge.status !== "completed" || charge.resolvedAt === null) {
        throw new MercatoError(
          "CONFLICT",
          `Transaction ${charge.id} is ${charge.status}: only captured charges have receipts`,
        );
      }
      return deps.signer.sign(receiptPayload({ ...charge, resolvedAt: charge.resolvedAt }));
    },
  }),
  defineRoute({
    method: "GET",
    url: "/.well-known/jwks.json",
    operationId: "getJwks",
    tag: "Billing",
    summary: "The broker's public signing keys",
    description: "Ed25519 keys (JWK) that verify receipts and, in direct mode, grants.",
    auth: "none",
    success: { status: 200, schema: "Jwks", description: "The key set" },
    async handler({ deps }) {
      return deps.signer.jwks();
    },
  }),
  defineRoute({
    method: "GET",
    url: "/admin/audit",
    operationId: "auditLedger",
    tag: "Admin",
    summary: "Audit the ledger",
    description:
      "Proves the ledger's invariants: balances sum to zero, each balance equals its transfers, no wallet is negative, no hold resolved twice, money in − payouts = wallets + earnings + revenue, and each charge matches its transfers. Lists every violation.",
    auth: "admin",
    success: { status: 200, schema: "AuditReport", description: "The audit" },
    async handler({ deps }) {
      const report = await deps.store.audit();
      if (!report.ok) deps.log.error({ violations: report.violations }, "ledger audit found violations");
      return {
        ok: report.ok,
        checked_at: deps.clock.now().toISOString(),
        accounts: report.accounts,
        transfers: report.transfers,
        totals: {
          topped_up_usd: formatUsd(report.totals.toppedUp),
          paid_out_usd: formatUsd(report.totals.paidOut),
          wallets_usd: formatUsd(report.totals.wallets),
          held_usd: formatUsd(report.totals.held),
          earnings_usd: formatUsd(report.totals.earnings),
          revenue_usd: formatUsd(report.totals.revenue),
        },
        violations: report.violations,
      };
    },
  }),
];

async function visibleCharge(store: LedgerStore, accountId: string, id: string): Promise<ChargeRecord> {
  const charge = await store.getCharge(id);
  // Someone else's charge is reported as missing: ids are not confirmed to strangers.
  if (!charge || (charge.buyerId !== accountId && charge.sellerAccountId !== accountId)) {
    throw new MercatoError("NOT_FOUND", `No transaction ${id} on this account`);
  }
  return charge;
}
