import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { formatTable, usd, when } from "../output/format.js";
import { action } from "../runtime.js";

/** Adds `settlements`: a seller's earnings paid out, one per date. */
export function addSettlementsCommand(program: Command, context: CliContext): void {
  program
    .command("settlements")
    .summary("List your payouts (a seller's earnings, settled nightly)")
    .description(
      "List your payouts, newest first. Each night after 00:00 UTC a seller's earnings become a\n" +
        "settlement, paid to the Stripe account set for payouts; failed ones are retried.",
    )
    .addHelpText("after", "\nExamples:\n  $ mercato settlements\n  $ mercato settlements --json")
    .action(
      action(context, async (runtime) => {
        const client = await runtime.client({ needKey: true });
        const settlements = await runtime.wait("Reading settlements", client.settlements.list());
        runtime.print(settlements, () => {
          if (settlements.data.length === 0) {
            return "No settlements yet: earnings are settled each night after 00:00 UTC (see `mercato balance`).";
          }
          const { style } = runtime;
          return formatTable(
            [
              { title: "SETTLEMENT" },
              { title: "DATE" },
              { title: "AMOUNT", align: "right" },
              { title: "STATUS" },
              { title: "PAID" },
              { title: "REFERENCE" },
            ],
            settlements.data.map((settlement) => [
              settlement.settlement_id,
              settlement.settlement_date,
              usd(settlement.amount_usd),
              settlement.status === "paid"
                ? style.green("paid")
                : settlement.status === "failed"
                  ? style.red("failed")
                  : style.yellow("pending"),
              when(settlement.paid_at),
              settlement.failure ?? settlement.provider_ref ?? settlement.provider,
            ]),
            style,
          );
        });
      }),
    );
}
