import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { formatFields, usd } from "../output/format.js";
import { action } from "../runtime.js";

/** Adds `balance`: what the account can spend, has on hold and has earned. */
export function addBalanceCommand(program: Command, context: CliContext): void {
  program
    .command("balance")
    .description("Show the wallet: available to spend, held for calls in flight, earnings not yet settled")
    .addHelpText(
      "after",
      "\nExamples:\n  $ mercato balance\n  $ mercato balance --json | jq -r .available_usd",
    )
    .action(
      action(context, async (runtime) => {
        const client = await runtime.client({ needKey: true });
        const balance = await runtime.wait("Reading the balance", client.balance());
        runtime.print(balance, () => {
          const cap =
            balance.monthly_cap_usd === null
              ? `none (spent ${usd(balance.spent_this_month_usd)} this month)`
              : `${usd(balance.monthly_cap_usd)} (spent ${usd(balance.spent_this_month_usd)} this month)`;
          return formatFields(
            [
              ["available", runtime.style.bold(usd(balance.available_usd))],
              ["held", usd(balance.held_usd)],
              ["earnings", usd(balance.earnings_usd)],
              ["monthly cap", cap],
            ],
            runtime.style,
          );
        });
      }),
    );
}
