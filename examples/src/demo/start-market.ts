// Starting the market: the dev-mode broker, then the seven seller processes, each registered by the
// sellers' account with the schemas its seller kit serves, and the Pro's listing as the CLI shows it.
import { join } from "node:path";
import { type CreateAccountResponse, createClient, fetchKitContract, type MercatoClient } from "@mercato/sdk";
import { formatTable, percent, usd } from "../format-table.js";
import { withSchemas } from "../sellers/run-seller.js";
import type { DemoContext, Output } from "./context.js";
import { SELLERS, type SellerPlan } from "./market-plan.js";
import { childEnv, cliBin, type Resources, showAgent, startChild } from "./processes.js";

/** A seller of the demo, listening and registered. */
export interface ListedSeller {
  plan: SellerPlan;
  url: string;
  agentId: string;
}

/** The sellers' side of the market, every seller registered. */
export interface Sellers {
  /** The account that registered every listing: each seller kit serves only its listings. */
  account: CreateAccountResponse;
  /** That account's client. */
  client: MercatoClient;
  /** In the order of {@link SELLERS}. */
  agents: ListedSeller[];
  /** Each listing's name, by agent id. */
  agentName: Map<string, string>;
}

/** Starts the dev-mode broker on a SQLite file in the demo's directory; returns its URL. */
export async function startBroker(
  out: Output,
  resources: Resources,
  port: number,
  adminToken: string,
): Promise<string> {
  const broker = await startChild(
    "broker",
    cliBin(),
    [
      "broker",
      "start",
      "--dev",
      "--port",
      String(port),
      "--db",
      join(resources.dir, "mercato.db"),
      "--admin-token",
      adminToken,
      "--log-level",
      "warn",
    ],
    // The market's buyer accounts all sign up from this machine's address: no sign-up limit.
    childEnv({ MERCATO_SIGNUP_RATE_LIMIT: "0" }),
    resources,
  );
  const brokerUrl = broker.url;
  out.line(`   broker listening on ${brokerUrl} (dev mode, SQLite in ${resources.dir})`);
  return brokerUrl;
}

/**
 * Starts every seller process of {@link SELLERS} (the programs built next to the demo, in
 * `builtDir`) and registers each with the schemas its kit serves; a kit without both is a problem.
 */
export async function startSellers(
  { problems, brokerUrl, anonymous }: DemoContext,
  resources: Resources,
  builtDir: string,
): Promise<Sellers> {
  // The sellers' account first: each seller kit serves only this account's listings.
  const sellerAccount = await anonymous.accounts.create({ name: "Example Sellers" });
  const processes = await Promise.all(
    SELLERS.map((plan) =>
      startChild(
        plan.name,
        plan.program === "quickstart-seller"
          ? join(builtDir, "..", "quickstart-seller.mjs")
          : join(builtDir, "sellers", `${plan.program}.js`),
        [],
        childEnv({
          PORT: "0",
          MERCATO_URL: brokerUrl,
          MERCATO_OWNER: sellerAccount.account_id,
          SELLER_NAME: plan.name,
          SELLER_PRICE: plan.priceUsd,
          FAIL_RATE: plan.failRate,
          FAIL_AFTER_MS: String(plan.failAfterMs ?? 0),
        }),
        resources,
      ),
    ),
  );
  const seller = createClient({ baseUrl: brokerUrl, apiKey: sellerAccount.api_key });
  const agents: ListedSeller[] = [];
  for (const [index, plan] of SELLERS.entries()) {
    const url = processes[index]?.url ?? "";
    // What `mercato agents register --from-kit <url>` does: the schemas from the seller's kit.
    const contract = await fetchKitContract(url);
    const { agent_id } = await seller.agents.register(
      plan.manifest(url, {
        name: plan.name,
        pricing: { model: "per_call", price_per_call: plan.priceUsd },
        ...plan.overrides,
        ...withSchemas(contract),
      }),
    );
    if (contract.input_schema === null || contract.output_schema === null) {
      problems.push(`${plan.name}'s seller kit serves no input or output schema`);
    }
    agents.push({ plan, url, agentId: agent_id });
  }
  const agentName = new Map(agents.map((agent) => [agent.agentId, agent.plan.name]));
  return { account: sellerAccount, client: seller, agents, agentName };
}

/** Prints the sellers as a table, then the Pro's listing as `mercato agents show` prints it. */
export async function printSellers(
  { out, problems, brokerUrl }: DemoContext,
  agents: readonly ListedSeller[],
  resources: Resources,
): Promise<void> {
  out.line(
    `   seven seller processes from six programs, registered by the account "Example Sellers" with the input and\n` +
      "   output schemas each seller kit serves (GET <endpoint>/.well-known/mercato-contract, from its zod schemas):",
  );
  out.block(
    formatTable(
      [
        { title: "SELLER", cell: (a: (typeof agents)[number]) => a.plan.name },
        { title: "PROGRAM", cell: (a) => a.plan.program },
        { title: "PRICE", cell: (a) => usd(a.plan.priceUsd), right: true },
        { title: "FAILS", cell: (a) => percent(Number(a.plan.failRate)), right: true },
        { title: "AGENT", cell: (a) => a.agentId },
        { title: "LISTENING ON", cell: (a) => a.url },
      ],
      agents,
    ),
  );
  const proListing = agents.find((agent) => agent.plan.key === "pro");
  if (proListing !== undefined) {
    out.line(
      `   the Pro's listing, contract included, as \`mercato agents show ${proListing.agentId}\` prints it:`,
    );
    const shown = await showAgent(brokerUrl, proListing.agentId, resources.dir);
    out.block(shown.trimEnd(), "     ");
    if (!/\nOutput\n\s+FIELD\s+TYPE\s+REQUIRED\s+DESCRIPTION\n\s+source\s/.test(shown)) {
      problems.push("mercato agents show did not print the Pro's output schema");
    }
  }
}
