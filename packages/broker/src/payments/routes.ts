import { formatUsd, MercatoError, MIN_TOPUP_MICROS, parseUsd } from "@mercato/protocol";
import { z } from "zod";
import type { TopupRecord } from "../ledger/port.js";
import { usdFigure } from "../platform/http/figures.js";
import { type Route, routeDefiner } from "../platform/http/route.js";
import { newId } from "../platform/ids.js";
import { isWholeCents } from "./cents.js";
import type { PaymentsDeps } from "./deps.js";
import { presentPayoutAccount, presentSettlement, presentTopup } from "./presenters.js";
import type { CheckoutResult } from "./provider.js";
import { payoutProviderOf, runSettlements, utcDate } from "./settlements.js";

const defineRoute = routeDefiner<PaymentsDeps>();

const TopupParams = z.object({ id: z.string().max(64).describe("Top-up id (topup_…)") });

const SettlementRunQuery = z.strictObject({
  date: z.iso
    .date()
    .optional()
    .describe("Settlement date, YYYY-MM-DD (UTC); today by default, never in the future"),
});

/** Top-ups (money in), settlements (money out) and where a seller is paid. */
export const paymentRoutes: Route<PaymentsDeps>[] = [
  defineRoute({
    method: "POST",
    url: "/topups",
    operationId: "createTopup",
    tag: "Billing",
    summary: "Top up the wallet",
    description: `Starts a top-up of at least ${usdFigure(MIN_TOPUP_MICROS)} USD, in whole cents. With Stripe, answers a pending top-up with the Checkout URL to pay at; the wallet is credited once Stripe confirms the payment (webhook). In dev mode without Stripe, the dev provider credits at once and says so in \`note\`. Without a payment provider, answers 503.`,
    auth: "account",
    body: "CreateTopupRequest",
    errors: ["TOPUP_TOO_SMALL", "SERVICE_UNAVAILABLE", "PAYMENT_PROVIDER_ERROR"],
    success: { status: 201, schema: "Topup", description: "The top-up, pending or (dev) credited" },
    async handler({ deps, caller, body }) {
      const micros = parseUsd(body.amount_usd);
      if (micros < MIN_TOPUP_MICROS) {
        throw new MercatoError(
          "TOPUP_TOO_SMALL",
          `The smallest top-up is ${formatUsd(MIN_TOPUP_MICROS)} USD; got ${formatUsd(micros)}`,
          { details: { minimum_usd: formatUsd(MIN_TOPUP_MICROS), amount_usd: formatUsd(micros) } },
        );
      }
      const amount = Number(micros);
      if (!isWholeCents(amount)) {
        const message = "must be a whole number of cents (at most 2 decimal places): payments move cents";
        throw new MercatoError("VALIDATION_ERROR", `Invalid body: amount_usd: ${message}`, {
          details: { issues: [{ path: "amount_usd", message }] },
        });
      }
      const provider = deps.payments;
      if (!provider) {
        throw new MercatoError(
          "SERVICE_UNAVAILABLE",
          "Top-ups are off on this broker: it has no payment provider. The operator sets STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET to take payments with Stripe (or starts the broker with --dev to credit test top-ups at once).",
        );
      }
      const id = newId("topup");
      let checkout: CheckoutResult;
      try {
        checkout = await provider.createCheckout({
          topupId: id,
          accountId: caller.account.id,
          amountMicros: amount,
        });
      } catch (error) {
        if (error instanceof MercatoError) throw error;
        throw new MercatoError("PAYMENT_PROVIDER_ERROR", `The payment provider (${provider.name}) failed`, {
          cause: error,
        });
      }
      // Stored only once the provider has the checkout: a buyer can only pay a checkout whose URL
      // this answer returns, so there is never a payment without its top-up.
      const topup: TopupRecord = {
        id,
        accountId: caller.account.id,
        amount,
        provider: provider.name,
        providerRef: checkout.providerRef,
        checkoutUrl: checkout.checkoutUrl,
        status: "pending",
        createdAt: deps.clock.now().toISOString(),
        completedAt: null,
      };
      await deps.store.insertTopup(topup);
      const final = checkout.completed
        ? (await deps.store.completeTopup(id, deps.clock.now().toISOString()))?.topup
        : topup;
      return presentTopup(final ?? topup, checkout.note);
    },
  }),
  defineRoute({
    method: "GET",
    url: "/topups/:id",
    operationId: "getTopup",
    tag: "Billing",
    summary: "Get a top-up",
    description: "A top-up of the calling account: pending until the provider confirms it, then succeeded.",
    auth: "account",
    params: TopupParams,
    errors: ["NOT_FOUND"],
    success: { status: 200, schema: "Topup", description: "The top-up" },
    async handler({ deps, caller, params }) {
      const topup = await deps.store.getTopup(params.id);
      // Another account's top-up is reported as missing: ids are not confirmed to strangers.
      if (!topup || topup.accountId !== caller.account.id) {
        throw new MercatoError("NOT_FOUND", `No top-up ${params.id} on this account`);
      }
      return presentTopup(topup);
    },
  }),
  defineRoute({
    method: "GET",
    url: "/settlements",
    operationId: "listSettlements",
    tag: "Billing",
    summary: "List the account's settlements",
    description:
      "The seller's payouts, newest settlement date first: each moved the earnings of its date out of the ledger. `pending` or `failed` ones (with the reason in `failure`) are retried by every settlement run.",
    auth: "account",
    success: { status: 200, schema: "SettlementList", description: "The settlements" },
    async handler({ deps, caller }) {
      return { data: (await deps.store.listSettlements(caller.account.id)).map(presentSettlement) };
    },
  }),
  defineRoute({
    method: "GET",
    url: "/accounts/me/payout",
    operationId: "getPayoutAccount",
    tag: "Billing",
    summary: "Where the account's settlements are paid",
    auth: "account",
    success: { status: 200, schema: "PayoutAccount", description: "The payout account" },
    async handler({ deps, caller }) {
      const stripe = await deps.store.getPayoutDestination(caller.account.id, "stripe");
      return presentPayoutAccount(caller.account.id, stripe);
    },
  }),
  defineRoute({
    method: "PUT",
    url: "/accounts/me/payout",
    operationId: "setPayoutAccount",
    tag: "Billing",
    summary: "Set where the account's settlements are paid",
    description:
      "The seller's Stripe account connected to this marketplace (acct_…), where settlements are transferred when the broker pays out through Stripe Connect; null removes it. Until one is set, Stripe payouts fail with a note and are retried by every settlement run.",
    auth: "account",
    body: "SetPayoutAccountRequest",
    success: { status: 200, schema: "PayoutAccount", description: "The payout account now in force" },
    async handler({ deps, caller, body }) {
      const updatedAt = deps.clock.now().toISOString();
      await deps.store.setPayoutDestination({
        accountId: caller.account.id,
        provider: "stripe",
        destination: body.stripe_account_id,
        updatedAt,
      });
      const stripe = await deps.store.getPayoutDestination(caller.account.id, "stripe");
      return presentPayoutAccount(caller.account.id, stripe);
    },
  }),
  defineRoute({
    method: "POST",
    url: "/admin/settlements/run",
    operationId: "runSettlements",
    tag: "Admin",
    summary: "Run the settlement",
    description:
      "Moves each seller's earnings into a settlement for the date (once per seller per date) and pays every unpaid settlement: through Stripe Connect when Stripe is configured, otherwise recorded by the manual (or dev) provider for the operator to pay. The broker also runs it daily just after midnight UTC.",
    auth: "admin",
    query: SettlementRunQuery,
    success: { status: 200, schema: "SettlementRun", description: "What the run created and paid" },
    async handler({ deps, query, request }) {
      const today = utcDate(deps.clock.now());
      const date = query.date ?? today;
      if (date > today) {
        const message = `must not be in the future (today is ${today} UTC)`;
        throw new MercatoError("VALIDATION_ERROR", `Invalid query: date: ${message}`, {
          details: { issues: [{ path: "date", message }] },
        });
      }
      const run = await runSettlements({
        store: deps.store,
        clock: deps.clock,
        provider: payoutProviderOf(deps.payments),
        log: request.log,
        date,
      });
      return {
        settlement_date: run.date,
        created: run.created,
        paid: run.paid,
        failed: run.failed,
        settlements: run.settlements.map(presentSettlement),
      };
    },
  }),
];
