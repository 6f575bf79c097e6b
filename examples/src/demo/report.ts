// The demo's report: the ranking as search serves it, the money (the buyer's charges, every charge
// by price with its fee, the seller's earnings, each checked against the others) and the ledger audit.
import { formatUsd, parseUsd, splitCharge } from "@mercato/protocol";
import type { MercatoClient, SearchResult } from "@mercato/sdk";
import type { BuyerAgentReport } from "../buyer-agent.js";
import { formatTable, percent, successText, usd } from "../format-table.js";
import { METRICS_TIMEOUT_MS, type RankedResult, rankedSuccess, waitFor } from "./broker-metrics.js";
import type { DemoContext } from "./context.js";
import { SUMMARIZER_HISTORY } from "./market-plan.js";
import type { ListedSeller } from "./start-market.js";

/** A completed charge as the demo adds it up. */
interface Charge {
  agentId: string;
  amount: bigint;
  fee: bigint;
  share: bigint;
}

async function completedCharges(client: MercatoClient, role: "buyer" | "seller"): Promise<Charge[]> {
  const charges: Charge[] = [];
  for await (const txn of client.transactions.list({ role, limit: 100 })) {
    if (txn.status !== "completed") continue;
    charges.push({
      agentId: txn.seller_id,
      amount: parseUsd(txn.amount_usd),
      fee: parseUsd(txn.fee_usd),
      share: parseUsd(txn.seller_share_usd),
    });
  }
  return charges;
}

const sum = (values: readonly bigint[]) => values.reduce((total, value) => total + value, 0n);

/**
 * Prints the crypto listings by cost per success once the buyer agent's calls (`report`) and the
 * README's call (answered by `readmeAgentId`) are in the metrics; the new Lite must rank below the Pro.
 */
export async function printRanking(
  { out, problems, anonymous }: DemoContext,
  agents: readonly ListedSeller[],
  report: BuyerAgentReport,
  readmeAgentId: string,
): Promise<void> {
  const pro = agents.find((agent) => agent.plan.key === "pro");
  // Wait until the buyer's own calls are in the metrics too, so that the table adds up.
  const proCalls =
    SUMMARIZER_HISTORY +
    (report.answeredBy[pro?.agentId ?? ""] ?? 0) +
    (readmeAgentId === pro?.agentId ? 1 : 0);
  let ranking: SearchResult[] = [];
  try {
    await waitFor("the buyer's calls in the metrics", METRICS_TIMEOUT_MS, async () => {
      ranking = (await anonymous.agents.search({ category: "crypto", sort: "cost_per_success", limit: 20 }))
        .results;
      return ranking.find((agent) => agent.agent_id === pro?.agentId)?.total_calls === proCalls
        ? true
        : undefined;
    });
  } catch (error) {
    out.line(`   (${(error as Error).message}; showing the figures as they are)`);
  }
  out.block(
    formatTable(
      [
        { title: "#", cell: (a: SearchResult) => String(ranking.indexOf(a) + 1), right: true },
        { title: "SELLER", cell: (a) => a.name },
        { title: "PRICE", cell: (a) => usd(String(a.price_per_call)), right: true },
        { title: "CALLS", cell: (a) => String(a.total_calls), right: true },
        { title: "SUCCESS", cell: (a) => successText(a as RankedResult), right: true },
        {
          title: "RANKED",
          cell: (a) => {
            // A listing without calls has only the prior here: "new", not a made-up rate.
            if (a.total_calls === 0) return "new";
            const rate = rankedSuccess(a as RankedResult);
            return rate === null ? "—" : percent(rate);
          },
          right: true,
        },
        { title: "COST/SUCCESS", cell: (a) => `$${a.cost_per_success.toFixed(4)}`, right: true },
        { title: "TRUST", cell: (a) => a.trust_score.toFixed(3), right: true },
      ],
      ranking,
    ),
  );
  out.line('   SUCCESS is measured: successes / calls over 30 days, "new" for a listing with no calls yet.');
  out.line(
    "   RANKED = (weighted successes + 19) / (weighted calls + 20), each buyer's calls capped as above;",
  );
  out.line(
    "   COST/SUCCESS divides the price by a conservative estimate of the success rate: a new listing is not",
  );
  out.line("   ranked on a prior alone. CALLS counts every call.");
  const lite = ranking.findIndex(
    (agent) => agent.agent_id === agents.find((a) => a.plan.key === "lite")?.agentId,
  );
  const proRank = ranking.findIndex((agent) => agent.agent_id === pro?.agentId);
  if (lite !== -1 && proRank !== -1 && lite < proRank) {
    problems.push("the new Lite summarizer, with no calls, ranks above the proven Pro");
  }
}

/**
 * Prints the buyer's charges and every seller charge by price, and checks that they match what
 * the buyer paid, that each fee is floor(charge × 10%) and that the seller earned charges − fees.
 */
