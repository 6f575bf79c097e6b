import type { TransactionDetail } from "@mercato/sdk";
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { UsageError } from "../errors.js";
import { formatTable, type Style, usd, when } from "../output/format.js";
import { parseInteger } from "../parse.js";
import { action } from "../runtime.js";

interface TransactionsFlags {
  limit: string;
  role?: string;
}

/** The broker's largest page. */
const PAGE = 100;

/** Adds `transactions`: the account's charges, newest first, as buyer and as seller. */
export function addTransactionsCommand(program: Command, context: CliContext): void {
  program
    .command("transactions")
    .description("List charges, newest first: what you paid as a buyer and earned as a seller")
    .option("--limit <n>", "how many, 1 to 10000", "20")
    .option("--role <role>", "only charges you paid (buyer) or earned (seller)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ mercato transactions\n  $ mercato transactions --role seller --limit 100 --json",
    )
    .action(
      action(context, async (runtime, flags: TransactionsFlags) => {
        const limit = parseInteger("--limit", flags.limit, 1, 10_000);
        if (flags.role !== undefined && flags.role !== "buyer" && flags.role !== "seller") {
          throw new UsageError(`--role must be buyer or seller, got "${flags.role}"`);
        }
        const role = flags.role as "buyer" | "seller" | undefined;
        const client = await runtime.client({ needKey: true });
        const charges: TransactionDetail[] = [];
        const reading = (async () => {
          for await (const charge of client.transactions.list({
            limit: Math.min(limit, PAGE),
            ...(role !== undefined && { role }),
          })) {
            charges.push(charge);
            if (charges.length === limit) break;
          }
          return client.accounts.me();
        })();
        const me = await runtime.wait("Reading transactions", reading);
        runtime.print({ data: charges }, () => transactionsTable(charges, me.account_id, runtime.style));
      }),
    );
}

function transactionsTable(charges: readonly TransactionDetail[], accountId: string, style: Style): string {
  if (charges.length === 0) return "No transactions yet.";
  const rows = charges.map((charge) => {
    const paid = charge.buyer_id === accountId;
    const status =
      charge.status === "completed"
        ? style.green("charged")
        : charge.status === "voided"
          ? style.dim("voided")
          : style.yellow("pending");
    return [
      charge.id,
      when(charge.created_at),
      charge.seller_id,
      paid ? "paid" : "earned",
      status,
      charge.status === "completed" ? usd(charge.amount_usd) : usd(charge.held_usd),
      usd(charge.fee_usd),
      usd(charge.seller_share_usd),
    ];
  });
  return formatTable(
    [
      { title: "TRANSACTION" },
      { title: "TIME" },
      { title: "AGENT" },
      { title: "ROLE" },
      { title: "STATUS" },
      { title: "AMOUNT", align: "right" },
      { title: "FEE", align: "right" },
      { title: "SELLER GETS", align: "right" },
    ],
    rows,
    style,
  );
}