export async function printMoney(
  { out, problems }: DemoContext,
  buyer: MercatoClient,
  seller: MercatoClient,
  report: BuyerAgentReport,
  agentName: ReadonlyMap<string, string>,
): Promise<void> {
  const buyerCharges = await completedCharges(buyer, "buyer");
  const buyerTotal = sum(buyerCharges.map((charge) => charge.amount));
  const buyerFees = sum(buyerCharges.map((charge) => splitCharge(charge.amount).fee));
  out.line(
    `   buyer charges: ${buyerCharges.length} charges, total ${formatUsd(buyerTotal)} USD` +
      ` (fees ${formatUsd(buyerFees)}, to the seller ${formatUsd(buyerTotal - buyerFees)})`,
  );
  if (buyerTotal !== parseUsd(report.paidUsd) || buyerCharges.length !== report.succeeded) {
    problems.push(
      `the buyer's charges (${buyerCharges.length}, ${formatUsd(buyerTotal)}) differ from what it paid (${report.succeeded}, ${report.paidUsd})`,
    );
  }
  const sellerCharges = await completedCharges(seller, "seller");
  const byPrice = new Map<bigint, Charge[]>();
  for (const charge of sellerCharges) {
    byPrice.set(charge.amount, [...(byPrice.get(charge.amount) ?? []), charge]);
    const { fee, sellerShare } = splitCharge(charge.amount);
    if (fee !== charge.fee || sellerShare !== charge.share) {
      problems.push(
        `a charge of ${formatUsd(charge.amount)} has fee ${formatUsd(charge.fee)}, expected ${formatUsd(fee)}`,
      );
    }
  }
  const rows = [...byPrice]
    .sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0))
    .map(([price, charges]) => ({
      price,
      count: charges.length,
      fee: splitCharge(price).fee,
      charged: sum(charges.map((charge) => charge.amount)),
      fees: sum(charges.map((charge) => splitCharge(charge.amount).fee)),
      sellers: [...new Set(charges.map((charge) => agentName.get(charge.agentId) ?? charge.agentId))],
    }));
  const charged = sum(rows.map((row) => row.charged));
  const fees = sum(rows.map((row) => row.fees));
  out.line(
    `   seller side, every charge of every buyer; fee = floor(charge × 10%), the seller keeps the rest:`,
  );
  out.block(
    formatTable(
      [
        { title: "PRICE", cell: (r: (typeof rows)[number]) => usd(r.price), right: true },
        { title: "FEE EACH", cell: (r) => usd(r.fee, 4), right: true },
        { title: "CHARGES", cell: (r) => String(r.count), right: true },
        { title: "CHARGED", cell: (r) => usd(r.charged), right: true },
        { title: "FEES", cell: (r) => usd(r.fees), right: true },
        { title: "SELLER GETS", cell: (r) => usd(r.charged - r.fees), right: true },
        { title: "AGENT", cell: (r) => r.sellers.join(", ") },
      ],
      rows,
    ),
  );
  const balance = await seller.balance();
  const earnings = parseUsd(balance.earnings_usd);
  const matches = earnings === charged - fees;
  out.line(
    `   seller earnings: ${formatUsd(earnings)} USD = charges ${formatUsd(charged)} − fees ${formatUsd(fees)}` +
      ` (${sellerCharges.length} charges; the seller account's balance) ${matches ? "✓" : "✗"}`,
  );
  if (!matches)
    problems.push(`seller earnings ${formatUsd(earnings)} ≠ charges − fees ${formatUsd(charged - fees)}`);
}

/** Prints the broker's ledger audit (`/admin/audit`); an audit that is not clean is a problem. */
export async function printAudit(
  { out, problems, brokerUrl }: DemoContext,
  adminToken: string,
): Promise<void> {
  const response = await fetch(`${brokerUrl}/admin/audit`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  const audit = (await response.json()) as {
    ok?: boolean;
    accounts?: number;
    transfers?: number;
    totals?: Record<string, string>;
    violations?: { rule: string; detail: string }[];
  };
  const totals = audit.totals ?? {};
  if (response.ok && audit.ok === true) {
    out.line(`   audit: clean (${audit.accounts} accounts, ${audit.transfers} transfers, no violations)`);
    out.line(
      `   money in ${totals.topped_up_usd} − paid out ${totals.paid_out_usd}` +
        ` = wallets ${totals.wallets_usd} + earnings ${totals.earnings_usd} + revenue ${totals.revenue_usd}`,
    );
  } else {
    out.line(`   audit: NOT clean (HTTP ${response.status})`);
    for (const violation of audit.violations ?? []) out.line(`     ${violation.rule}: ${violation.detail}`);
    problems.push("the ledger audit is not clean");
  }
}
